// PDFs made on the spot with pdf-lib, with known text on known pages, for the tests, the bench
// and the demo. Korean text uses a Type0 font whose ToUnicode map says which character each
// code is (no glyphs embedded: no CJK font is needed to make or to extract it), and the
// "encrypted" file carries a standard security handler whose user password is not empty, so
// no reader opens it without the password.
import {
  beginText,
  concatTransformationMatrix,
  drawObject,
  endText,
  moveText,
  PDFDocument,
  PDFHexString,
  PDFName,
  PDFString,
  popGraphicsState,
  pushGraphicsState,
  setFontAndSize,
  showText,
  StandardFonts,
} from "pdf-lib";

export interface PageSpec {
  /** Lines of text; an empty array makes a page with no text layer. Lines with Hangul use the Korean font. */
  lines: string[];
}

const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;

function toUnicodeCMap(chars: string[]): string {
  const hex = (c: string) => c.codePointAt(0)!.toString(16).padStart(4, "0").toUpperCase();
  const entries: string[] = [];
  for (let i = 0; i < chars.length; i += 100) {
    const part = chars.slice(i, i + 100);
    entries.push(`${part.length} beginbfchar\n${part.map((c) => `<${hex(c)}> <${hex(c)}>`).join("\n")}\nendbfchar`);
  }
  return `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
${entries.join("\n")}
endcmap
CMapName currentdict /CMap defineresource pop
end
end`;
}

/** A PDF whose page i holds pages[i].lines, one line under the other. */
export async function makePdf(
  pages: PageSpec[],
  options: { encrypted?: boolean; title?: string } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const doc = await PDFDocument.create();
  if (options.title) doc.setTitle(options.title);
  const helvetica = await doc.embedFont(StandardFonts.Helvetica);

  const koreanChars = [...new Set(pages.flatMap((p) => p.lines.filter((l) => HANGUL.test(l)).flatMap((l) => [...l])))]
    .sort();
  let koreanFont: ReturnType<typeof doc.context.register> | null = null;
  if (koreanChars.length) {
    const ctx = doc.context;
    const toUnicode = ctx.register(ctx.flateStream(toUnicodeCMap(koreanChars)));
    const descriptor = ctx.register(ctx.obj({
      Type: "FontDescriptor",
      FontName: "Batang",
      Flags: 4,
      FontBBox: [0, -200, 1000, 900],
      ItalicAngle: 0,
      Ascent: 880,
      Descent: -120,
      CapHeight: 700,
      StemV: 80,
    }));
    const cid = ctx.register(ctx.obj({
      Type: "Font",
      Subtype: "CIDFontType2",
      BaseFont: "Batang",
      CIDSystemInfo: { Registry: PDFString.of("Adobe"), Ordering: PDFString.of("Identity"), Supplement: 0 },
      FontDescriptor: descriptor,
      DW: 1000,
      CIDToGIDMap: "Identity",
    }));
    koreanFont = ctx.register(ctx.obj({
      Type: "Font",
      Subtype: "Type0",
      BaseFont: "Batang",
      Encoding: "Identity-H",
      DescendantFonts: [cid],
      ToUnicode: toUnicode,
    }));
  }

  for (const spec of pages) {
    const page = doc.addPage([612, 792]);
    let y = 740;
    const krName = koreanFont ? page.node.newFontDictionary("KR", koreanFont) : null;
    for (const line of spec.lines) {
      if (HANGUL.test(line) && krName) {
        const hex = [...line].map((c) => c.codePointAt(0)!.toString(16).padStart(4, "0")).join("");
        page.pushOperators(
          beginText(),
          setFontAndSize(krName, 11),
          moveText(50, y),
          showText(PDFHexString.of(hex)),
          endText(),
        );
      } else {
        page.drawText(line, { x: 50, y, font: helvetica, size: 11 });
      }
      y -= 16;
      if (y < 40) break;
    }
  }

  if (options.encrypted) {
    const ctx = doc.context;
    // Standard security handler, RC4 40-bit (R2); O and U do not match the empty password.
    const encrypt = ctx.register(ctx.obj({
      Filter: "Standard",
      V: 1,
      R: 2,
      P: -44,
      O: PDFHexString.of("7a".repeat(32)),
      U: PDFHexString.of("3c".repeat(32)),
    }));
    ctx.trailerInfo.Encrypt = encrypt;
    const id = PDFHexString.of("0123456789abcdef0123456789abcdef");
    ctx.trailerInfo.ID = ctx.obj([id, id]);
  }
  return new Uint8Array(await doc.save({ useObjectStreams: false }));
}

