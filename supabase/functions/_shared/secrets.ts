// Provider keys at rest: AES-256-GCM with a key from configuration, a fresh 96-bit nonce per
// secret. Stored as "v1:<base64 nonce>:<base64 ciphertext+tag>" so the scheme can change later.
// The fingerprint is an HMAC of the key under the same secret, so equal keys can be found
// without storing anything that can be brute-forced offline.
import { decodeBase64, encodeBase64 } from "./base64.ts";

export class SecretBox {
  private constructor(private readonly aes: CryptoKey, private readonly hmac: CryptoKey) {}

  static async fromBase64(keyBase64: string): Promise<SecretBox> {
    const raw = decodeBase64(keyBase64);
    if (raw.length !== 32) throw new Error("PROVIDER_KEY_ENCRYPTION_KEY must be base64 of exactly 32 bytes");
    const aes = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    const hmac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new SecretBox(aes, hmac);
  }

  async encrypt(plaintext: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.aes, new TextEncoder().encode(plaintext));
    return `v1:${encodeBase64(iv)}:${encodeBase64(new Uint8Array(sealed))}`;
  }

  async decrypt(stored: string): Promise<string> {
    const [version, iv, sealed] = stored.split(":");
    if (version !== "v1" || !iv || !sealed) throw new Error("unknown secret format");
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: decodeBase64(iv) },
      this.aes,
      decodeBase64(sealed),
    );
    return new TextDecoder().decode(plain);
  }

  async fingerprint(plaintext: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", this.hmac, new TextEncoder().encode(plaintext));
    return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/** What a client may see of a key: its last four characters. */
export function keyHint(plaintext: string): string {
  return plaintext.slice(-4);
}
