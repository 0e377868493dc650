import assert from "node:assert/strict";
import type { ChatMessage } from "../_shared/providers/types.ts";
import { buildContext } from "./context.ts";

// Expected values are worked out by hand from the rules (about 4 characters per token, 4 tokens
// of overhead per message, 1,024 tokens kept free for the answer, at most 50 messages), not
// from the implementation's own formula.
const turn = (i: number, chars = 40): ChatMessage[] => [
  { role: "user", content: `q${i} `.padEnd(chars, "x") },
  { role: "assistant", content: `a${i} `.padEnd(chars, "y") },
];
const history = (turns: number, chars?: number) => Array.from({ length: turns }, (_, i) => turn(i, chars)).flat();
const heads = (messages: ChatMessage[]) => messages.map((m) => m.content.split(" ")[0]);

Deno.test("a short history is sent whole, in order", () => {
  const h = [...history(3), { role: "user" as const, content: "now" }];
  assert.deepEqual(buildContext(h, "Be brief.", "openai", "gpt-4o-mini"), h);
});

Deno.test("at most the 50 most recent messages are kept, starting with a user message", () => {
  // 81 messages: the latest 50 start at a15 (an answer), which is dropped, so 49 remain from q16.
  const h = [...history(40), { role: "user" as const, content: "latest" }];
  const kept = buildContext(h, null, "anthropic", "claude-3-5-haiku-latest");
  assert.equal(kept.length, 49);
  assert.equal(heads(kept)[0], "q16");
  assert.equal(heads(kept).at(-2), "a39");
  assert.equal(kept.at(-1)!.content, "latest");
});

Deno.test("history that does not fit the model's window is trimmed from the oldest end", () => {
  // An unknown model has a 16,000-token window: 16,000 - 1,024 for the answer - 1,000 for the
  // 4,000-character system prompt = 13,976. "latest" costs 2 + 4 = 6 tokens; each 2,000-character
  // message 500 + 4 = 504, so 27 of them fit (13,608; a 28th would need 14,112). The 27th from
  // the end is a6, an answer, which cannot come first: 26 remain, from q7.
  const h = [...history(20, 2_000), { role: "user" as const, content: "latest" }];
  const kept = buildContext(h, "x".repeat(4_000), "openai", "some-new-model");
  assert.equal(kept.length, 27);
  assert.equal(heads(kept)[0], "q7");
  assert.deepEqual(kept, h.slice(-27));
});

Deno.test("a larger window keeps more of the same history, up to 50 messages", () => {
  // gpt-4o has 128,000 tokens, room for all 41 messages above.
  const h = [...history(20, 2_000), { role: "user" as const, content: "latest" }];
  assert.deepEqual(buildContext(h, "x".repeat(4_000), "openai", "gpt-4o"), h);
});

Deno.test("the newest message is always sent, even when it alone is larger than the window", () => {
  const big = { role: "user" as const, content: "z".repeat(70_000) };
  assert.deepEqual(buildContext([...history(2), big], null, "openai", "some-new-model"), [big]);
});
