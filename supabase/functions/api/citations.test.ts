import assert from "node:assert/strict";
import { citeAnswer, extractiveAnswer, verifyQuote } from "./citations.ts";
import type { Grounding, Source } from "./retrieval.ts";

const page =
  "Chapter 3.\nThe archive code for section 3 is K23757Q.\nThis paragraph describes the lynx that lives in region 3.";
const source: Source = {
  n: 1,
  chunk_id: 11,
  document_id: "d1",
  filename: "f.pdf",
  page: 3,
  start_offset: 0,
  end_offset: page.length,
  content: page,
  page_text: page,
};
const other: Source = {
  ...source,
  n: 2,
  chunk_id: 12,
  page: 4,
  page_text: "Nothing here but otters.",
  content: "Nothing here but otters.",
  end_offset: 24,
};
const grounding: Grounding = { mode: "lexical", sources: [source, other] };

Deno.test("a verbatim quote stands, with its offsets into the page", () => {
  const c = verifyQuote(source, "the lynx that lives in region 3")!;
  assert.equal(c.check, "exact");
  assert.equal(page.slice(c.start_offset, c.end_offset), c.quote);
});

Deno.test("a quote differing in case and spacing is repaired to the page's words", () => {
  const c = verifyQuote(source, "THE ARCHIVE  CODE for section 3")!;
  assert.equal(c.check, "repaired");
  assert.equal(c.quote, "The archive code for section 3");
});

Deno.test("a paraphrase close to one sentence is repaired to that sentence; an unrelated quote is dropped", () => {
  const c = verifyQuote(source, "the archive code of section 3 is K23757Q")!;
  assert.equal(c.quote, "The archive code for section 3 is K23757Q.");
  assert.equal(verifyQuote(source, "Penguins are flightless birds of the south"), null);
});

Deno.test("citeAnswer keeps good quotes, rewrites repaired ones, unquotes dropped ones, and cites bare markers", () => {
  const answer = `It says "THE LYNX that lives in region 3" [1]. Also "the moon is cheese" [2]. Otters appear too [2].`;
  const { text, citations } = citeAnswer(answer, grounding);
  assert.match(text, /"the lynx that lives in region 3" \[1\]/);
  assert.doesNotMatch(text, /"the moon is cheese"/);
  assert.equal(citations[0].check, "repaired");
  assert.deepEqual(citations.map((c) => [c.n, c.page, c.quote]), [
    [1, 3, "the lynx that lives in region 3"],
    [2, 4, "Nothing here but otters."],
  ]);
});

Deno.test("markers naming no source are ignored", () => {
  assert.deepEqual(citeAnswer(`"Chapter 3." [9]`, grounding).citations, []);
});

Deno.test("the extractive answer quotes the best sentence of each top passage, labelled", () => {
  const { text, citations } = extractiveAnswer("Which animal lives in region 3?", grounding);
  assert.match(text, /^Extractive answer/);
  assert.equal(citations[0].quote, "This paragraph describes the lynx that lives in region 3.");
  assert.match(text, /\[1\] f\.pdf, page 3: "This paragraph describes the lynx/);
});

const koreanPage =
  "2.10 각주\n\n본문은 여기서 시작한다. 각주를 달려면 다음 명령을\n쓴다. 그러면 현재 페이지의 하단부에 각주가 인쇄된다.";
const korean: Source = {
  n: 1,
  chunk_id: 21,
  document_id: "d2",
  filename: "lshort-ko.pdf",
  page: 42,
  start_offset: 0,
  end_offset: koreanPage.length,
  content: koreanPage,
  page_text: koreanPage,
};

Deno.test("the extractive quote is the sentence carrying the question's words, whatever their particles, across line breaks", () => {
  const { text, citations } = extractiveAnswer("각주는 어떻게 다나요?", { mode: "lexical", sources: [korean] });
  assert.equal(citations[0].quote, "각주를 달려면 다음 명령을\n쓴다.");
  assert.match(text, /lshort-ko\.pdf, page 42: "각주를 달려면 다음 명령을 쓴다\."/);
});

Deno.test("a long sentence is cut at a space, and no quote ends inside a word", () => {
  const long = `${"word ".repeat(70)}expression ends here.`;
  const src: Source = { ...source, page_text: long, content: long, end_offset: long.length };
  const [c] = extractiveAnswer("expression", { mode: "lexical", sources: [src] }).citations;
  assert.ok(c.quote.length <= 300, `quote of ${c.quote.length} characters`);
  assert.ok(
    !/[\p{L}\p{N}]/u.test(long[c.end_offset] ?? " "),
    `the quote stops inside a word: ...${long.slice(c.end_offset - 5, c.end_offset + 5)}`,
  );
  // a chunk ending inside a word: the quote runs to the word's end on the page
  const cutChunk: Source = {
    ...source,
    page_text: "It evaluates the expression now.",
    content: "It evaluates the expr",
    end_offset: 21,
  };
  assert.equal(
    extractiveAnswer("evaluates", { mode: "lexical", sources: [cutChunk] }).citations[0].quote,
    "It evaluates the expression",
  );
});
