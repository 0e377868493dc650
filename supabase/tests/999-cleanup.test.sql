-- Runs last: drops the helpers 000-helpers.test.sql created, leaving the database as the
-- migrations made it.
set client_min_messages = warning;
drop schema if exists tests cascade;
reset client_min_messages;

begin;
create extension if not exists pgtap with schema extensions;
select plan(2);
select hasnt_schema('tests', 'the test helpers are gone');
select is(
  (select count(*)::int from pg_extension where extname = 'pgtap'), 1,
  'pgTAP exists only inside this transaction');
select * from finish();
rollback;
