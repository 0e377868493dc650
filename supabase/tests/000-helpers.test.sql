-- Test helpers shared by every test file. pg_prove (and `supabase test db`) run the files
-- in name order, each in its own transaction that rolls back, so this one file creates
-- the helpers outside a transaction, where they stay for the files after it, and
-- 999-cleanup.test.sql drops them again. To run a single file, run this one with it:
--   pg_prove -d "$DB_URL" supabase/tests/000-helpers.test.sql supabase/tests/050-messages.test.sql
-- Nothing here is part of the schema: it lives in the `tests` schema, which the API does not expose.

-- pgTAP is created inside each file's transaction, so it never stays installed: an installed
-- pgTAP fails `supabase db lint` on schema extensions. Remove one an earlier run left behind.
set client_min_messages = warning;
drop extension if exists pgtap;
reset client_min_messages;

create schema if not exists tests;
revoke all on schema tests from public, anon, authenticated, service_role;

-- Signs up a user the way the Auth server does (a row in auth.users with the username in
-- the user metadata) and returns the new id. Call it as postgres.
create or replace function tests.create_user(p_username text, p_email text default null)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
begin
  insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
  values (
    v_id, 'authenticated', 'authenticated',
    coalesce(p_email, lower(p_username) || '@example.test'),
    jsonb_build_object('username', p_username),
    '{"provider": "email", "providers": ["email"]}'::jsonb,
    now(), now()
  );
  return v_id;
end;
$$;

create or replace function tests.user_id(p_username text)
returns uuid
language sql
stable
set search_path = ''
as $$
  select p.id from public.profiles p where lower(p.username) = lower(p_username);
$$;

-- Acts as that user for the rest of the transaction, as PostgREST and the api function do:
-- role authenticated and the JWT claims in request.jwt.claims.
create or replace function tests.authenticate_as(p_username text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid;
begin
  -- Look the user up before giving up postgres' privileges.
  perform set_config('role', 'postgres', true);
  v_id := tests.user_id(p_username);
  if v_id is null then
    raise exception 'tests.authenticate_as: no user named %', p_username;
  end if;
  perform set_config('request.jwt.claims',
    json_build_object('sub', v_id, 'role', 'authenticated', 'aud', 'authenticated',
                      'session_id', gen_random_uuid())::text,
    true);
  perform set_config('role', 'authenticated', true);
end;
$$;

-- Acts as a visitor with no session: role anon, no claims.
create or replace function tests.clear_authentication()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'anon', true);
end;
$$;

-- Back to the session's own role (postgres), e.g. to set up data between checks.
create or replace function tests.as_postgres()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'postgres', true);
end;
$$;

-- The plan of a query, one line per row, for checks on how a query runs.
create or replace function tests.explain(p_query text)
returns setof text
language plpgsql
set search_path = ''
as $$
begin
  return query execute 'explain (costs off) ' || p_query;
end;
$$;

-- Tests switch users while acting as one; switching back to postgres works only because
-- the session user running the tests is postgres.
grant usage on schema tests to anon, authenticated;
grant execute on all functions in schema tests to anon, authenticated;

-- The helpers do what the other files rely on (checked by behaviour, not by existence).
begin;
create extension if not exists pgtap with schema extensions;
select plan(10);
select tests.create_user('Helper_Probe') as probe \gset
select is((select username from public.profiles where id = :'probe'), 'Helper_Probe',
  'create_user signs a user up with the username (the profile trigger ran)');
select is(tests.user_id('helper_probe'), :'probe'::uuid, 'user_id finds a user by username, in any case');
select tests.authenticate_as('helper_probe');
select is(current_user::text, 'authenticated', 'authenticate_as switches to role authenticated');
select is(auth.uid(), :'probe'::uuid, 'authenticate_as sets the claims auth.uid() reads');
select is(auth.jwt() ->> 'role', 'authenticated', 'the claims carry the role, as PostgREST''s do');
select tests.clear_authentication();
select is(current_user::text, 'anon', 'clear_authentication switches to anon');
select is(auth.uid(), null, 'with no claims auth.uid() is null');
select tests.as_postgres();
select is(current_user::text, 'postgres', 'as_postgres switches back to postgres');
select throws_ok($$ select tests.authenticate_as('nobody_by_that_name') $$, 'P0001', null,
  'authenticate_as refuses an unknown user rather than acting as nobody');
select ok(exists (select 1 from tests.explain('select 1') l where l ~ '^Result'), 'explain returns the plan''s lines');
select * from finish();
rollback;
