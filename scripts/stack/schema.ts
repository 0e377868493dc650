// The schema files (supabase/schemas/, the current state, one file per domain) and the
// migrations (supabase/migrations/, how a database gets there) must describe the same database.
// This builds each into a scratch database of the running stack's cluster and compares them,
// object by object: `npm test` fails on any difference (scripts/stack/schema.test.ts), and
// `npm run db:diff` (scripts/db-diff.ts) prints the migration that makes up the difference.
import { ROOT, type StackConfig } from "./config.ts";
import { output, run } from "./proc.ts";
import { ensurePythonTool } from "./python-tools.ts";

export const SCHEMA_DIR = `${ROOT}/supabase/schemas`;
export const MIGRATIONS_DIR = `${ROOT}/supabase/migrations`;

/** The .sql files of a folder, in the order they are applied (by name). */
export async function sqlFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".sql")) names.push(e.name);
  return names.sort().map((n) => `${dir}/${n}`);
}

/** The URL of another database in the same cluster as the stack's. */
export function databaseUrl(cfg: StackConfig, name: string) {
  return cfg.dbUrl.replace(/\/postgres$/, `/${name}`);
}

/** psql on the database at `url`, stopping at the first error. */
export function psqlAt(url: string, args: string[], stdin?: string) {
  return run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, ...args], { stdin });
}

const CRON_EXTENSION = /^create extension if not exists pg_cron with schema pg_catalog;$/im;

/**
 * pg_cron can only be created in the one database it runs jobs for (the stack's `postgres`);
 * a scratch database gets a stand-in `cron` schema whose `cron.schedule` records the jobs,
 * so that the jobs are compared too, and the extension's line is left out when applying.
 */
const CRON_STAND_IN = `
  create schema cron;
  create table cron.job (jobname text primary key, schedule text not null, command text not null);
  create function cron.schedule(job_name text, schedule text, command text) returns bigint
  language sql as $$
    insert into cron.job values (job_name, schedule, command)
    on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command;
    select 0::bigint;
  $$;
`;

/**
 * What Auth's and Storage's servers made in the stack's database (their schemas, without the
 * project's triggers and policies on their tables), to restore into scratch databases.
 */
async function authAndStorageSchemas(cfg: StackConfig): Promise<string> {
  const dump = await run("pg_dump", ["--schema-only", "-n", "auth", "-n", "storage", cfg.dbUrl]);
  return dumpEntries(dump)
    .filter((e) => e.type !== "SCHEMA" && e.type !== "POLICY" && !(e.type === "TRIGGER" && e.body.includes("private.")))
    .map((e) => e.body).join("\n\n");
}

/** A fresh database named `name` in the stack's cluster, as hosted Supabase has one before any migration. */
export async function scratchDatabase(cfg: StackConfig, name: string, authAndStorage?: string): Promise<string> {
  await psqlAt(cfg.dbUrl, ["-c", `drop database if exists ${name} with (force)`, "-c", `create database ${name}`]);
  const url = databaseUrl(cfg, name);
  await psqlAt(url, ["-c", `alter database ${name} set search_path = "$user", public, extensions`]);
  await psqlAt(url, ["-f", `${ROOT}/scripts/db/bootstrap.sql`]);
  await psqlAt(url, [], "set check_function_bodies = false;\n" + (authAndStorage ?? await authAndStorageSchemas(cfg)));
  await psqlAt(url, [], CRON_STAND_IN);
  return url;
}

/** Applies SQL files in order, each in one transaction, as `supabase migration up` does. */
export async function applyFiles(url: string, files: string[]) {
  for (const file of files) {
    const sql = (await Deno.readTextFile(file)).replace(
      CRON_EXTENSION,
      "-- (pg_cron: the scratch database's stand-in)",
    );
    try {
      await psqlAt(url, ["-1"], sql);
    } catch (e) {
      throw new Error(`${file.replace(`${ROOT}/`, "")}: ${(e as Error).message}`);
    }
  }
}

export async function dropDatabase(cfg: StackConfig, name: string) {
  await psqlAt(cfg.dbUrl, ["-c", `drop database if exists ${name} with (force)`]);
}

export interface Entry {
  /** e.g. `FUNCTION private.store_answer(...)`, `POLICY storage.objects "documents: ..."`, `CRON JOB ingest-documents`. */
  key: string;
  type: string;
  body: string;
}

/** Splits pg_dump's output into its entries (each headed by `-- Name: ...; Type: ...; Schema: ...`). */
export function dumpEntries(dump: string): Entry[] {
  const parts = dump.split(/\n--\n-- (Name: [^\n]*)\n--\n/);
  const entries: Entry[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const m = parts[i].match(/^Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$/);
    if (!m) continue;
    const [, name, type, schema] = m;
    const body = parts[i + 1]
      .split("\n")
      // pg_dump's \restrict lines carry a random key; its closing comment is not an object.
      .filter((l) => !/^\\(un)?restrict /.test(l) && !/^-- PostgreSQL database dump complete/.test(l))
      .map((l) => l.trimEnd())
      .join("\n").trim();
    entries.push({ key: `${type} ${schema === "-" ? "" : `${schema}.`}${name}`, type, body });
  }
  return entries;
}

