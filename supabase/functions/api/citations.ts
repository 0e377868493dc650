// Citations of an answer, checked against the stored page text. A quote the model gives as
// `"words" [n]` must occur verbatim in the page of source n: if it does, it stands; if it only
// differs in case or spacing, or closely matches one sentence of the source, it is repaired to
// the page's exact words; otherwise it is dropped (and its marker with it). A bare `[n]` cites
// the sentence of source n that best matches the answer's sentence around it. Every stored
// quote is a slice of document_pages.text, with its offsets.
import type { Grounding, Source } from "./retrieval.ts";

export interface Citation {
  n: number;
  document_id: string;
  filename: string;
  page: number;
  chunk_id: number;
  quote: string;
  start_offset: number;
  end_offset: number;
  /** exact: the model's quote as given; repaired: replaced by the page's own words. */
  check: "exact" | "repaired";
}

const words = (s: string) => new Set(s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);

function overlap(query: Set<string>, candidate: Set<string>): number {
  if (!query.size) return 0;
  let shared = 0;
  for (const w of query) if (candidate.has(w)) shared++;
  return shared / query.size;
}

/** A quote longer than this is cut, at a space, so it stays a sentence's worth. */
const MAX_QUOTE = 300;
const isWordChar = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

/**
 * Sentences of a source, as [start, end) offsets into its page text. A sentence ends at . ! ?
 * or 。 before a space, or at a blank line; a single line break does not end one (a PDF breaks
 * its lines inside sentences). A longer one is cut to MAX_QUOTE at a space, never inside a word.
 */
function sentences(source: Source): [number, number][] {
  const text = source.page_text.slice(source.start_offset, source.end_offset);
  const out: [number, number][] = [];
  const ends = /[.!?。]+(?=\s|$)|\n[ \t]*\n/gu;
  let from = 0;
  for (const cut of [...text.matchAll(ends), null]) {
    const to = cut ? (/^\n/.test(cut[0]) ? cut.index! : cut.index! + cut[0].length) : text.length;
    let a = from, b = to;
    from = cut ? cut.index! + cut[0].length : text.length;
    while (a < b && /\s/.test(text[a])) a++;
    while (b > a && /\s/.test(text[b - 1])) b--;
    if (b - a > MAX_QUOTE) {
      const lastSpace = text.slice(a, a + MAX_QUOTE + 1).search(/\s\S*$/);
      if (lastSpace > 0) b = a + lastSpace;
      while (b > a && /\s/.test(text[b - 1])) b--;
    }
    if (b - a >= 3) out.push(wordSafe(source.page_text, [source.start_offset + a, source.start_offset + b]));
  }
  return out;
}

/** The span, its end moved off the middle of a word (to the word's end on the page). */
function wordSafe(page: string, [a, b]: [number, number]): [number, number] {
  while (b < page.length && isWordChar(page[b - 1]) && isWordChar(page[b])) b++;
  return [a, b];
}

const ENGLISH_FUNCTION_WORDS = new Set(
  ("a an and are as at be but by can could did do does for from had has have how i if in into is it its me my no not of on or " +
    "our should so than that the their them then there these they this to was we were what when where which who why will with " +
    "would you your").split(" "),
);
/** Two-syllable pieces that only make a Korean question a question (as in the search function). */
const KOREAN_QUESTION_PIECES = new Set([
  "어떻",
  "떻게",
  "무엇",
  "엇인",
  "누구",
  "구인",
  "인가",
  "가요",
  "하나",
  "나요",
  "있나",
  "뭔가",
  "되나",
  "는데",
  "려면",
  "으면",
  "싶어",
  "싶으",
  "어요",
  "해야",
  "야하",
  "할까",
  "하려",
  "니까",
  "나는",
]);

/**
 * What a question is matched by, as retrieval matches it (private.search_conversation_chunks):
 * a Korean word as its two-syllable pieces, so any particle or ending matches; an English word
 * and its stem, function words left out.
 */
export function questionPieces(question: string): string[] {
  const out = new Set<string>();
  for (const word of question.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const runs = word.match(/[가-힣]+|[^가-힣]+/gu) ?? [];
    for (const run of runs) {
      if (/^[가-힣]+$/u.test(run)) {
        if (run.length === 1) {
          if (runs.length === 1) out.add(run);
        } else for (let i = 0; i + 2 <= run.length; i++) out.add(run.slice(i, i + 2));
      } else if (!ENGLISH_FUNCTION_WORDS.has(run)) {
        out.add(run);
        const stem = run.replace(/(es|s|ed|ing)$/, "");
        if (stem !== run && stem.length >= 3 && !run.endsWith("ss")) out.add(stem);
      }
    }
  }
  return [...out].filter((p) => !KOREAN_QUESTION_PIECES.has(p));
}

/**
 * The sentence of the source carrying most of the question's pieces, or null when none has any.
 * On a tie a whole sentence (ending in . ! ? 。) wins over a heading or fragment, then the first.
 */
