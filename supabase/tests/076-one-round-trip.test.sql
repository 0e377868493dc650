-- The api function's one-round-trip calls: one statement that becomes the caller, checks the
-- session and reads one page of the caller's rows (or creates a conversation).
begin;
create extension if not exists pgtap with schema extensions;
select plan(27);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset
insert into auth.sessions (id, user_id, created_at) values ('00000000-0000-4000-8000-0000000000a1', :'alice', now());
insert into auth.sessions (id, user_id, created_at) values ('00000000-0000-4000-8000-0000000000b1', :'bob', now());
select json_build_object('sub', :'alice', 'role', 'authenticated', 'session_id', '00000000-0000-4000-8000-0000000000a1')::text
  as alice_claims \gset
select json_build_object('sub', :'bob', 'role', 'authenticated', 'session_id', '00000000-0000-4000-8000-0000000000b1')::text
  as bob_claims \gset

-- Some history to read: alice has two conversations, the first with two messages.
select tests.as_postgres();
insert into public.conversations (id, user_id, title, updated_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'first', '2000-01-01'),
       ('00000000-0000-4000-8000-00000000000b', :'alice', 'second', '2000-01-01');
insert into public.messages (conversation_id, user_id, role, content, created_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'older, written late', '2025-12-31 00:00:00+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'question', '2026-01-01 10:00:00+00');

-- ---- the read functions, called as the api function calls them ----
select tests.as_postgres();
select results_eq(
  format($$ select total, id, title, message_count, preview from private.list_conversations(%L, 20, 0) $$, :'alice_claims'),
  $$ values (2::bigint, '00000000-0000-4000-8000-00000000000a'::uuid, 'first'::text, 2::bigint, 'question'::text),
            (2::bigint, '00000000-0000-4000-8000-00000000000b'::uuid, 'second'::text, 0::bigint, null::text) $$,
  'list_conversations: the caller''s conversations, newest activity first, with the total');
select is(current_user::text, 'authenticated', 'list_conversations became the caller for the rest of the transaction');
select is(auth.uid(), :'alice'::uuid, 'with the caller''s claims');
select tests.as_postgres();
select results_eq(
  format($$ select total, id from private.list_conversations(%L, 1, 1) $$, :'alice_claims'),
  $$ values (2::bigint, '00000000-0000-4000-8000-00000000000b'::uuid) $$,
  'list_conversations pages with limit and offset');
select tests.as_postgres();
select results_eq(
  format($$ select total, id from private.list_conversations(%L, 20, 5) $$, :'alice_claims'),
  $$ values (2::bigint, null::uuid) $$,
  'a page past the end is one row with only the total');
select tests.as_postgres();
select is_empty(
  format($$ select 1 from private.list_conversations(%L, 20, 0) where id is not null $$, :'bob_claims'),
  'another user lists none of them');

select tests.as_postgres();
select results_eq(
  format($$ select total, content from private.list_messages(%L, '00000000-0000-4000-8000-00000000000a', 20, 0) $$,
         :'alice_claims'),
  $$ values (2::bigint, 'older, written late'::text), (2::bigint, 'question'::text) $$,
  'list_messages: the conversation''s messages, oldest first, with the total');
select tests.as_postgres();
select results_eq(
  format($$ select total, id from private.list_messages(%L, '00000000-0000-4000-8000-00000000000b', 20, 0) $$,
         :'alice_claims'),
  $$ values (0::bigint, null::uuid) $$,
  'an empty conversation is one row with total 0');
select tests.as_postgres();
select is_empty(
  format($$ select 1 from private.list_messages(%L, '00000000-0000-4000-8000-00000000000a', 20, 0) $$, :'bob_claims'),
  'list_messages: another user''s conversation is no row at all (not found)');

select tests.as_postgres();
select results_eq(
  format($$ select id, title, message_count, msg_conversation_id, msg_content
            from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 100) $$, :'alice_claims'),
  $$ values ('00000000-0000-4000-8000-00000000000a'::uuid, 'first'::text, 2::bigint, '00000000-0000-4000-8000-00000000000a'::uuid, 'older, written late'::text),
            ('00000000-0000-4000-8000-00000000000a'::uuid, 'first'::text, 2::bigint, '00000000-0000-4000-8000-00000000000a'::uuid, 'question'::text) $$,
  'get_conversation: the conversation with its messages, oldest first');
select tests.as_postgres();
select results_eq(
  format($$ select msg_content from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 1) $$, :'alice_claims'),
  $$ values ('question'::text) $$,
  'get_conversation: only the latest ones when there are more');
select tests.as_postgres();
select results_eq(
  format($$ select title, msg_id from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000b', 100) $$, :'alice_claims'),
  $$ values ('second'::text, null::uuid) $$,
  'get_conversation: an empty conversation is one row without a message');
select tests.as_postgres();
select is_empty(
  format($$ select 1 from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 100) $$, :'bob_claims'),
  'get_conversation: another user''s conversation is no row at all (not found)');
