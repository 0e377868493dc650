// `npm run gen:types`: writes web/src/database.types.ts, the `Database` type supabase-js is typed
// with, from the live schema of a running stack, with @supabase/postgres-meta's generator: the
// same program `supabase gen types typescript` runs in its container (its server module in type
// generation mode). tests/web/types.test.ts generates again from the test stack's freshly
// migrated database and fails when the committed file differs.
//   deno run -A scripts/gen-types.ts [--profile dev|test] [--db-url URL] [--stdout]
import { parseArgs } from "node:util";
import { type Profile, ROOT, stackConfig } from "./stack/config.ts";

export const TYPES_FILE = `${ROOT}/web/src/database.types.ts`;
const GENERATOR = `${ROOT}/node_modules/@supabase/postgres-meta/dist/server/server.js`;

export async function generateTypes(dbUrl: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("node", {
    args: [GENERATOR],
    env: {
      PG_META_DB_URL: dbUrl,
      PG_META_GENERATE_TYPES: "typescript",
      PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS: "public",
      PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS: "true",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (code !== 0) {
    throw new Error(`postgres-meta's type generator failed (exit ${code}): ${dec.decode(stderr).slice(-2000)}`);
  }
  return dec.decode(stdout);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      profile: { type: "string", default: "dev" },
      "db-url": { type: "string" },
      stdout: { type: "boolean", default: false },
    },
  });
  const types = await generateTypes(values["db-url"] ?? stackConfig(values.profile as Profile).dbUrl);
  if (values.stdout) await Deno.stdout.write(new TextEncoder().encode(types));
  else {
    await Deno.writeTextFile(TYPES_FILE, types);
    console.log(`wrote ${TYPES_FILE.slice(ROOT.length + 1)}`);
  }
}
