-- Foundation: the private schema, the default grants, the extensions, settings
--
-- What every other file builds on. Files in this folder are applied in name order (00, 10, ...):
-- a file may use what an earlier one declares. Each declares the current state of its domain:
-- its tables, then constraints and indexes, row level security and policies, functions, views,
-- triggers and grants. A change is an edit here plus a migration (`npm run db:diff` writes it;
-- docs/schema.md).
--
-- Conventions (pinned by supabase/tests/010-conventions.test.sql):
-- - `public` holds the tables the Data API exposes, all under RLS, owner-only policies.
-- - `private` holds security definer functions, trigger functions and internal tables; clients
--   get USAGE on the schema and EXECUTE only on the functions granted to them on purpose.
-- - Every function revokes EXECUTE from PUBLIC itself (a per-schema default cannot).

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- Hosted Supabase (and scripts/db/bootstrap.sql) grant every new table, function and sequence
-- in public to anon, authenticated and service_role. Locked down before anything is created,
-- so each object has exactly the grants its file gives it. EXECUTE to PUBLIC on new functions
-- is a global default that a per-schema default cannot take back: every function revokes it.
alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on functions from anon, authenticated, service_role;

-- Not exposed through the Data API: security definer functions, trigger functions and
-- internal tables live here. Clients get USAGE to call the few functions granted to them.
create schema if not exists private;
revoke all on schema private from public, anon, authenticated, service_role;
grant usage on schema private to authenticated, service_role;

-- The extensions, created the way hosted Supabase has them:
--   pg_cron   schedules background work (its control file fixes schema pg_catalog; its objects
--             live in schema `cron`);
--   pg_net    asynchronous HTTP from SQL (schema `net`);
--   vector    pgvector: embeddings and their nearest-neighbour indexes;
--   pg_trgm   trigram similarity;
--   pgroonga  full-text search that tokenises Korean as well as English.
-- pg_cron and pg_net need `shared_preload_libraries` (hosted projects have it; the local stack sets it).
create extension if not exists pg_cron with schema pg_catalog;
create extension if not exists pg_net with schema extensions;
create extension if not exists vector with schema extensions;
create extension if not exists pg_trgm with schema extensions;
create extension if not exists pgroonga with schema extensions;

-- pg_net grants its schema and queue tables to PUBLIC: any signed-in user could make the
-- database send HTTP requests anywhere. Only the owner and the service role may.
revoke all on schema net from public, anon, authenticated;
revoke all on all tables in schema net from public, anon, authenticated;
revoke all on all sequences in schema net from public, anon, authenticated;
revoke execute on all functions in schema net from public, anon, authenticated;
grant usage on schema net to service_role;
grant execute on all functions in schema net to service_role;

-- Scheduling is for the project's owner (migrations), never for API roles.
revoke all on schema cron from public, anon, authenticated;
revoke execute on all functions in schema cron from public, anon, authenticated;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- Where the worker is and the secret it wants. On hosted Supabase these are Vault secrets
-- (`ingest_url`, `ingest_secret`: vault.create_secret); where there is no Vault (the local
-- stack) they are rows here, written by the stack after the migrations. No API role can read it.
CREATE TABLE private.settings (
    name text NOT NULL,
    value text NOT NULL
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (name);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.settings ENABLE ROW LEVEL SECURITY;

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- Shared by every table with an updated_at column.
CREATE FUNCTION private.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- A setting by name: the Vault secret of that name where there is a Vault (hosted), else the
-- row of private.settings.
CREATE FUNCTION private.setting(p_name text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_value text;
begin
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    -- Built with format() so it is checked where it runs: the local database has no vault schema.
    execute pg_catalog.format('select decrypted_secret from %I.%I where name = $1', 'vault', 'decrypted_secrets')
      into v_value using p_name;
    if v_value is not null then
      return v_value;
    end if;
  end if;
  select s.value into v_value from private.settings s where s.name = p_name;
  return v_value;
end;
$_$;

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.set_updated_at() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.setting(p_name text) FROM PUBLIC;
