// The stored form of a page's text (no imports: unit-tested under any import map).
/**
 * The stored form of a page's text: no NUL, runs of spaces collapsed, at most one blank line in
 * a row, and a word hyphenated at a line end joined again ("ex-\npression" -> "expression"), so
 * search and quotes see the word. Only between lower-case letters: "Wi-\nFi" and "2-\n3" stay.
 */
export function normalizePageText(text: string): string {
  return text
    // deno-lint-ignore no-control-regex -- Postgres text cannot hold NUL, which some PDFs' text has
    .replace(/\u0000/g, "")
    .replace(/[ \t\u00a0]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/(\p{Ll})[-\u00ad]\n(\p{Ll})/gu, "$1$2")
    .trim();
}
