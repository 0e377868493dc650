import assert from "node:assert/strict";
import type { ChatMessage } from "../_shared/providers/types.ts";
import { buildContext, contextWindow, MAX_HISTORY_MESSAGES, MAX_OUTPUT_TOKENS } from "./context.ts";

const turn = (i: number, chars = 40): ChatMessage[] => [
  { role: "user", content: `q${i} `.padEnd(chars, "x") },
  { role: "assistant", content: `a${i} `.padEnd(chars, "y") },
];
const history = (turns: number, chars?: number) => Array.from({ length: turns }, (_, i) => turn(i, chars)).flat();

Deno.test("a short history is sent whole, in order", () => {
  const h = [...history(3), { role: "user" as const, content: "now" }];
  assert.deepEqual(buildContext(h, "Be brief.", "openai", "gpt-4o-mini"), h);
});

Deno.test("at most the most recent messages are kept, starting with a user message", () => {
  const h = [...history(40), { role: "user" as const, content: "latest" }];
  const kept = buildContext(h, null, "anthropic", "claude-3-5-haiku-latest");
  assert.ok(kept.length <= MAX_HISTORY_MESSAGES);
  assert.equal(kept.at(-1)!.content, "latest");
  assert.equal(kept[0].role, "user");
  assert.deepEqual(kept, h.slice(h.length - kept.length));
});

Deno.test("history that does not fit the model's window is trimmed from the oldest end", () => {
  // An unknown model gets a 16k-token window; 20 turns of ~8k chars (~2k tokens) each do not fit.
  const h = [...history(20, 8_000), { role: "user" as const, content: "latest" }];
  const kept = buildContext(h, "x".repeat(4_000), "openai", "some-new-model");
  const tokens = kept.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 4, 0) + 1_000;
  assert.ok(tokens <= contextWindow("openai", "some-new-model") - MAX_OUTPUT_TOKENS, `${tokens} tokens kept`);
  assert.ok(kept.length < h.length && kept.length > 1);
  assert.equal(kept.at(-1)!.content, "latest");
  assert.equal(kept[0].role, "user");
});

Deno.test("the newest message is always sent, even when it alone is large", () => {
  const big = { role: "user" as const, content: "z".repeat(70_000) };
  assert.deepEqual(buildContext([...history(2), big], null, "openai", "some-new-model"), [big]);
});
