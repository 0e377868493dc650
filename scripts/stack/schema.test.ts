// The schema files (supabase/schemas/) and the migrations (supabase/migrations/) make the same
// database: both are built into scratch databases of the test stack's cluster and compared
// object by object (pg_dump of public and private; the grants, policies, triggers, cron jobs and
// rows the project makes elsewhere). A difference fails with the objects it concerns; then
// `npm run db:diff` prints the migration to add (docs/schema.md).
import assert from "node:assert/strict";
import { stackConfig } from "./config.ts";
import { buildBoth, describe, differences, dropDatabase, psqlAt, report } from "./schema.ts";

const cfg = stackConfig("test");
const names = { migrations: "scratch_migrations", schemas: "scratch_schemas" };

Deno.test("the migrations make what supabase/schemas declares, and the comparison sees a change", async (t) => {
  const { migrations, schemas } = await buildBoth(cfg, names);
  try {
    const fromMigrations = await describe(migrations);

    await t.step("no object differs", async () => {
      const diffs = differences(fromMigrations, await describe(schemas));
      assert.equal(
        report(diffs),
        "",
        "supabase/schemas and supabase/migrations disagree (npm run db:diff prints the migration to add)",
      );
    });

    // The same comparison, after the kinds of change that must not go unseen.
    await t.step("a changed function, grant, Storage policy, cron job and price are each named", async () => {
      await psqlAt(
        schemas,
        [],
        `
        create or replace function private.setting(p_name text) returns text language sql as 'select null::text';
        grant select on public.documents to anon;
        drop policy "documents: owner deletes own files" on storage.objects;
        select cron.schedule('ingest-documents', '1 minute', 'select private.kick_ingest()');
        delete from public.model_prices where model = 'gpt-4o';
      `,
      );
      const lines = report(differences(fromMigrations, await describe(schemas))).split("\n");
      assert.deepEqual(lines, [
        "differs: ACL public.TABLE documents",
        "differs: CRON JOB ingest-documents",
        "differs: FUNCTION private.setting(text)",
        "only in supabase/migrations: POLICY storage.objects documents: owner deletes own files",
        "only in supabase/migrations: ROW public.model_prices openai gpt-4o 2025-01-01 00:00:00+00",
      ]);
    });
  } finally {
    await dropDatabase(cfg, names.migrations);
    await dropDatabase(cfg, names.schemas);
  }
});
