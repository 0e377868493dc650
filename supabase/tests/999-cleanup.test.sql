-- Runs last: checks the files before it left nothing behind, then drops the helpers
-- 000-helpers.test.sql created, leaving the database as the migrations made it.
begin;
create extension if not exists pgtap with schema extensions;
select plan(3);
select is(
  (select count(*)::int from auth.users where email like '%@example.test'),
  0,
  'no test file left a user behind (each runs in a transaction that rolls back)');
-- Without cascade: if anything outside the schema came to depend on a helper (a view, a policy,
-- a default), or something else was left in it, this fails instead of silently dropping that too.
select lives_ok(
  $$ drop function tests.create_user(text, text), tests.user_id(text), tests.authenticate_as(text),
       tests.clear_authentication(), tests.as_postgres(), tests.explain(text);
     drop schema tests $$,
  'the helpers and their schema drop without cascade: nothing else is in or depends on them');
select is(
  (select count(*)::int from pg_extension where extname = 'pgtap'), 1,
  'pgTAP exists only inside this transaction');
select * from finish();
rollback;

set client_min_messages = warning;
drop schema if exists tests cascade;
reset client_min_messages;
