// Finds a quote in a page's text layer and marks it. The layer is one element per text run,
// positioned by pdf.js; the stored quote is the page's text as the worker extracted it, whose
// spacing and line breaks may differ from the runs'. So the match ignores whitespace: the quote
// without it is searched in the runs' text without it, and every run it touches gets a <mark>
// around the part it covers.

const isSpace = (ch: string) => /\s/.test(ch);

/** Marks `quote` in `runs` (pdf.js text divs, in reading order); returns the marks (none when absent). */
export function highlightQuote(runs: HTMLElement[], quote: string): HTMLElement[] {
  const needle = Array.from(quote).filter((ch) => !isSpace(ch)).join("").toLowerCase();
  if (!needle) return [];
  // Every non-space character of the layer, with the run and the offset it came from.
  const where: { run: number; at: number }[] = [];
  let hay = "";
  runs.forEach((run, r) => {
    const s = run.textContent ?? "";
    for (let i = 0; i < s.length; i++) {
      if (isSpace(s[i])) continue;
      hay += s[i].toLowerCase();
      where.push({ run: r, at: i });
    }
  });
  const start = hay.indexOf(needle);
  if (start < 0) return [];
  const first = where[start], last = where[start + needle.length - 1];
  const marks: HTMLElement[] = [];
  for (let r = first.run; r <= last.run; r++) {
    const run = runs[r];
    const s = run.textContent ?? "";
    const from = r === first.run ? first.at : 0;
    const to = r === last.run ? last.at + 1 : s.length;
    if (from >= to) continue;
    const mark = document.createElement("mark");
    mark.className = "quote";
    mark.textContent = s.slice(from, to);
    run.replaceChildren(s.slice(0, from), mark, s.slice(to));
    marks.push(mark);
  }
  return marks;
}
