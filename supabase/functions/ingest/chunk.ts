// Chunks of one page's text: about TARGET characters, ending at a paragraph break where one is
// near, else at a sentence end, else at a space; consecutive chunks overlap by up to OVERLAP
// characters of whole sentences. Every chunk is an exact slice [start, end) of the page text,
// so a citation's offsets point into what is stored.

export const TARGET = 1000;
export const OVERLAP = 200;

export interface Chunk {
  start: number;
  end: number;
  content: string;
}

interface Unit {
  start: number;
  end: number;
  /** A paragraph ends after this unit. */
  paragraphEnd: boolean;
}

/** Sentences (or pieces of over-long ones), trimmed, with whether a paragraph ends after each. */
function units(text: string): Unit[] {
  const out: Unit[] = [];
  // A sentence runs to . ! ? or 。 followed by space, or to a line break; a blank line ends a paragraph.
  const re = /[^\n.!?。]*(?:[.!?。]+(?=\s|$)|\n|$)/gu;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === "") {
      re.lastIndex++;
      if (re.lastIndex > text.length) break;
      continue;
    }
    let start = m.index, end = m.index + m[0].length;
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    const after = text.slice(m.index + m[0].length, m.index + m[0].length + 2);
    const paragraphEnd = /^\n?\s*\n/.test(text.slice(end, m.index + m[0].length) + after) ||
      m.index + m[0].length >= text.length;
    if (end > start) {
      // Split over-long sentences at spaces (or anywhere, for text without spaces).
      while (end - start > TARGET) {
        let cut = text.lastIndexOf(" ", start + TARGET);
        if (cut <= start) cut = start + TARGET;
        out.push({ start, end: cut, paragraphEnd: false });
        start = cut;
        while (start < end && /\s/.test(text[start])) start++;
      }
      out.push({ start, end, paragraphEnd });
    } else if (paragraphEnd && out.length) {
      out[out.length - 1].paragraphEnd = true;
    }
  }
  return out;
}

export function chunkPage(text: string): Chunk[] {
  const us = units(text);
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < us.length) {
    let j = i;
    while (j + 1 < us.length) {
      if (us[j].paragraphEnd && us[j].end - us[i].start >= TARGET * 0.6) break; // a paragraph ends near the target
      if (us[j + 1].end - us[i].start > TARGET) break;
      j++;
    }
    const start = us[i].start, end = us[j].end;
    chunks.push({ start, end, content: text.slice(start, end) });
    if (j + 1 >= us.length) break;
    // The next chunk repeats the last whole sentences that fit in OVERLAP, unless a paragraph just ended.
    let k = j + 1;
    if (!us[j].paragraphEnd) { while (k - 1 > i && end - us[k - 1].start <= OVERLAP) k--; }
    i = k;
  }
  return chunks;
}
