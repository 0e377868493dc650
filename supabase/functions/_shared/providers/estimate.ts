// Token counts the function makes up itself: the prompt's, for the budget reservation made before
// a call and for fitting the history into the model's window; and a whole call's, when the
// provider reports none (a cut stream).
//
// Every count errs high, never low: a reservation below the real prompt would let a call cost
// more than the budget kept for it. "Four characters per token", the providers' rule of thumb,
// holds for English prose only. Korean cost two to three times that (cl100k_base, which
// text-embedding-3-small and the GPT-4 family use; o200k_base, GPT-4o's), because the tokenizers
// are byte-level BPE and a Hangul syllable is three bytes of UTF-8 that they rarely merge. So:
//   - a character outside ASCII counts its UTF-8 bytes: every token is at least one byte, so this
//     part is a bound whatever the tokenizer;
//   - ASCII punctuation, digits and line breaks count one each (dot leaders, page numbers and code
//     are nearly a token a character);
//   - other ASCII (letters, spaces) counts a quarter each.
// Measured on the 522 pages of the eval's six manuals (four Korean, two English) against
// cl100k_base and o200k_base: no page above 1.08 times this count (the margin in
// worstCasePromptTokens covers that), Korean 1.8-2.7 times over the real count, English 1.35-1.4;
// "characters / 4" was 0.32-0.51 of the real count on the Korean manuals, and as low as 0.18 on a
// page (tests/token-estimate.test.ts).
import type { ChatRequest, Usage } from "./types.ts";

const ONE_TOKEN_EACH = /[!-\/:-@\[-`{-~0-9\n]/;

/** At least the tokens of `text` in the providers' tokenizers (see above). */
export function estimateTokens(text: string): number {
  let counted = 0, quarters = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80) counted += cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    else if (ONE_TOKEN_EACH.test(ch)) counted++;
    else quarters++;
  }
  return counted + Math.ceil(quarters / 4);
}

export function estimatePromptTokens(req: Pick<ChatRequest, "system" | "messages">): number {
  const parts = [req.system ?? "", ...req.messages.map((m) => m.content)];
  return Math.max(1, parts.reduce((n, text) => n + estimateTokens(text), 0));
}

/**
 * The prompt tokens a budget reservation covers: the estimate, with a margin for tokenizers it
 * was not measured on (Anthropic's), and the few tokens a provider adds per message.
 */
export function worstCasePromptTokens(req: Pick<ChatRequest, "system" | "messages">): number {
  return Math.ceil(estimatePromptTokens(req) * 1.25) + 8 * (req.messages.length + 1);
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
