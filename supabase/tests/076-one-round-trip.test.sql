-- The api function's one-round-trip calls: one statement that becomes the caller, checks the
-- session and reads one page of the caller's rows (or creates a conversation).
begin;
create extension if not exists pgtap with schema extensions;
select plan(32);

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
  format($$ select l.total, l.items, c.id, c.title, c.message_count, c.preview
            from private.list_conversations(%L, 20, 0) l,
                 json_to_recordset(l.data::json) c(id uuid, title text, message_count bigint, preview text) $$, :'alice_claims'),
  $$ values (2::bigint, 2, '00000000-0000-4000-8000-00000000000a'::uuid, 'first'::text, 2::bigint, 'question'::text),
            (2::bigint, 2, '00000000-0000-4000-8000-00000000000b'::uuid, 'second'::text, 0::bigint, null::text) $$,
  'list_conversations: the caller''s conversations, newest activity first, with the total and the number on the page');
select is(current_user::text, 'authenticated', 'list_conversations became the caller for the rest of the transaction');
select is(auth.uid(), :'alice'::uuid, 'with the caller''s claims');
select tests.as_postgres();
select results_eq(
  format($$ select l.total, l.items, l.data::json->0->>'id' from private.list_conversations(%L, 1, 1) l $$, :'alice_claims'),
  $$ values (2::bigint, 1, '00000000-0000-4000-8000-00000000000b'::text) $$,
  'list_conversations pages with limit and offset');
select tests.as_postgres();
select results_eq(
  format($$ select total, items, data::text from private.list_conversations(%L, 20, 5) $$, :'alice_claims'),
  $$ values (2::bigint, 0, '[]'::text) $$,
  'a page past the end is the total and an empty array');
select tests.as_postgres();
select results_eq(
  format($$ select total, items, data::text from private.list_conversations(%L, 20, 0) $$, :'bob_claims'),
  $$ values (0::bigint, 0, '[]'::text) $$,
  'another user lists none of them');

select tests.as_postgres();
select results_eq(
  format($$ select l.total, l.items, m.content
            from private.list_messages(%L, '00000000-0000-4000-8000-00000000000a', 20, 0) l,
                 json_to_recordset(l.data::json) m(content text) $$,
         :'alice_claims'),
  $$ values (2::bigint, 2, 'older, written late'::text), (2::bigint, 2, 'question'::text) $$,
  'list_messages: the conversation''s messages, oldest first, with the total');
select tests.as_postgres();
select results_eq(
  format($$ select total, items, data::text from private.list_messages(%L, '00000000-0000-4000-8000-00000000000b', 20, 0) $$,
         :'alice_claims'),
  $$ values (0::bigint, 0, '[]'::text) $$,
  'an empty conversation is one row with total 0 and an empty array');
select tests.as_postgres();
select is(
  (select data::json->1->>'created_at' from private.list_messages(:'alice_claims', '00000000-0000-4000-8000-00000000000a', 20, 0)),
  '2026-01-01T10:00:00.000Z',
  'timestamps are written as JavaScript''s Date.toJSON writes them (UTC, milliseconds, Z)');
select tests.as_postgres();
select is_empty(
  format($$ select 1 from private.list_messages(%L, '00000000-0000-4000-8000-00000000000a', 20, 0) $$, :'bob_claims'),
  'list_messages: another user''s conversation is no row at all (not found)');

select tests.as_postgres();
select results_eq(
  format($$ select (g.data::json->>'id')::uuid, g.data::json->>'title', (g.data::json->>'message_count')::bigint, m.conversation_id, m.content
            from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 100) g,
                 json_to_recordset(g.data::json->'messages') m(conversation_id uuid, content text) $$, :'alice_claims'),
  $$ values ('00000000-0000-4000-8000-00000000000a'::uuid, 'first'::text, 2::bigint, '00000000-0000-4000-8000-00000000000a'::uuid, 'older, written late'::text),
            ('00000000-0000-4000-8000-00000000000a'::uuid, 'first'::text, 2::bigint, '00000000-0000-4000-8000-00000000000a'::uuid, 'question'::text) $$,
  'get_conversation: the conversation with its messages, oldest first');
select tests.as_postgres();
select results_eq(
  format($$ select m.content from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 1) g,
                                  json_to_recordset(g.data::json->'messages') m(content text) $$, :'alice_claims'),
  $$ values ('question'::text) $$,
  'get_conversation: only the latest ones when there are more');

