// `npm run db:diff`: what a new migration must do so that the migrations make what the schema
// files declare. Builds both into scratch databases of the running test stack's cluster (no
// Docker: `supabase db diff` needs it), names each object that differs, and prints migra's SQL.
// `npm run db:diff -- --write <name>` also writes it to supabase/migrations/<UTC timestamp>_<name>.sql.
// `npm run db:diff -- --from-migrations` prints instead what the migrations make of each differing
// object (pg_dump's text), to fold a migration written by hand into the schema files.
// Review it before committing: migra drops and recreates what it cannot alter, and cron jobs and
// rows (prices, the storage bucket) are named here but must be written by hand.
import { stackConfig } from "./stack/config.ts";
import { runningPid } from "./stack/proc.ts";
import {
  buildBoth,
  describe,
  type Difference,
  differences,
  dropDatabase,
  migraDiff,
  MIGRATIONS_DIR,
  report,
} from "./stack/schema.ts";

const writeAs = Deno.args.includes("--write") ? Deno.args[Deno.args.indexOf("--write") + 1] : undefined;
if (Deno.args.includes("--write") && !/^[a-z0-9_]+$/.test(writeAs ?? "")) {
  console.error("--write takes a migration name: lower case letters, digits and _");
  Deno.exit(1);
}
const fromMigrations = Deno.args.includes("--from-migrations");
const cfg = stackConfig("test");
if ((await runningPid(cfg.pidFile)) === null) {
  console.error(
    "db:diff builds scratch databases in the test stack's cluster: start it first (npm run start:background -- --profile test)",
  );
  Deno.exit(1);
}

const names = { migrations: "diff_from_migrations", schemas: "diff_from_schemas" };
try {
  const { migrations, schemas } = await buildBoth(cfg, names);
  const diffs = differences(await describe(migrations), await describe(schemas));
  if (diffs.length === 0) console.log("supabase/migrations and supabase/schemas agree: no migration to add");
  else if (fromMigrations) printDefinitions(diffs);
  else await printMigration(diffs, migrations, schemas);
} finally {
  await dropDatabase(cfg, names.migrations);
  await dropDatabase(cfg, names.schemas);
}

function printDefinitions(diffs: Difference[]) {
  for (const d of diffs) {
    console.log(
      `-- ${d.key}: ${
        d.migrations === null
          ? "not made by the migrations (drop it from supabase/schemas)"
          : "as the migrations make it"
      }`,
    );
    // The owner is the migrations' role either way: a schema file does not say it.
    const definition = d.migrations?.split("\n").filter((l) => !/^ALTER .* OWNER TO /.test(l)).join("\n").trim();
    if (definition) console.log(`${definition}\n`);
  }
}

async function printMigration(diffs: Difference[], migrations: string, schemas: string) {
  console.log(`-- ${diffs.length} objects differ between supabase/migrations and supabase/schemas:`);
  console.log(report(diffs).replace(/^/gm, "--   "));
  const handWritten = diffs.filter((d) =>
    /^(CRON JOB|ROW|EXTENSION|DEFAULT PRIVILEGES|SCHEMA PRIVILEGES) /.test(d.key)
  );
  if (handWritten.length) {
    console.log(`-- migra does not write: ${handWritten.map((d) => d.key).join(", ")} (write those by hand)`);
  }
  const sql = await migraDiff(migrations, schemas);
  console.log(sql ? `\n${sql}` : "-- migra: no DDL needed");
  if (writeAs && sql) {
    const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
    const file = `${MIGRATIONS_DIR}/${stamp}_${writeAs}.sql`;
    await Deno.writeTextFile(file, `-- Made by npm run db:diff from supabase/schemas/; reviewed by hand.\n${sql}\n`);
    console.error(`wrote ${file}`);
  }
}
