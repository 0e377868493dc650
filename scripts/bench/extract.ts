// Text extraction alone, in one process, with the ingest function's own code (unpdf + chunking):
//   deno run -A --config supabase/functions/ingest/deno.json scripts/bench/extract.ts <pdf>...
// Prints {"pages": n, "ms": t} on its last line.
import { chunkPage } from "../../supabase/functions/ingest/chunk.ts";
import { openPdf, pageText } from "../../supabase/functions/ingest/extract.ts";

let pages = 0;
const started = performance.now();
for (const path of Deno.args) {
  const pdf = await openPdf(await Deno.readFile(path));
  for (let n = 1; n <= pdf.numPages; n++) chunkPage(await pageText(pdf, n));
  pages += pdf.numPages;
  await pdf.cleanup();
}
console.log(JSON.stringify({ pages, ms: performance.now() - started }));