select tests.as_postgres();
select results_eq(
  format($$ select title, model, message_count, preview from private.create_conversation(%L, 'made here', null, 'gpt-4o-mini', null) $$,
         :'alice_claims'),
  $$ values ('made here'::text, 'gpt-4o-mini'::text, 0::bigint, null::text) $$,
  'create_conversation: creates a conversation and returns it as the list shows it');
select tests.as_postgres();
select is((select user_id from public.conversations where title = 'made here'), :'alice'::uuid,
  'create_conversation: the conversation is the caller''s');
select tests.as_postgres();
select ok(
  (select title ~ '^Conversation \d{4}-\d{2}-\d{2} \d{2}:\d{2}$' from private.create_conversation(:'alice_claims', null, null, null, null)),
  'create_conversation: without a title, a dated one');
select tests.as_postgres();
select is((select sum(conversations)::bigint from private.conversation_counts where user_id = :'alice'), 4::bigint, 'and both are counted');
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
values (:'bob', 'bob key', 'openai', 'c', 'h', 'fp-bob') returning id as bobkey \gset
select throws_ok(
  format($$ select * from private.create_conversation(%L, 'stolen key', %L, null, null) $$, :'alice_claims', :'bobkey'),
  '23503', null, 'create_conversation: another user''s key is refused');
select tests.as_postgres();
select throws_ok(
  format($$ select * from private.list_conversations(%L, 20, 0) $$,
         json_build_object('sub', :'bob', 'role', 'authenticated', 'session_id', '00000000-0000-4000-8000-0000000000a1')),
  'PT401', 'session ended',
  'claims naming another user''s session are refused');
select tests.as_postgres();
delete from auth.sessions where id = '00000000-0000-4000-8000-0000000000a1';
select throws_ok(format($$ select * from private.list_conversations(%L, 20, 0) $$, :'alice_claims'),
  'PT401', 'session ended', 'after logout (the session row is gone) the read is refused');
select throws_ok(
  format($$ select * from private.list_messages(%L, '00000000-0000-4000-8000-00000000000a', 20, 0) $$, :'alice_claims'),
  'PT401', 'session ended', 'list_messages also checks the session');
select throws_ok(format($$ select * from private.create_conversation(%L, 'late', null, null, null) $$, :'alice_claims'),
  'PT401', 'session ended', 'create_conversation also checks the session');
select throws_ok(
  format($$ select * from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 100) $$, :'alice_claims'),
  'PT401', 'session ended', 'get_conversation also checks the session');
select tests.as_postgres();

select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.oid in ('private.list_conversations(text,integer,integer)'::regprocedure,
                        'private.list_messages(text,uuid,integer,integer)'::regprocedure,
                        'private.create_conversation(text,text,uuid,text,text)'::regprocedure,
                        'private.get_conversation(text,uuid,integer)'::regprocedure)
          and 'jit=off' = any(p.proconfig)
        order by 1),
  array['private.create_conversation(text,text,uuid,text,text)', 'private.get_conversation(text,uuid,integer)',
        'private.list_conversations(text,integer,integer)',
        'private.list_messages(text,uuid,integer,integer)'],
  'the one-round-trip functions run with JIT off');
select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace = 'private'::regnamespace and 'plan_cache_mode=force_generic_plan' = any(p.proconfig)
        order by 1),
  array['private.get_conversation(text,uuid,integer)', 'private.list_conversations(text,integer,integer)',
        'private.list_messages(text,uuid,integer,integer)'],
  'the read functions keep one plan per connection (a small user''s reads are not re-planned beside a big user)');
-- A SQL function Postgres cannot inline (security definer, or a SET clause) is parsed and planned
-- on every call (no plan cache for SQL bodies in Postgres 15): the session check alone was a
-- quarter of Postgres's CPU per created conversation. What runs per request is plpgsql
-- (20261127005000); the two left run once per question or per worker poll.
select is(
  array(select p.pronamespace::regnamespace::text || '.' || p.proname from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
          and p.prolang = (select oid from pg_language where lanname = 'sql')
          and (p.prosecdef or p.proconfig is not null)
        order by 1),
  array['private.claim_ingest_job', 'private.search_conversation_chunks']::text[],
  'no SQL function that is re-planned on every call runs per request');
select ok(
  not has_function_privilege('authenticated', 'private.begin_request(text)', 'execute')
  and not has_function_privilege('service_role', 'private.begin_request(text)', 'execute')
  and not has_function_privilege('anon', 'private.begin_request(text)', 'execute'),
  'no API role can become another user through begin_request');

select * from finish();
rollback;
