import assert from "node:assert/strict";
import { normalizePageText } from "./page-text.ts";

Deno.test("a word hyphenated at a line end is joined when the page text is stored", () => {
  assert.equal(
    normalizePageText("evaluates a floating point ex-\npression and"),
    "evaluates a floating point expression and",
  );
  assert.equal(normalizePageText("a soft hy\u00ad\nphen"), "a soft hyphen");
});

Deno.test("a hyphen that is not a line-end break of a lower-case word stays", () => {
  assert.equal(normalizePageText("the Wi-\nFi card"), "the Wi-\nFi card");
  assert.equal(normalizePageText("pages 2-\n3"), "pages 2-\n3");
  assert.equal(normalizePageText("a well-known word"), "a well-known word");
});

Deno.test("spaces are collapsed and blank lines kept to one", () => {
  assert.equal(normalizePageText("  a \t b\n\n\n\nc\u0000 "), "a b\n\nc");
});
