// The largest PDF the API accepts (25 MB, 1,000 pages) goes through the test stack's functions
// under the hosted limits they run under there (scripts/stack/limits/: a 256 MB V8 heap, 2 s of
// CPU per request, a function past either ended and started again, as the edge runtime does):
// uploaded through the API and ingested by the worker, with no call ended by a limit.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { FUNCTION_USAGE_FILE } from "./support/env.ts";
import { settled, uploadPdf } from "./support/documents.ts";
import { factPage, makeLargePdf } from "./support/pdfs.ts";
import { createUser, db } from "./support/users.ts";

afterAll(() => db.end());

const MAX_BYTES = 25 * 1024 * 1024;
const MAX_PAGES = 1000;

// deno-lint-ignore no-explicit-any
const usage = (): any[] =>
  existsSync(FUNCTION_USAGE_FILE)
    ? readFileSync(FUNCTION_USAGE_FILE, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l))
    : [];

it("a 25 MB, 1,000-page PDF is uploaded and ingested within the hosted memory and CPU limits", async () => {
  expect(FUNCTION_USAGE_FILE, "run with npm test (FUNCTION_USAGE_FILE)").not.toBe("");
  // The stack's functions run under the hosted limits.
  for (const fn of ["api", "ingest"]) {
    const started = usage().filter((l) => l.function === fn && l.started).at(-1);
    expect(started, fn).toMatchObject({ memory_mb: 256, cpu_ms_per_request: 2000 });
  }
  const pdf = await makeLargePdf(MAX_PAGES, MAX_BYTES);
  expect(pdf.length).toBeLessThanOrEqual(MAX_BYTES);
  expect(pdf.length).toBeGreaterThan(MAX_BYTES - 512 * 1024);
  const user = await createUser("largest");
  const seen = usage().length;

  const res = await uploadPdf(user, pdf, "largest.pdf", "body");
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const row = await settled(res.body.data.id, 300_000);
  expect(row).toMatchObject({ status: "ready", failure_reason: null, pages_total: MAX_PAGES, pages_done: MAX_PAGES });
  const [last] =
    await db`select text from public.document_pages where document_id = ${res.body.data.id} and page_number = ${MAX_PAGES}`;
  expect(last.text).toContain(factPage(MAX_PAGES)[1]);

  const meanwhile = usage().slice(seen);
  expect(meanwhile.filter((l) => l.ended), "functions ended by a limit (or a crash) meanwhile").toEqual([]);
  // The worker's calls were measured (each busy period of 50 ms of CPU or more is written down).
  expect(meanwhile.filter((l) => l.function === "ingest" && l.cpu_ms !== undefined).length).toBeGreaterThan(0);
}, 400_000);
