-- The database is the boundary: what a supabase-js client could send through PostgREST on a
-- hosted project, acting exactly as PostgREST does (set local role authenticated and
-- request.jwt.claims), cannot forge a key, an answer, its usage or a billed message. The api
-- function's path, the security definer functions in private, still works and acts only for the caller.
begin;
create extension if not exists pgtap with schema extensions;
select plan(33);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset
select json_build_object('sub', :'alice', 'role', 'authenticated', 'aud', 'authenticated')::text as alice_claims \gset
select json_build_object('sub', :'bob', 'role', 'authenticated', 'aud', 'authenticated')::text as bob_claims \gset

set local role authenticated;
set local request.jwt.claims = :'bob_claims';
select private.register_api_key('bob key', 'openai', 'c', 'h', 'fp-bob') as bobkey \gset
insert into public.conversations (title) values ('bob chat') returning id as bobconv \gset

-- Alice, as PostgREST sends her requests.
set local request.jwt.claims = :'alice_claims';
select private.register_api_key('checked key', 'openai', 'v1:iv:sealed', 'abcd', 'fp-alice') as key \gset
insert into public.conversations (title) values ('chat') returning id as conv \gset
select (private.begin_exchange(:'conv', :'key', 'question', 'gpt-4o-mini', 10, 10, 600)).id as question \gset

-- Forged writes are refused
select throws_ok(
  $$ insert into public.api_keys (name, provider, secret_ciphertext, hint, fingerprint)
     values ('never validated', 'openai', 'v1:forged:forged', 'xxxx', 'fp-forged') $$,
  '42501', null, 'a key row with arbitrary ciphertext cannot be inserted directly');
select throws_ok(format($$ update public.api_keys set is_valid = true where id = %L $$, :'key'),
  '42501', null, 'is_valid cannot be set directly');
select throws_ok(format($$ update public.api_keys set last_validated_at = now() where id = %L $$, :'key'),
  '42501', null, 'last_validated_at cannot be set directly');
select throws_ok(format($$ update public.api_keys set last_used_at = now() where id = %L $$, :'key'),
  '42501', null, 'last_used_at cannot be set directly');
select throws_ok(
  format($$ insert into public.messages (conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id)
            values (%L, 'assistant', 'forged answer', 'gpt-4o', 1, 1000000, %L) $$, :'conv', :'key'),
  '42501', null, 'an assistant message cannot be inserted directly');
select throws_ok(
  format($$ insert into public.messages (conversation_id, role, content, api_key_id) values (%L, 'user', 'billed', %L) $$, :'conv', :'key'),
  '42501', null, 'a user message with its billing key cannot be inserted directly');
select throws_ok(format($$ update public.messages set status = 'failed', error_code = 'x' where id = %L $$, :'question'),
  '42501', null, 'a message''s status cannot be set directly');
select throws_ok(
  format($$ insert into public.usage_events (user_id, api_key_id, provider, model, usage_source, outcome)
            values (%L, %L, 'openai', 'gpt-4o', 'provider', 'ok') $$, :'alice', :'key'),
  '42501', null, 'a usage event cannot be inserted directly');
select throws_ok($$ update public.usage_events set cost_usd = 0 $$, '42501', null, 'usage cannot be edited');

-- What a frontend legitimately does directly still works
select results_eq(
  format($$ update public.api_keys set name = 'renamed', monthly_budget_usd = 3 where id = %L returning name, monthly_budget_usd $$, :'key'),
  $$ values ('renamed'::text, 3.00::numeric(12,2)) $$,
  'a key can be renamed and budgeted directly');
select lives_ok(format($$ select public.select_api_key(%L) $$, :'key'), 'a key can be selected directly');
select results_eq(format($$ update public.conversations set title = 'renamed chat' where id = %L returning title $$, :'conv'),
  $$ values ('renamed chat'::text) $$, 'a conversation can be renamed directly');

-- The api function's path: private functions, acting for the caller only
select is((select status from public.messages where id = :'question'), 'pending', 'begin_exchange stored the question, pending its answer');
select is(
  (private.store_answer(:'question', 'the answer', 'gpt-4o-mini', 10, 0, 20, 'provider', 7) -> 'usage_event' ->> 'provider'),
  'openai', 'store_answer stores the answer and bills the key''s own provider');
select results_eq(
  format($$ select count(*)::int, sum(completion_tokens)::int from public.usage_events where api_key_id = %L $$, :'key'),
  $$ values (1, 20) $$, 'one usage event, with the answer''s tokens');
