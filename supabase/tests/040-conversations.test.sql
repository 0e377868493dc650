-- conversations: owner-only, and a conversation can only use its owner's key.
begin;
create extension if not exists pgtap with schema extensions;
select plan(30);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

select tests.authenticate_as('bob');
select private.register_api_key('bob key', 'openai', 'c', 'h', 'fp-bob') as bobkey \gset
insert into public.conversations (title) values ('bob chat') returning id as bobconv \gset

select tests.authenticate_as('alice');
select private.register_api_key('alice key', 'openai', 'c', 'h', 'fp-alice') as alicekey \gset
insert into public.conversations default values returning id as conv1 \gset

select results_eq(
  format($$ select user_id, title ~ '^Conversation \d{4}-\d{2}-\d{2} \d{2}:\d{2}$', api_key_id, model, system_prompt
            from public.conversations where id = %L $$, :'conv1'),
  format($$ values (%L::uuid, true, null::uuid, null::text, null::text) $$, :'alice'),
  'conversations: owner can insert; user_id defaults to the caller and the title to a dated one');
select lives_ok(
  format($$ insert into public.conversations (title, api_key_id, model, system_prompt)
            values ('with key', %L, 'gpt-4o-mini', 'Be brief.') $$, :'alicekey'),
  'a conversation can use the owner''s key');
select throws_ok(
  format($$ insert into public.conversations (title, api_key_id) values ('stolen key', %L) $$, :'bobkey'),
  '23503', null,
  'a conversation cannot use another user''s key');
select throws_ok($$ insert into public.conversations (title) values ('') $$, '23514', null, 'title may not be empty');
select throws_ok($$ insert into public.conversations (title) values ('   ') $$, '23514', null, 'title may not be blank');
select throws_ok($$ insert into public.conversations (title) values (repeat('t', 201)) $$, '23514', null,
  'title is at most 200 characters');
select throws_ok($$ insert into public.conversations (system_prompt) values (repeat('s', 20001)) $$, '23514', null,
  'system_prompt is at most 20000 characters');

select results_eq(
  $$ select title from public.conversations order by title $$,
  format($$ select title from (values ('with key'::text)) v(title)
            union all select title from public.conversations where id = %L order by 1 $$, :'conv1'),
  'conversations: owner can select their conversations, and only theirs');
select results_eq(
  format($$ update public.conversations set title = 'Renamed', model = 'gpt-4.1', system_prompt = 'x', api_key_id = %L
            where id = %L returning title, model, api_key_id $$, :'alicekey', :'conv1'),
  format($$ values ('Renamed'::text, 'gpt-4.1'::text, %L::uuid) $$, :'alicekey'),
  'conversations: owner can update title, model, system prompt and key');
select throws_ok(
  format($$ update public.conversations set api_key_id = %L where id = %L $$, :'bobkey', :'conv1'),
  '23503', null,
  'the owner cannot point a conversation at another user''s key');
select throws_ok(
  format($$ update public.conversations set user_id = %L where id = %L $$, :'bob', :'conv1'),
  '42501', null,
  'a conversation cannot be handed to another user');
select throws_ok(
  format($$ update public.conversations set created_at = '2000-01-01' where id = %L $$, :'conv1'),
  '42501', null,
  'created_at is not writable by clients');

-- Another user
select tests.authenticate_as('bob');
select is_empty(format($$ select 1 from public.conversations where id = %L $$, :'conv1'),
  'conversations: another user cannot select the conversation');
select is_empty(format($$ update public.conversations set title = 'hijacked' where id = %L returning 1 $$, :'conv1'),
  'conversations: another user cannot update the conversation');
select is_empty(format($$ delete from public.conversations where id = %L returning 1 $$, :'conv1'),
  'conversations: another user cannot delete the conversation');
select throws_ok(
  format($$ insert into public.conversations (user_id, title) values (%L, 'planted') $$, :'alice'),
  '42501', 'new row violates row-level security policy for table "conversations"',
  'conversations: another user cannot insert a conversation for the user');
select results_eq($$ select id from public.conversations $$, format($$ values (%L::uuid) $$, :'bobconv'),
  'another user sees only their own conversation');

-- Visitor
select tests.clear_authentication();
select throws_ok($$ select id from public.conversations $$, '42501', null, 'conversations: anon cannot select');
select throws_ok($$ insert into public.conversations (title) values ('anon') $$, '42501', null, 'conversations: anon cannot insert');
select throws_ok($$ update public.conversations set title = 'anon' $$, '42501', null, 'conversations: anon cannot update');
select throws_ok($$ delete from public.conversations $$, '42501', null, 'conversations: anon cannot delete');

select tests.as_postgres();
select results_eq(
  format($$ select title, user_id from public.conversations where id = %L $$, :'conv1'),
  format($$ values ('Renamed'::text, %L::uuid) $$, :'alice'),
  'nothing the other user or anon tried changed the conversation');

-- updated_at
update public.conversations set updated_at = '2000-01-01' where id = :'conv1';
select tests.authenticate_as('alice');
update public.conversations set title = 'Renamed again' where id = :'conv1';
select is((select updated_at from public.conversations where id = :'conv1'), now(), 'an update moves updated_at');

-- Deleting the key keeps the conversation
delete from public.api_keys where id = :'alicekey';
select results_eq(
  format($$ select api_key_id from public.conversations where id = %L $$, :'conv1'),
  $$ values (null::uuid) $$,
  'deleting the key clears api_key_id and keeps the conversation');
select is((select user_id from public.conversations where id = :'conv1'), :'alice'::uuid,
  'on delete set null (api_key_id) leaves user_id alone');

-- Owner deletes
select results_eq(
  format($$ delete from public.conversations where id = %L returning title $$, :'conv1'),
  $$ values ('Renamed again'::text) $$,
  'conversations: owner can delete their conversation');

select tests.as_postgres();
select has_index('public', 'conversations', 'conversations_user_id_last_activity_at_id_idx',
  array['user_id', 'last_activity_at', 'id'], 'conversations are indexed by owner and last activity');
select col_is_unique('public', 'conversations', array['id', 'user_id'], 'conversations (id, user_id) is unique');
select fk_ok('public', 'conversations', array['api_key_id', 'user_id'], 'public', 'api_keys', array['id', 'user_id'],
  'conversations (api_key_id, user_id) references api_keys (id, user_id)');
select is(
  (select count(*)::int from public.conversations where user_id = :'bob'),
  1,
  'the other user''s conversation is untouched');

select * from finish();
rollback;
