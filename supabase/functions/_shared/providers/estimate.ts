// Token counts the functions make up themselves: the prompt's, for the budget reservation made
// before a call and for fitting the history into the model's window; a whole call's, when the
// provider reports none (a cut stream); an embedding call's bound, and the cut that keeps an
// embedding input within what the model reads.
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

const utf8 = new TextEncoder();
/** Quarter tokens per ASCII character: 4 for punctuation, digits and line breaks, 1 for the rest. */
const ASCII_QUARTERS = Uint8Array.from(
  { length: 0x80 },
  (_, code) => /[!-\/:-@\[-`{-~0-9\n]/.test(String.fromCharCode(code)) ? 4 : 1,
);

/**
 * At least the tokens of `text` in the providers' tokenizers (see above). It runs over every
 * prompt before its call, so it reads UTF-16 units, not characters: a unit up to U+07FF is 2 bytes
 * of UTF-8, a surrogate is half of a 4-byte character, any other unit 3 bytes.
 */
export function estimateTokens(text: string): number {
  let bytes = 0, quarters = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) quarters += ASCII_QUARTERS[unit];
    else bytes += unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 2 : 3;
  }
  return bytes + Math.ceil(quarters / 4);
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

/** The most tokens text-embedding-3-small reads of one input; a longer one is refused (400), not cut. */
export const EMBEDDING_MAX_INPUT_TOKENS = 8191;

/**
 * What is sent of one input: all of it when the model surely reads it whole, else its start of
 * at most EMBEDDING_MAX_INPUT_TOKENS bytes of UTF-8, cut between characters (every token is at
 * least a byte, so that start is within the limit). Only a question can be that long (a message
 * may have 32,000 characters; chunks have about 1,000): it is then searched by its start, instead
 * of the call failing and the question being searched by its words alone.
 */
export function embeddingInput(text: string): string {
  const bytes = utf8.encode(text);
  if (bytes.length <= EMBEDDING_MAX_INPUT_TOKENS) return text;
  let end = EMBEDDING_MAX_INPUT_TOKENS;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // not inside a character's bytes
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * An upper bound on the input tokens of an embedding call, for its budget reservation: OpenAI's
 * tokenizer is byte-level BPE, every token at least one byte of UTF-8, so the bytes of what is
 * sent bound it.
 */
export function worstCaseEmbeddingTokens(inputs: string[]): number {
  return inputs.reduce((n, t) => n + Math.min(utf8.encode(t).length, EMBEDDING_MAX_INPUT_TOKENS), 0);
}
