// The one SecretBox of both functions (api and ingest), keyed from configuration: everything
// that encrypts, decrypts or fingerprints a provider key uses this.
import { env } from "./env.ts";
import { SecretBox } from "./secrets.ts";

const box = SecretBox.fromBase64(env.encryptionKey);

export const secretBox = (): Promise<SecretBox> => box;
