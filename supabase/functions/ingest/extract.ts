// Text per page with unpdf (Mozilla's pdf.js built for serverless runtimes: no worker, no
// canvas, no native code, so it runs on Deno and on Supabase's Edge Runtime). Scanned pages
// have no text layer: they come back empty and are marked so (no OCR).
import { getDocumentProxy } from "unpdf";
import { normalizePageText } from "./page-text.ts";

export type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;

export class UnreadablePdf extends Error {
  override readonly name = "UnreadablePdf";
}

/** Checks a reader needs no text for: the header, the end marker, size. Returns a reason, or null. */
export function structuralProblem(bytes: Uint8Array, maxBytes: number): string | null {
  if (bytes.length > maxBytes) return `the file is ${bytes.length} bytes, above the limit of ${maxBytes}`;
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 1024));
  if (!head.includes("%PDF-")) return "not a PDF: the file does not start with a %PDF header";
  const tail = new TextDecoder("latin1").decode(bytes.subarray(Math.max(0, bytes.length - 2048)));
  if (!tail.includes("%%EOF")) return "the PDF is truncated or damaged: it has no end-of-file marker";
  return null;
}

export async function openPdf(bytes: Uint8Array): Promise<PdfDocument> {
  try {
    // A copy: pdf.js takes ownership of (detaches) the buffer it is given.
    return await getDocumentProxy(bytes.slice(), { verbosity: 0 });
  } catch (err) {
    const name = (err as Error)?.name ?? "";
    if (name === "PasswordException") {
      throw new UnreadablePdf("the PDF is encrypted and needs a password; upload a copy without one");
    }
    if (name === "InvalidPDFException") throw new UnreadablePdf("the PDF is damaged and cannot be read");
    throw new UnreadablePdf("the PDF cannot be read");
  }
}

interface TextItem {
  str: string;
  hasEOL: boolean;
  transform: number[];
  height: number;
}

/**
 * A page's text: items in reading order, line ends where pdf.js sees them, a blank line where
 * the vertical gap to the next line is well above the line height (a paragraph break). Runs of
 * spaces are collapsed; the result is what chunks and citations point into.
 */
export async function pageText(pdf: PdfDocument, pageNumber: number): Promise<string> {
  const page = await pdf.getPage(pageNumber);
  try {
    const content = await page.getTextContent();
    let out = "";
    let lastY: number | null = null;
    let lastHeight = 0;
    for (const raw of content.items) {
      if (!("str" in raw)) continue;
      const item = raw as TextItem;
      const y = item.transform[5];
      if (lastY !== null && item.str.trim() !== "") {
        const gap = Math.abs(lastY - y);
        const lineHeight = Math.max(lastHeight, item.height, 1);
        if (gap > lineHeight * 1.9) out = out.replace(/[ \t]*\n?$/, "\n\n");
        else if (gap > lineHeight * 0.5 && !out.endsWith("\n")) out += "\n";
      }
      out += item.str;
      if (item.hasEOL) out += "\n";
      if (item.str.trim() !== "") {
        lastY = y;
        lastHeight = item.height;
      }
    }
    return normalizePageText(out);
  } finally {
    page.cleanup();
  }
}
