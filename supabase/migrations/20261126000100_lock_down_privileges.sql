-- Hosted Supabase (and scripts/db/bootstrap.sql) grant every new table, function and
-- sequence in public to anon, authenticated and service_role. Lock that down before
-- anything is created, so each object gets exactly the grants its migration gives it.
alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on functions from anon, authenticated, service_role;
-- EXECUTE to PUBLIC on new functions is a global default that a per-schema default cannot
-- take back, so every function revokes it from public explicitly in its own migration.

-- Not exposed through the Data API: security definer functions and trigger functions live here.
-- Clients get USAGE so they can call the few functions granted to them on purpose.
create schema if not exists private;
revoke all on schema private from public, anon, authenticated, service_role;
grant usage on schema private to authenticated, service_role;

-- Shared by every table with an updated_at column.
create or replace function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
revoke all on function private.set_updated_at() from public, anon, authenticated, service_role;