function sentenceForQuestion(source: Source, question: string): [number, number] | null {
  const pieces = questionPieces(question);
  let best: [number, number] | null = null, bestScore = 0;
  for (const span of sentences(source)) {
    const text = source.page_text.slice(span[0], span[1]).toLowerCase();
    const matched = pieces.filter((p) => text.includes(p)).length;
    const score = matched && matched + (/[.!?。]$/u.test(text) ? 0.5 : 0);
    if (score > bestScore) [best, bestScore] = [span, score];
  }
  return best;
}

/** Finds `quote` in `page` ignoring case and runs of whitespace; returns the page's own span. */
function looseFind(page: string, quote: string): [number, number] | null {
  const map: number[] = [];
  let norm = "";
  for (let i = 0; i < page.length; i++) {
    const ch = page[i];
    if (/\s/.test(ch)) {
      if (norm.endsWith(" ") || norm === "") continue;
      norm += " ";
    } else norm += ch.toLowerCase();
    map.push(i);
  }
  const q = quote.replace(/\s+/g, " ").trim().toLowerCase();
  if (!q) return null;
  const at = norm.indexOf(q);
  if (at < 0) return null;
  return [map[at], map[at + q.length - 1] + 1];
}

function citation(source: Source, span: [number, number], check: Citation["check"]): Citation {
  return {
    n: source.n,
    document_id: source.document_id,
    filename: source.filename,
    page: source.page,
    chunk_id: source.chunk_id,
    quote: source.page_text.slice(span[0], span[1]),
    start_offset: span[0],
    end_offset: span[1],
    check,
  };
}

/** The best sentence of the source for these words, if it shares enough of them. */
function closestSentence(source: Source, text: string, minimum: number): [number, number] | null {
  const query = words(text);
  let best: [number, number] | null = null, bestScore = 0;
  for (const span of sentences(source)) {
    const score = overlap(query, words(source.page_text.slice(span[0], span[1])));
    if (score > bestScore) [best, bestScore] = [span, score];
  }
  return bestScore >= minimum ? best : null;
}

export function verifyQuote(source: Source, quote: string): Citation | null {
  const exact = source.page_text.indexOf(quote);
  if (exact >= 0 && quote.trim()) return citation(source, [exact, exact + quote.length], "exact");
  const loose = looseFind(source.page_text, quote);
  if (loose) return citation(source, loose, "repaired");
  const closest = closestSentence(source, quote, 0.6);
  return closest ? citation(source, closest, "repaired") : null;
}

const QUOTED = /["“]([^"”\n]{4,600})["”]\s*\[(\d{1,2})\]/gu;
const MARKER = /\[(\d{1,2})\]/g;

/**
 * The answer's citations, checked, and the answer text with repaired quotes put right and
 * dropped ones unquoted (their marker removed), so no unverified quote is shown as a citation.
 */
export function citeAnswer(answer: string, grounding: Grounding): { text: string; citations: Citation[] } {
  const byN = new Map(grounding.sources.map((s) => [s.n, s]));
  const found: Citation[] = [];
  const text = answer.replace(QUOTED, (_whole, quote: string, nText: string) => {
    const source = byN.get(Number(nText));
    if (!source) return quote;
    const checked = verifyQuote(source, quote);
    if (!checked) return quote;
    found.push(checked);
    return `"${checked.quote.replace(/\s+/g, " ")}" [${source.n}]`;
  });
  // Bare markers: the source sentence closest to the answer's sentence around the marker.
  for (const m of text.matchAll(MARKER)) {
    const source = byN.get(Number(m[1]));
    if (!source) continue;
    if (found.some((c) => c.n === source.n)) continue;
    const before = text.slice(0, m.index).split(/(?<=[.!?。])\s+|\n/).pop() ?? "";
    const span = closestSentence(source, before, 0.01) ?? sentences(source)[0];
    if (span) found.push(citation(source, span, "exact"));
  }
  const seen = new Set<string>();
  const citations = found.filter((c) => {
    const key = `${c.chunk_id}:${c.start_offset}:${c.end_offset}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { text, citations };
}

/** The no-key answer: the top passages themselves, with their pages, labelled as extractive. */
export function extractiveAnswer(question: string, grounding: Grounding): { text: string; citations: Citation[] } {
  if (!grounding.sources.length) {
    return {
      text: "Extractive answer (no API key is set up): nothing in this conversation's documents matches the question.",
      citations: [],
    };
  }
  const citations: Citation[] = [];
  const lines = [
    "Extractive answer (no API key is set up, so these are the passages of your documents that best match the question, not a written answer):",
    "",
  ];
  for (const source of grounding.sources.slice(0, 3)) {
    const span = sentenceForQuestion(source, question) ?? sentences(source)[0];
    if (!span) continue;
    const c = citation(source, span, "exact");
    citations.push(c);
    lines.push(`[${source.n}] ${source.filename}, page ${source.page}: "${c.quote.replace(/\s+/g, " ")}"`);
  }
  return { text: lines.join("\n"), citations };
}
