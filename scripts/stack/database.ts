// Brings the database to what the project expects, in the order hosted Supabase has it:
// Supabase's bootstrap (roles, schemas, grants), Auth's and Storage's own migrations, then ours.
import type { AuthBuild } from "./auth.ts";
import { migrateAuth } from "./auth.ts";
import type { StackConfig } from "./config.ts";
import { LOCAL_INGEST_SECRET, ROOT } from "./config.ts";
import { psql } from "./postgres.ts";
import { run } from "./proc.ts";
import type { StorageBuild } from "./storage.ts";
import { migrateStorage } from "./storage.ts";

export const SUPABASE_CLI = `${ROOT}/node_modules/.bin/supabase`;

/** The URL for the Supabase CLI: it insists on TLS for hosts it does not take for its own local stack. */
export function cliDbUrl(cfg: StackConfig) {
  return `${cfg.dbUrl}?sslmode=disable`;
}

export async function applyMigrations(cfg: StackConfig) {
  await run(SUPABASE_CLI, ["migration", "up", "--db-url", cliDbUrl(cfg), "--include-all"], { cwd: ROOT });
  await writeWorkerSettings(cfg);
}

/**
 * Where pg_net finds the ingest function, and its secret. Hosted projects keep these in Vault
 * (README, "Deployment to a hosted project"); the local Postgres has no Vault, so they go into private.settings.
 */
async function writeWorkerSettings(cfg: StackConfig) {
  // On stdin, not -c: psql substitutes :'variables' only in script input.
  await psql(
    cfg,
    ["-v", `url=${cfg.apiUrl}/functions/v1/ingest`, "-v", `secret=${LOCAL_INGEST_SECRET}`],
    `
    insert into private.settings (name, value) values ('ingest_url', :'url'), ('ingest_secret', :'secret')
    on conflict (name) do update set value = excluded.value;
  `,
  );
}

export async function prepareDatabase(cfg: StackConfig, auth: AuthBuild, storage: StorageBuild) {
  await psql(cfg, ["-f", `${ROOT}/scripts/db/bootstrap.sql`]);
  await migrateAuth(cfg, auth);
  await migrateStorage(cfg, storage);
  const unknown = await migrationsNotInCheckout(cfg);
  if (unknown.length === 0) return await applyMigrations(cfg);
  // Another version of the project made this database (a branch whose migrations were renamed or
  // dropped): the CLI would refuse to go on. The test and bench databases hold nothing to keep.
  const which = `migrations ${unknown.join(", ")} are applied but not in supabase/migrations`;
  if (cfg.profile === "dev") {
    throw new Error(
      `the dev database was made by another version of the project (${which}). ` +
        `Start that version to keep its data, or remove ${cfg.pgHome} (its data goes) and start again.`,
    );
  }
  console.log(`the ${cfg.profile} database was made by another version of the project (${which}): wiping it`);
  await resetDatabase(cfg);
}

/** Versions recorded in the database's migration history that this checkout has no file for. */
async function migrationsNotInCheckout(cfg: StackConfig): Promise<string[]> {
  const history =
    (await psql(cfg, ["-At", "-c", "select to_regclass('supabase_migrations.schema_migrations') is not null"])).trim();
  if (history !== "t") return [];
  const applied =
    (await psql(cfg, ["-At", "-c", "select version from supabase_migrations.schema_migrations order by 1"]))
      .split("\n").map((v) => v.trim()).filter(Boolean);
  const here = new Set<string>();
  for await (const e of Deno.readDir(`${ROOT}/supabase/migrations`)) {
    const version = e.name.match(/^(\d+)_.*\.sql$/)?.[1];
    if (version) here.add(version);
  }
  return applied.filter((v) => !here.has(v));
}

/**
 * Wipes the project's data and schema and applies its migrations again. Auth's and Storage's
 * schemas stay (their servers are running on them); their rows, the project's policies on
 * their tables, and the stored files go.
 */
export async function resetDatabase(cfg: StackConfig) {
  await psql(cfg, [
    "-c",
    `
    drop extension if exists pg_cron, pg_net, vector cascade;
    drop schema if exists public, private, supabase_migrations cascade;
    create schema public;
    grant all on schema public to postgres;
    do $$
    declare t text;
    begin
      -- Policies on Auth's and Storage's tables are all the project's (neither server makes any).
      for t in select format('%I on %I.%I', policyname, schemaname, tablename) from pg_policies
               where schemaname in ('auth', 'storage')
      loop
        execute 'drop policy ' || t;
      end loop;
      for t in select format('%I.%I', schemaname, tablename) from pg_tables
               where schemaname in ('auth', 'storage') and tablename not in ('schema_migrations', 'migrations')
      loop
        execute 'truncate ' || t || ' cascade';
      end loop;
    end
    $$;
  `,
  ]);
  await Deno.remove(cfg.storageDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(cfg.storageDir, { recursive: true });
  await psql(cfg, ["-f", `${ROOT}/scripts/db/bootstrap.sql`]);
  await applyMigrations(cfg);
}