const CATALOG_QUERIES: [string, string][] = [
  [
    "EXTENSION",
    `select e.extname, format('%s in schema %s', e.extname, n.nspname) from pg_extension e join pg_namespace n on n.oid = e.extnamespace`,
  ],
  [
    "DEFAULT PRIVILEGES",
    `select format('%s in %s on %s', pg_get_userbyid(d.defaclrole), coalesce(n.nspname, 'all schemas'), d.defaclobjtype),
     d.defaclacl::text from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace`,
  ],
  [
    "SCHEMA PRIVILEGES",
    `select nspname, coalesce(nspacl::text, '') from pg_namespace where nspname in ('public', 'private', 'net', 'cron', 'extensions')`,
  ],
  [
    "POLICY",
    `select format('%s.%s %s', schemaname, tablename, policyname),
     format('%s %s to %s using (%s) with check (%s)', permissive, cmd, roles::text, qual, with_check)
     from pg_policies where schemaname in ('auth', 'storage')`,
  ],
  [
    "TRIGGER",
    `select format('%s %s', t.tgrelid::regclass, t.tgname), pg_get_triggerdef(t.oid)
     from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('auth', 'storage') and not t.tgisinternal and t.tgfoid::regproc::text like 'private.%'`,
  ],
  ["CRON JOB", `select jobname, format('%s: %s', schedule, command) from cron.job`],
  ["ROW storage.buckets", `select id, row_to_json(b)::jsonb - 'created_at' - 'updated_at' from storage.buckets b`],
  [
    "ROW public.model_prices",
    `select format('%s %s %s', provider, model, valid_from), row_to_json(p)::text from public.model_prices p`,
  ],
  ["ROW private.settings", `select name, value from private.settings`],
];

/** The database's schema as entries: pg_dump of public and private, and what the project makes elsewhere. */
export async function describe(url: string): Promise<Entry[]> {
  const dump = await run("pg_dump", ["--schema-only", "-n", "public", "-n", "private", url]);
  const entries = dumpEntries(dump);
  for (const [type, query] of CATALOG_QUERIES) {
    const rows = await psqlAt(url, ["-At", "-F", "\t", "-c", query]);
    for (const row of rows.split("\n").filter(Boolean)) {
      const [name, ...rest] = row.split("\t");
      entries.push({ key: `${type} ${name}`, type, body: rest.join("\t") });
    }
  }
  return entries;
}

export interface Difference {
  key: string;
  /** What the migrations make of it, and what the schema files make of it (null: not there). */
  migrations: string | null;
  schemas: string | null;
}

export function differences(fromMigrations: Entry[], fromSchemas: Entry[]): Difference[] {
  const byKey = (entries: Entry[]) => {
    const map = new Map<string, string>();
    // A key can repeat (an ACL entry per grant group): join them in order.
    for (const e of entries) map.set(e.key, map.has(e.key) ? `${map.get(e.key)}\n${e.body}` : e.body);
    return map;
  };
  const a = byKey(fromMigrations), b = byKey(fromSchemas);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => ({
    key: k,
    migrations: a.get(k) ?? null,
    schemas: b.get(k) ?? null,
  }));
}

/** One line per differing object, naming it and which side has what. */
export function report(diffs: Difference[]): string {
  return diffs.map((d) =>
    d.migrations === null
      ? `only in supabase/schemas: ${d.key}`
      : d.schemas === null
      ? `only in supabase/migrations: ${d.key}`
      : `differs: ${d.key}`
  ).join("\n");
}

/** Builds both scratch databases and returns their URLs (the caller drops them). */
export async function buildBoth(
  cfg: StackConfig,
  names = { migrations: "scratch_migrations", schemas: "scratch_schemas" },
) {
  const authAndStorage = await authAndStorageSchemas(cfg);
  const migrations = await scratchDatabase(cfg, names.migrations, authAndStorage);
  await applyFiles(migrations, await sqlFiles(MIGRATIONS_DIR));
  const schemas = await scratchDatabase(cfg, names.schemas, authAndStorage);
  await applyFiles(schemas, await sqlFiles(SCHEMA_DIR));
  return { migrations, schemas };
}

/** migra (PyPI), the schema diff the Supabase CLI's own `db diff` used, without Docker. */
const MIGRA_PACKAGES = [
  "migra==3.0.1663481299",
  "schemainspect==3.1.1663587362",
  "sqlbag==0.1.1617247075",
  "SQLAlchemy==2.1.9",
  "psycopg2-binary==2.9.13",
];

/** The SQL that turns the database at `fromUrl` into the one at `toUrl` (empty: none needed). */
export async function migraDiff(fromUrl: string, toUrl: string): Promise<string> {
  const migra = await ensurePythonTool("migra-3.0.1663481299", MIGRA_PACKAGES, "migra");
  // SQLAlchemy 2.1 takes a plain postgresql:// URL for psycopg 3; migra's driver is psycopg2.
  const driver = (url: string) => url.replace(/^postgresql:/, "postgresql+psycopg2:");
  const { code, stdout, stderr } = await output(migra, [
    "--unsafe",
    "--with-privileges",
    driver(fromUrl),
    driver(toUrl),
  ]);
  // migra exits 2 when there are differences, 0 when there are none.
  if (code !== 0 && code !== 2) {
    throw new Error(`migra failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
  return stdout.trim();
}
