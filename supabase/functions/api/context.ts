// What the model sees: the system prompt and as much recent history as fits its window.
import { estimateTokens } from "../_shared/providers/estimate.ts";
import { type ChatMessage, MAX_OUTPUT_TOKENS, type ProviderName } from "../_shared/providers/types.ts";

export const DEFAULT_MODELS: Record<ProviderName, string> = {
  openai: "gpt-4o-mini",
  anthropic: "claude-3-5-haiku-latest",
};
export const MAX_HISTORY_MESSAGES = 50;

/** Context windows (tokens) of the model families we know; others get a conservative default. */
export function contextWindow(provider: ProviderName, model: string): number {
  if (provider === "anthropic") return 200_000;
  if (/^gpt-4\.1/.test(model)) return 1_000_000;
  if (/^(gpt-4o|o\d)/.test(model)) return 128_000;
  return 16_000;
}

/** Keeps the system prompt and the most recent history that fits the model's window. */
export function buildContext(history: ChatMessage[], system: string | null, provider: ProviderName, model: string) {
  let budget = contextWindow(provider, model) - MAX_OUTPUT_TOKENS - (system ? estimateTokens(system) : 0);
  const kept: ChatMessage[] = [];
  for (const m of [...history].reverse()) {
    const cost = estimateTokens(m.content) + 4;
    if (kept.length >= MAX_HISTORY_MESSAGES || (cost > budget && kept.length > 0)) break;
    kept.unshift(m);
    budget -= cost;
  }
  // Anthropic requires the first message to be the user's.
  while (kept.length > 1 && kept[0].role !== "user") kept.shift();
  return kept;
}
