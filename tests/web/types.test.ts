// The Database type the web client's supabase-js is typed with (web/src/database.types.ts) is
// what `npm run gen:types` makes from the migrations: generated again here from the test stack's
// database (freshly migrated by `npm test`), it must equal the committed file.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { DB_URL } from "../support/env.ts";

const ROOT = join(import.meta.dirname, "../..");

it("web/src/database.types.ts matches the schema the migrations make (else run npm run gen:types)", () => {
  const generated = execFileSync(join(ROOT, "node_modules/.bin/deno"), [
    "run",
    "-A",
    "scripts/gen-types.ts",
    "--db-url",
    DB_URL,
    "--stdout",
  ], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  expect(generated).toContain("export type Database");
  expect(
    generated === readFileSync(join(ROOT, "web/src/database.types.ts"), "utf8"),
    "the committed types differ from the schema: run npm run gen:types",
  ).toBe(true);
}, 60_000);
