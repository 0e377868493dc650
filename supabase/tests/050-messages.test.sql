-- messages: owner-only, always inside a conversation of the same user.
begin;
create extension if not exists pgtap with schema extensions;
select plan(34);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

select tests.authenticate_as('bob');
insert into public.api_keys (name, provider, secret_ciphertext, hint, fingerprint)
values ('bob key', 'openai', 'c', 'h', 'fp-bob') returning id as bobkey \gset
insert into public.conversations (title) values ('bob chat') returning id as bobconv \gset
insert into public.messages (conversation_id, role, content) values (:'bobconv', 'user', 'bob says hi') returning id as bobmsg \gset

select tests.authenticate_as('alice');
insert into public.api_keys (name, provider, secret_ciphertext, hint, fingerprint)
values ('alice key', 'openai', 'c', 'h', 'fp-alice') returning id as alicekey \gset
insert into public.conversations (title) values ('alice chat') returning id as conv \gset

select tests.as_postgres();
update public.conversations set updated_at = '2000-01-01' where id = :'conv';

select tests.authenticate_as('alice');
insert into public.messages (conversation_id, role, content) values (:'conv', 'user', 'question') returning id as msg1 \gset
insert into public.messages (conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id)
values (:'conv', 'assistant', 'answer', 'gpt-4o-mini', 12, 34, :'alicekey') returning id as msg2 \gset

select results_eq(
  format($$ select role, content, user_id, status from public.messages where conversation_id = %L order by created_at, id $$, :'conv'),
  format($$ values ('user'::text, 'question'::text, %1$L::uuid, 'complete'::text),
                   ('assistant', 'answer', %1$L::uuid, 'complete') $$, :'alice'),
  'messages: owner can insert and select; written in one transaction they still list in order');
select ok(
  (select created_at from public.messages where id = :'msg1') < (select created_at from public.messages where id = :'msg2'),
  'created_at takes the clock time, not the transaction start');
select is((select updated_at from public.conversations where id = :'conv'), now(),
  'a new message bumps the conversation''s updated_at');

-- Same-user rules
select throws_ok(
  format($$ insert into public.messages (conversation_id, role, content) values (%L, 'user', 'intruder') $$, :'bobconv'),
  '23503', null,
  'a message cannot be added to another user''s conversation');
select throws_ok(
  format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'user', 'as bob') $$,
         :'bobconv', :'bob'),
  '42501', 'new row violates row-level security policy for table "messages"',
  'messages: another user cannot insert a message as the user');
select throws_ok(
  format($$ insert into public.messages (conversation_id, role, content, api_key_id) values (%L, 'assistant', 'x', %L) $$,
         :'conv', :'bobkey'),
  '23503', null,
  'a message cannot reference another user''s key');

-- Input rules
select throws_ok(format($$ insert into public.messages (conversation_id, role, content) values (%L, 'tool', 'x') $$, :'conv'),
  '23514', null, 'role must be user, assistant or system');
select throws_ok(format($$ insert into public.messages (conversation_id, role, content) values (%L, 'user', repeat('x', 100001)) $$, :'conv'),
  '23514', null, 'content is at most 100000 characters');
select lives_ok(format($$ insert into public.messages (conversation_id, role, content) values (%L, 'system', repeat('x', 100000)) $$, :'conv'),
  'content of exactly 100000 characters is accepted');
select throws_ok(format($$ insert into public.messages (conversation_id, role, content, status) values (%L, 'user', 'x', 'pending') $$, :'conv'),
  '23514', null, 'status must be complete or failed');
select throws_ok(format($$ insert into public.messages (conversation_id, role, content, prompt_tokens) values (%L, 'user', 'x', -1) $$, :'conv'),
  '23514', null, 'token counts cannot be negative');

-- Owner updates: status and error_code only
select results_eq(
  format($$ update public.messages set status = 'failed', error_code = 'provider_timeout' where id = %L returning status, error_code $$, :'msg2'),
  $$ values ('failed'::text, 'provider_timeout'::text) $$,
  'messages: owner can update status and error_code');
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
select is_empty(format($$ update public.messages set status = 'failed' where id = %L returning 1 $$, :'msg1'),
  'messages: another user cannot update a message');
select is_empty(format($$ delete from public.messages where id = %L returning 1 $$, :'msg1'),
  'messages: another user cannot delete a message');
select throws_ok(
  format($$ insert into public.messages (conversation_id, user_id, role, content) values (%L, %L, 'user', 'planted') $$,
         :'conv', :'alice'),
  '42501', null,
  'messages: another user cannot insert into the user''s conversation, even naming the user');
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
