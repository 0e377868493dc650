-- messages: owner-only, always inside a conversation of the same user.
begin;
create extension if not exists pgtap with schema extensions;
select plan(37);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

select tests.authenticate_as('bob');
select private.register_api_key('bob key', 'openai', 'c', 'h', 'fp-bob') as bobkey \gset
insert into public.conversations (title) values ('bob chat') returning id as bobconv \gset
select (private.begin_exchange(:'bobconv', :'bobkey', 'bob says hi', 'gpt-4o-mini', 10, 10, 600)).id as bobmsg \gset

select tests.authenticate_as('alice');
select private.register_api_key('alice key', 'openai', 'c', 'h', 'fp-alice') as alicekey \gset
insert into public.conversations (title) values ('alice chat') returning id as conv \gset

select tests.as_postgres();
update public.conversations set updated_at = '2000-01-01' where id = :'conv';

-- Messages are written by the api function through private functions, never directly.
select tests.authenticate_as('alice');
select (private.begin_exchange(:'conv', :'alicekey', 'question', 'gpt-4o-mini', 10, 10, 600)).id as msg1 \gset
select private.store_answer(:'msg1', 'answer', 'gpt-4o-mini', 12, 0, 34, 'provider', 5) ->> 'assistant_message' as answer \gset
select id as msg2 from public.messages where role = 'assistant' and conversation_id = :'conv' \gset

select results_eq(
  format($$ select role, content, user_id, status, api_key_id from public.messages where conversation_id = %L order by created_at, id $$, :'conv'),
  format($$ values ('user'::text, 'question'::text, %1$L::uuid, 'complete'::text, %2$L::uuid),
                   ('assistant', 'answer', %1$L::uuid, 'complete', %2$L::uuid) $$, :'alice', :'alicekey'),
  'begin_exchange and store_answer write the exchange for the caller, on the message''s key; they list in order');
select ok(
  (select created_at from public.messages where id = :'msg1') < (select created_at from public.messages where id = :'msg2'),
  'created_at takes the clock time, not the transaction start');
select is((select updated_at from public.conversations where id = :'conv'), now(),
  'a new message bumps the conversation''s updated_at');

-- Same-user rules, in the functions
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'intruder', 'gpt-4o-mini', 10, 10, 600) $$, :'bobconv', :'alicekey'),
  'P0002', null, 'a message cannot be added to another user''s conversation');
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'x', 'gpt-4o-mini', 10, 10, 600) $$, :'conv', :'bobkey'),
  'P0002', null, 'a message cannot be billed to another user''s key');
select throws_ok(format($$ select private.store_answer(%L, 'forged', 'gpt-4o', 1, 0, 1, 'provider', 1) $$, :'bobmsg'),
  'P0002', null, 'another user''s message cannot be answered');
select throws_ok(format($$ select private.fail_exchange(%L, 'timeout', true, 'gpt-4o', 0, 0, 0, 'estimated', 1) $$, :'bobmsg'),
  'P0002', null, 'another user''s message cannot be failed');

-- Same-user rules, in the schema (even the table owner cannot break them)
select tests.as_postgres();
select throws_ok(
  format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'user', 'x') $$, :'bobconv', :'alice'),
  '23503', null, 'a message lives in a conversation of its own user');
select throws_ok(
  format($$ insert into public.messages (conversation_id, user_id, role, content, api_key_id) values (%L, %L, 'assistant', 'x', %L) $$,
         :'conv', :'alice', :'bobkey'),
  '23503', null, 'a message cannot reference another user''s key');

-- Input rules
select throws_ok(format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'tool', 'x') $$, :'conv', :'alice'),
  '23514', null, 'role must be user, assistant or system');
select throws_ok(format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'user', repeat('x', 100001)) $$, :'conv', :'alice'),
  '23514', null, 'content is at most 100000 characters');
select lives_ok(format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'system', repeat('x', 100000)) $$, :'conv', :'alice'),
  'content of exactly 100000 characters is accepted');
select throws_ok(format($$ insert into public.messages (conversation_id, user_id, role, content, status) values (%L, %L, 'user', 'x', 'lost') $$, :'conv', :'alice'),
  '23514', null, 'status is one of the known states');
select throws_ok(format($$ insert into public.messages (conversation_id, user_id, role, content, prompt_tokens) values (%L, %L, 'user', 'x', -1) $$, :'conv', :'alice'),
  '23514', null, 'token counts cannot be negative');

-- The owner changes nothing in a message directly
select tests.authenticate_as('alice');
select throws_ok(format($$ update public.messages set status = 'failed', error_code = 'x' where id = %L $$, :'msg2'), '42501', null,
  'status and error_code cannot be set directly');
