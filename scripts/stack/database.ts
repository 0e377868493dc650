// Brings the database to what the project expects: Supabase's bootstrap, the auth schema, then migrations.
import type { StackConfig } from "./config.ts";
import { ROOT } from "./config.ts";
import { psql } from "./postgres.ts";
import { run } from "./proc.ts";

export const SUPABASE_CLI = `${ROOT}/node_modules/.bin/supabase`;

export async function bootstrapDatabase(cfg: StackConfig) {
  await psql(cfg, ["-f", `${ROOT}/scripts/db/bootstrap.sql`]);
  await psql(cfg, ["-f", `${ROOT}/scripts/db/auth-schema.sql`]);
}

/** The URL for the Supabase CLI: it insists on TLS for hosts it does not take for its own local stack. */
export function cliDbUrl(cfg: StackConfig) {
  return `${cfg.dbUrl}?sslmode=disable`;
}

export async function applyMigrations(cfg: StackConfig) {
  await run(SUPABASE_CLI, ["migration", "up", "--db-url", cliDbUrl(cfg), "--include-all"], { cwd: ROOT });
}

/** Drops everything the project and the auth schema created, then bootstraps and migrates again. */
export async function resetDatabase(cfg: StackConfig) {
  await psql(cfg, ["-c", `
    drop schema if exists public, private, auth, supabase_migrations cascade;
    create schema public;
    grant all on schema public to postgres;
  `]);
  await bootstrapDatabase(cfg);
  await applyMigrations(cfg);
}