/**
 * A PDF of `pageCount` pages of text (page n: factPage(n) and lines of prose, a full page), each
 * page also showing an image of incompressible bytes, sized so the file is just under `bytes`:
 * the largest file the API accepts (25 MB, 1,000 pages) is what a worker must stay within the
 * hosted limits for. Text extraction reads the text; the images are weight it must carry.
 */
export async function makeLargePdf(pageCount: number, bytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const doc = await PDFDocument.create();
  const helvetica = await doc.embedFont(StandardFonts.Helvetica);
  const pages = [];
  for (let n = 1; n <= pageCount; n++) {
    const page = doc.addPage([612, 792]);
    const lines = [
      ...factPage(n),
      ...Array.from(
        { length: 40 },
        (_, i) =>
          `Line ${i + 1} of page ${n}: the ${animalFor(n + i)} crossed the ${
            ANIMALS[(n * 3 + i) % ANIMALS.length]
          } valley at dawn, as recorded.`,
      ),
    ];
    let y = 740;
    for (const line of lines) {
      page.drawText(line, { x: 40, y, font: helvetica, size: 9 });
      y -= 16;
    }
    pages.push(page);
  }
  const textOnly = (await doc.save({ useObjectStreams: false })).length;
  // Each image: a DeviceGray picture whose width x height bytes fill the rest (less its dictionary).
  const perPage = Math.floor((bytes - textOnly) / pageCount) - 200;
  const width = 256, height = Math.floor(perPage / width);
  for (const page of pages) {
    const pixels = new Uint8Array(width * height);
    for (let at = 0; at < pixels.length; at += 65_536) {
      crypto.getRandomValues(pixels.subarray(at, Math.min(at + 65_536, pixels.length)));
    }
    const image = doc.context.register(doc.context.stream(pixels, {
      Type: "XObject",
      Subtype: "Image",
      Width: width,
      Height: height,
      ColorSpace: "DeviceGray",
      BitsPerComponent: 8,
    }));
    const name = page.node.newXObject("Noise", image);
    page.pushOperators(
      pushGraphicsState(),
      concatTransformationMatrix(64, 0, 0, 64, 520, 20),
      drawObject(name),
      popGraphicsState(),
    );
  }
  return new Uint8Array(await doc.save({ useObjectStreams: false }));
}

/** Known sentences on known pages: page n (1-based) holds a fact only it has. */
export function factPage(n: number): string[] {
  return [
    `Chapter ${n}.`,
    `The archive code for section ${n} is ${codeFor(n)}.`,
    `This paragraph describes the ${animalFor(n)} that lives in region ${n}.`,
  ];
}

export function codeFor(n: number): string {
  return `K${(n * 7919) % 100000}Q`;
}

const ANIMALS = [
  "heron",
  "otter",
  "lynx",
  "badger",
  "falcon",
  "marten",
  "ibex",
  "stoat",
  "bison",
  "crane",
  "viper",
  "walrus",
];
export function animalFor(n: number): string {
  return ANIMALS[n % ANIMALS.length];
}

/** The name of the PDFName type, re-exported so callers need no pdf-lib import of their own. */
export const PdfName = PDFName;