select throws_ok(format($$ update public.messages set content = 'rewritten' where id = %L $$, :'msg1'), '42501', null,
  'content cannot be rewritten');
select throws_ok(format($$ update public.messages set role = 'system' where id = %L $$, :'msg1'), '42501', null,
  'role cannot be changed');
select throws_ok(format($$ update public.messages set conversation_id = %L where id = %L $$, :'conv', :'msg1'), '42501', null,
  'a message cannot be moved to another conversation');
select throws_ok(format($$ update public.messages set created_at = now() where id = %L $$, :'msg1'), '42501', null,
  'created_at cannot be changed');

-- Another user
select tests.authenticate_as('bob');
select is_empty(format($$ select 1 from public.messages where conversation_id = %L $$, :'conv'),
  'messages: another user cannot select the messages');
select is_empty(format($$ delete from public.messages where id = %L returning 1 $$, :'msg1'),
  'messages: another user cannot delete a message');
select throws_ok(
  format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'user', 'planted') $$,
         :'conv', :'alice'),
  '42501', null,
  'messages: another user cannot insert into the user''s conversation, even naming the user');
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'planted', 'gpt-4o-mini', 10, 10, 600) $$, :'conv', :'bobkey'),
  'P0002', null, 'nor through begin_exchange');
select results_eq($$ select id from public.messages $$, format($$ values (%L::uuid) $$, :'bobmsg'),
  'another user sees only their own messages');

-- Visitor
select tests.clear_authentication();
select throws_ok($$ select id from public.messages $$, '42501', null, 'messages: anon cannot select');
select throws_ok(format($$ insert into public.messages (conversation_id, role, content) values (%L, 'user', 'x') $$, :'conv'),
  '42501', null, 'messages: anon cannot insert');
select throws_ok($$ update public.messages set status = 'failed' $$, '42501', null, 'messages: anon cannot update');
select throws_ok($$ delete from public.messages $$, '42501', null, 'messages: anon cannot delete');

select tests.as_postgres();
select results_eq(
  format($$ select status from public.messages where id = %L $$, :'msg1'),
  $$ values ('complete'::text) $$,
  'nothing the other user or anon tried changed the messages');

-- Owner deletes; keys and conversations going away
select tests.authenticate_as('alice');
select results_eq(
  format($$ delete from public.messages where id = %L returning content $$, :'msg1'),
  $$ values ('question'::text) $$,
  'messages: owner can delete a message');
delete from public.api_keys where id = :'alicekey';
select results_eq(
  format($$ select api_key_id, user_id from public.messages where id = %L $$, :'msg2'),
  format($$ values (null::uuid, %L::uuid) $$, :'alice'),
  'deleting the key clears the message''s api_key_id and keeps the message');
delete from public.conversations where id = :'conv';
select tests.as_postgres();
select is((select count(*)::int from public.messages where conversation_id = :'conv'), 0,
  'deleting a conversation deletes its messages');
select is((select count(*)::int from public.messages where user_id = :'bob'), 1, 'the other user''s messages are untouched');

select has_index('public', 'messages', 'messages_conversation_id_user_id_created_at_id_idx',
  array['conversation_id', 'user_id', 'created_at', 'id'],
  'messages are indexed for ordered listing per conversation');
select fk_ok('public', 'messages', array['conversation_id', 'user_id'], 'public', 'conversations', array['id', 'user_id'],
  'messages (conversation_id, user_id) references conversations (id, user_id)');
select fk_ok('public', 'messages', array['api_key_id', 'user_id'], 'public', 'api_keys', array['id', 'user_id'],
  'messages (api_key_id, user_id) references api_keys (id, user_id)');

-- Under RLS the ordered listing of one conversation can read the index in order, with no
-- sort. (With a handful of rows any plan is cheap, so rule out the others: if the index could
-- not give the order, a Sort would remain despite enable_sort = off.)
select tests.authenticate_as('bob');
set local enable_seqscan = off;
set local enable_bitmapscan = off;
set local enable_sort = off;
select ok(
  exists (select 1 from tests.explain(format(
            $$ select id from public.messages where conversation_id = %L order by created_at, id limit 50 $$, :'bobconv')) l
          where l ~ 'Index (Only )?Scan using messages_conversation_id_user_id_created_at_id_idx')
  and not exists (select 1 from tests.explain(format(
            $$ select id from public.messages where conversation_id = %L order by created_at, id limit 50 $$, :'bobconv')) l
          where l ~ 'Sort'),
  'under RLS, listing a conversation''s messages in order reads the index in order, with no sort');

select * from finish();
rollback;
