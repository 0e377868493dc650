import assert from "node:assert/strict";
import { chunkPage, OVERLAP, TARGET } from "./chunk.ts";

const sentence = (n: number) => `Sentence number ${n} talks about topic ${n} in some detail here.`;

Deno.test("every chunk is the exact slice of the page text its offsets name", () => {
  const text = Array.from({ length: 80 }, (_, i) => sentence(i)).join(" ") + "\n\nA second paragraph.\n\nA third one.";
  const chunks = chunkPage(text);
  assert(chunks.length > 2);
  for (const c of chunks) {
    assert.deepEqual(text.slice(c.start, c.end), c.content);
    assert(c.content.length <= TARGET, `chunk of ${c.content.length} chars`);
  }
});

Deno.test("consecutive chunks of one paragraph overlap, and the whole text is covered", () => {
  const text = Array.from({ length: 60 }, (_, i) => sentence(i)).join(" ");
  const chunks = chunkPage(text);
  for (let i = 1; i < chunks.length; i++) {
    const overlap = chunks[i - 1].end - chunks[i].start;
    assert(overlap > 0 && overlap <= OVERLAP, `overlap ${overlap}`);
  }
  assert.deepEqual(chunks[0].start, 0);
  assert.deepEqual(chunks.at(-1)!.end, text.length);
});

Deno.test("a paragraph break near the target ends a chunk", () => {
  const para = (p: number) => Array.from({ length: 12 }, (_, i) => sentence(p * 100 + i)).join(" ");
  const text = `${para(1)}\n\n${para(2)}`;
  const chunks = chunkPage(text);
  assert.deepEqual(chunks[0].end, para(1).length);
  assert.deepEqual(chunks[1].start, para(1).length + 2);
});

Deno.test("text without spaces or sentence ends is still cut to size", () => {
  const text = "가".repeat(2500);
  const chunks = chunkPage(text);
  assert(chunks.every((c) => c.content.length <= TARGET));
  assert.deepEqual(chunks.map((c) => c.content).join("").length >= 2500, true);
});

Deno.test("an empty page has no chunks", () => {
  assert.deepEqual(chunkPage(""), []);
  assert.deepEqual(chunkPage("  \n\n "), []);
});
