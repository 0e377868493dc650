// A rough token count for when the provider reports none (a cut stream): about four
// characters per token for English text, which is what both providers document as a rule of thumb.
import type { ChatRequest, Usage } from "./types.ts";

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimatePromptTokens(req: Pick<ChatRequest, "system" | "messages">): number {
  const chars = (req.system ?? "").length + req.messages.reduce((n, m) => n + m.content.length, 0);
  return Math.max(1, Math.ceil(chars / 4));
}

/** Usage for a reply that never got the provider's count; `promptTokens` when it is known. */
export function estimatedUsage(
  req: Pick<ChatRequest, "system" | "messages">,
  text: string,
  known: { promptTokens?: number; cachedPromptTokens?: number } = {},
): Usage {
  return {
    promptTokens: known.promptTokens ?? estimatePromptTokens(req),
    cachedPromptTokens: known.cachedPromptTokens ?? 0,
    completionTokens: estimateTokens(text),
    source: "estimated",
  };
}