select (private.begin_exchange(:'conv', :'key', 'again', 'gpt-4o-mini', 10, 10, 600)).id as second \gset
select lives_ok(format($$ select private.fail_exchange(%L, 'invalid_key', true, 'gpt-4o-mini', 0, 0, 0, 'estimated', 3) $$, :'second'),
  'fail_exchange runs for the caller''s message');
select results_eq(format($$ select status, error_code from public.messages where id = %L $$, :'second'),
  $$ values ('failed'::text, 'invalid_key'::text) $$, 'fail_exchange marks the message failed');
select is((select is_valid from public.api_keys where id = :'key'), false, 'a key the provider refused is marked invalid');
select throws_ok(format($$ update public.api_keys set is_valid = true where id = %L $$, :'key'),
  '42501', null, 'and the owner cannot mark it valid again');
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'on a dead key', 'gpt-4o-mini', 10, 10, 600) $$, :'conv', :'key'),
  'P0002', null, 'no new message is billed to an invalid key');

select throws_ok(format($$ select private.begin_exchange(%L, %L, 'x', 'gpt-4o-mini', 10, 10, 600) $$, :'bobconv', :'key'),
  'P0002', null, 'begin_exchange refuses another user''s conversation');
select throws_ok(format($$ select private.store_answer(%L, 'x', 'gpt-4o', 1, 0, 1, 'provider', 1) $$, gen_random_uuid()),
  'P0002', null, 'store_answer refuses a message that is not the caller''s');
select is(private.register_api_key('dup', 'openai', 'c', 'h', 'fp-alice'), null, 'register_api_key does not store a key twice');

select tests.as_postgres();
-- private.record_usage is called only by the security definer functions that settle a call; its own
-- ownership checks are tested here by calling it as the user, so it is granted for this transaction.
grant execute on function private.record_usage(uuid, uuid, uuid, text, text, integer, integer, integer, text, integer, text, text) to authenticated;
select tests.authenticate_as('alice');
-- record_usage: the provider is the key's
select throws_ok(
  format($$ select private.record_usage(%L, null, null, 'anthropic', 'claude-3-5-haiku-latest', 1, 0, 1, 'provider', 1, 'ok', null) $$, :'key'),
  '23514', null, 'usage of an openai key cannot be recorded as anthropic');
select throws_ok(
  format($$ select private.record_usage(%L, null, null, 'openai', 'gpt-4o', 1, 0, 1, 'provider', 1, 'ok', null) $$, :'bobkey'),
  'P0002', null, 'usage cannot be recorded against another user''s key');

-- Functions in private that take a user id act only for auth.uid()
select lives_ok(format($$ select private.lock_user_api_keys(%L) $$, :'alice'), 'the caller can take their own key lock');
select throws_ok(format($$ select private.lock_user_api_keys(%L) $$, :'bob'), '42501', null,
  'the caller cannot take another user''s key lock');

-- No one else's rows changed; the schema ties usage to the key's owner
set local role postgres;
select results_eq(format($$ select name, is_valid from public.api_keys where user_id = %L $$, :'bob'),
  $$ values ('bob key'::text, true) $$, 'the other user''s key is untouched');
select fk_ok('public', 'usage_events', array['api_key_id', 'user_id'], 'public', 'api_keys', array['id', 'user_id'],
  'usage_events (api_key_id, user_id) references api_keys (id, user_id)');
select throws_ok(
  format($$ insert into public.usage_events (user_id, api_key_id, provider, model, usage_source, outcome)
            values (%L, %L, 'openai', 'gpt-4o', 'provider', 'ok') $$, :'alice', :'bobkey'),
  '23503', null, 'even the table owner cannot bill one user''s usage to another user''s key');

-- Deleting own rows stays possible
set local role authenticated;
set local request.jwt.claims = :'alice_claims';
select results_eq(format($$ delete from public.messages where id = %L returning id $$, :'second'),
  format($$ values (%L::uuid) $$, :'second'), 'the owner can delete a message');
select results_eq(format($$ delete from public.api_keys where id = %L returning id $$, :'key'),
  format($$ values (%L::uuid) $$, :'key'), 'the owner can delete a key; its usage stays');
select is((select count(*)::int from public.usage_events where user_id = :'alice' and api_key_id is null), 2,
  'the deleted key''s usage events stay, without the key');

select * from finish();
rollback;
