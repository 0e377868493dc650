// The provider behind a key. Base URLs and the timeout come from configuration (read by the
// caller), so tests can point them at scripts/fake-provider.ts.
import { anthropicProvider } from "./anthropic.ts";
import { openaiProvider } from "./openai.ts";
import type { LlmProvider, ProviderConfig, ProviderName } from "./types.ts";

export type * from "./types.ts";
export { MAX_OUTPUT_TOKENS } from "./types.ts";
export { classifyFailure, ProviderError, type ProviderErrorKind, scrubSecret } from "./errors.ts";

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";
export const DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com";

export function providerFor(name: ProviderName, config: ProviderConfig): LlmProvider {
  switch (name) {
    case "openai":
      return openaiProvider({ baseUrl: config.openaiBaseUrl || DEFAULT_OPENAI_BASE_URL, timeoutMs: config.timeoutMs });
    case "anthropic":
      return anthropicProvider({
        baseUrl: config.anthropicBaseUrl || DEFAULT_ANTHROPIC_BASE_URL,
        timeoutMs: config.timeoutMs,
      });
    default:
      throw new Error(`unknown provider: ${name satisfies never}`);
  }
}