-- A read sweeps the caller's stale exchanges (it skips the sweep when the caller has nothing
-- pending): a question pending for two hours with no reservation shows failed (interrupted).
select tests.as_postgres();
insert into public.messages (conversation_id, user_id, role, content, status, created_at)
values ('00000000-0000-4000-8000-00000000000b', :'alice', 'user', 'asked long ago', 'pending', now() - interval '2 hours');
select is(
  (select m->>'status' || '/' || (m->>'error_code')
   from private.list_messages(:'alice_claims', '00000000-0000-4000-8000-00000000000b', 20, 0) l,
        json_array_elements(l.data::json) m
   where m->>'content' = 'asked long ago'),
  'failed/interrupted',
  'list_messages: a question whose request died long ago is failed (interrupted) by the read');
select tests.as_postgres();
update public.messages set status = 'pending', error_code = null where content = 'asked long ago';
select is(
  (select m->>'status'
   from private.get_conversation(:'alice_claims', '00000000-0000-4000-8000-00000000000b', 100) g,
        json_array_elements(g.data::json->'messages') m
   where m->>'content' = 'asked long ago'),
  'failed',
  'get_conversation: the same');
select tests.as_postgres();
delete from public.messages where content = 'asked long ago';
select tests.as_postgres();
select results_eq(
  format($$ select data::json->>'title', (data::json->'messages')::text from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000b', 100) $$, :'alice_claims'),
  $$ values ('second'::text, '[]'::text) $$,
  'get_conversation: an empty conversation has an empty array of messages');
select tests.as_postgres();
select is_empty(
  format($$ select 1 from private.get_conversation(%L, '00000000-0000-4000-8000-00000000000a', 100) $$, :'bob_claims'),
  'get_conversation: another user''s conversation is no row at all (not found)');
select tests.as_postgres();
select results_eq(
  format($$ select c.title, c.model, c.message_count, c.preview
            from private.create_conversation(%L, 'made here', null, 'gpt-4o-mini', null) r,
                 json_to_record(r.data::json) c(title text, model text, message_count bigint, preview text) $$,
         :'alice_claims'),
  $$ values ('made here'::text, 'gpt-4o-mini'::text, 0::bigint, null::text) $$,
  'create_conversation: creates a conversation and returns it as the list shows it');
select tests.as_postgres();
select is((select user_id from public.conversations where title = 'made here'), :'alice'::uuid,
  'create_conversation: the conversation is the caller''s');
select tests.as_postgres();
select ok(
  (select data::json->>'title' ~ '^Conversation \d{4}-\d{2}-\d{2} \d{2}:\d{2}$' from private.create_conversation(:'alice_claims', null, null, null, null)),
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
-- (supabase/schemas/); the two left run once per question or per worker poll.
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

-- api_json is the row as the API shows it, after every kind of write: inserts, messages arriving
-- and deleted, a rename, a key set and then deleted (its foreign key sets api_key_id null).
insert into public.api_keys (id, user_id, name, provider, secret_ciphertext, hint, fingerprint)
values ('00000000-0000-4000-8000-0000000000c1', :'alice', 'alice key', 'openai', 'c', 'h', 'fp-alice');
update public.conversations set title = 'first, renamed', api_key_id = '00000000-0000-4000-8000-0000000000c1'
where id = '00000000-0000-4000-8000-00000000000a';
delete from public.messages where content = 'question';
delete from public.api_keys where id = '00000000-0000-4000-8000-0000000000c1';
select is_empty(format($$
  select c.id from public.conversations c
  where c.user_id in (%L, %L) and c.api_json is distinct from (
    select row_to_json(r)::text from (
      select c.id, c.title, c.api_key_id, c.model, c.system_prompt,
             to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
             to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at,
             c.message_count,
             to_char(c.last_message_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_message_at,
             to_char(c.last_activity_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_activity_at,
             c.preview) r)
     or c.api_json::json->>'api_key_id' is not null and c.id = '00000000-0000-4000-8000-00000000000a' $$, :'alice', :'bob'),
  'api_json is each conversation as the API shows it, after inserts, messages, a rename and a deleted key');

-- The same for messages: inserted, finished (status, tokens, citations), and their key deleted.
update public.messages set status = 'complete', prompt_tokens = 3, completion_tokens = 4,
       citations = '[{"page": 2, "quote": "a \"quoted\" line"}]'::jsonb
where user_id = :'alice';
select is_empty(format($$
  select m.id from public.messages m
  where m.user_id in (%L, %L) and m.api_json is distinct from (
    select row_to_json(r)::text from (
      select m.id, m.conversation_id, m.role, m.content, m.model, m.prompt_tokens, m.completion_tokens, m.api_key_id,
             m.status, m.error_code, m.citations,
             to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at) r)
     or m.api_json = '' $$, :'alice', :'bob'),
  'api_json is each message as the API shows it, after inserts, an update and a deleted key');

select * from finish();
rollback;
