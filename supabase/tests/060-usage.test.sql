-- model_prices and usage_events: costs computed in the database, rows written only by
-- private.record_usage, readable only by their owner.
begin;
create extension if not exists pgtap with schema extensions;
select plan(46);

-- private.record_usage is called only by the security definer functions that settle a call; its own
-- ownership checks are tested here by calling it as the user, so it is granted for this transaction.
grant execute on function private.record_usage(uuid, uuid, uuid, text, text, integer, integer, integer, text, integer, text, text) to authenticated;
select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

select tests.authenticate_as('bob');
select private.register_api_key('bob key', 'openai', 'c', 'h', 'fp-bob') as bobkey \gset
insert into public.conversations (title) values ('bob chat') returning id as bobconv \gset
select (private.begin_exchange(:'bobconv', :'bobkey', 'hi', 'gpt-4o-mini', 10, 10, 600)).id as bobmsg \gset

select tests.authenticate_as('alice');
select private.register_api_key('openai key', 'openai', 'c', 'h', 'fp-a1') as okey \gset
select private.register_api_key('anthropic key', 'anthropic', 'c', 'h', 'fp-a2') as akey \gset
insert into public.conversations (title) values ('alice chat') returning id as conv \gset
insert into public.conversations (title) values ('alice other chat') returning id as conv2 \gset
select (private.begin_exchange(:'conv', :'okey', 'question', 'gpt-4o-mini', 10, 10, 600)).id as msg \gset

-- model_prices
select results_eq(
  $$ select provider, model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, valid_from
     from public.model_prices
     where model in ('gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3-mini',
                     'claude-3-5-haiku-latest', 'claude-3-7-sonnet-latest', 'claude-sonnet-4-0',
                     'claude-opus-4-0', 'claude-3-5-sonnet-latest')
     order by provider, model $$,
  $$ values
     ('anthropic'::text, 'claude-3-5-haiku-latest'::text, 0.8000::numeric(12,4), 0.0800::numeric(12,4), 4.0000::numeric(12,4), '2025-01-01T00:00:00Z'::timestamptz),
     ('anthropic', 'claude-3-5-sonnet-latest', 3.0000, 0.3000, 15.0000, '2025-01-01T00:00:00Z'),
     ('anthropic', 'claude-3-7-sonnet-latest', 3.0000, 0.3000, 15.0000, '2025-01-01T00:00:00Z'),
     ('anthropic', 'claude-opus-4-0', 15.0000, 1.5000, 75.0000, '2025-01-01T00:00:00Z'),
     ('anthropic', 'claude-sonnet-4-0', 3.0000, 0.3000, 15.0000, '2025-01-01T00:00:00Z'),
     ('openai', 'gpt-4.1', 2.0000, 0.5000, 8.0000, '2025-01-01T00:00:00Z'),
     ('openai', 'gpt-4.1-mini', 0.4000, 0.1000, 1.6000, '2025-01-01T00:00:00Z'),
     ('openai', 'gpt-4.1-nano', 0.1000, 0.0250, 0.4000, '2025-01-01T00:00:00Z'),
     ('openai', 'gpt-4o', 2.5000, 1.2500, 10.0000, '2025-01-01T00:00:00Z'),
     ('openai', 'gpt-4o-mini', 0.1500, 0.0750, 0.6000, '2025-01-01T00:00:00Z'),
     ('openai', 'o3-mini', 1.1000, 0.5500, 4.4000, '2025-01-01T00:00:00Z') $$,
  'model_prices: authenticated users can select the seeded list prices');
select throws_ok($$ insert into public.model_prices (provider, model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok)
                    values ('openai', 'free-model', 0, 0, 0) $$, '42501', null, 'model_prices: clients cannot insert');
select throws_ok($$ update public.model_prices set input_usd_per_mtok = 0 $$, '42501', null, 'model_prices: clients cannot update');
select throws_ok($$ delete from public.model_prices $$, '42501', null, 'model_prices: clients cannot delete');

-- Recording usage and its cost
select results_eq(
  format($$ select user_id, api_key_id, conversation_id, message_id, cost_usd, priced
            from private.record_usage(%L, %L, %L, 'openai', 'gpt-4o-mini', 1000, 200, 500, 'provider', 850, 'ok', null) $$,
         :'okey', :'conv', :'msg'),
  format($$ values (%L::uuid, %L::uuid, %L::uuid, %L::uuid, 0.00043500::numeric(14,8), true) $$, :'alice', :'okey', :'conv', :'msg'),
  'record_usage writes the caller''s event; (800 x 0.15 + 200 x 0.075 + 500 x 0.60) / 1e6 = 0.000435');
select is(
  (select cost_usd from private.record_usage(:'akey', :'conv', null, 'anthropic', 'claude-opus-4-0', 1000000, 0, 1000000, 'provider', null, 'ok', null)),
  90.00000000::numeric(14,8),
  '1M input + 1M output tokens of claude-opus-4-0 cost 15 + 75 = 90 USD');
select is(
  (select cost_usd from private.record_usage(:'okey', null, null, 'openai', 'gpt-4.1', 10000, 8000, 100, 'provider', null, 'ok', null)),
  0.00880000::numeric(14,8),
  'cached input tokens are priced at the cached rate: (2000 x 2 + 8000 x 0.5 + 100 x 8) / 1e6 = 0.0088');
select is(
  (select cost_usd from private.record_usage(:'akey', null, null, 'anthropic', 'claude-3-5-haiku-latest', 3, 0, 7, 'estimated', null, 'cancelled', null)),
  0.00003040::numeric(14,8),
  'small counts keep their precision: (3 x 0.80 + 7 x 4.00) / 1e6 = 0.0000304');
select results_eq(
  $$ select cost_usd, priced from private.record_usage(null, null, null, 'openai', 'gpt-9-turbo', 5000, 0, 5000, 'provider', null, 'ok', null) $$,
  $$ values (0::numeric(14,8), false) $$,
  'a model without a price costs 0 and is marked unpriced');
select results_eq(
  $$ select cost_usd, priced from private.record_usage(null, null, null, 'anthropic', 'gpt-4o-mini', 1000, 0, 0, 'provider', null, 'ok', null) $$,
  $$ values (0::numeric(14,8), false) $$,
  'prices are per provider and model');
select results_eq(
  $$ select prompt_tokens, cached_prompt_tokens, completion_tokens, cost_usd, outcome, error_code
     from private.record_usage(null, null, null, 'openai', 'gpt-4o', null, null, null, 'estimated', 30000, 'error', 'timeout') $$,
  $$ values (0, 0, 0, 0::numeric(14,8), 'error'::text, 'timeout'::text) $$,
  'missing token counts are recorded as 0');
select isnt(
  (select last_used_at from public.api_keys where id = :'okey'),
  null,
  'record_usage marks the key as used');

-- A later price applies to later events only
select tests.as_postgres();
insert into public.model_prices (provider, model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, valid_from)
values ('openai', 'gpt-4o-mini', 1.00, 0.50, 2.00, clock_timestamp());
select tests.authenticate_as('alice');
select is(
  (select cost_usd from public.usage_events where model = 'gpt-4o-mini' and provider = 'openai'),
  0.00043500::numeric(14,8),
  'a new price does not change the cost of an earlier event');
select is(
  (select cost_usd from private.record_usage(:'okey', null, null, 'openai', 'gpt-4o-mini', 1000, 200, 500, 'provider', null, 'ok', null)),
  0.00190000::numeric(14,8),
  'an event after the new price uses it: (800 x 1 + 200 x 0.5 + 500 x 2) / 1e6 = 0.0019');

-- Only through record_usage, only for what the caller owns
select throws_ok(
  format($$ insert into public.usage_events (user_id, provider, model, usage_source, outcome) values (%L, 'openai', 'gpt-4o', 'provider', 'ok') $$, :'alice'),
  '42501', null, 'usage_events: users cannot insert rows directly');
select throws_ok($$ update public.usage_events set cost_usd = 0 $$, '42501', null, 'usage_events: users cannot update rows');
select throws_ok($$ delete from public.usage_events $$, '42501', null, 'usage_events: users cannot delete rows');
select throws_ok(
  format($$ select private.record_usage(%L, null, null, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'ok', null) $$, :'bobkey'),
  'P0002', null, 'record_usage refuses another user''s key');
select throws_ok(
  format($$ select private.record_usage(null, %L, null, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'ok', null) $$, :'bobconv'),
  'P0002', null, 'record_usage refuses another user''s conversation');
select throws_ok(
  format($$ select private.record_usage(null, null, %L, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'ok', null) $$, :'bobmsg'),
  'P0002', null, 'record_usage refuses another user''s message');
select throws_ok(
  format($$ select private.record_usage(null, %L, %L, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'ok', null) $$, :'conv2', :'msg'),
  'P0002', null, 'record_usage refuses a message that is not in the given conversation');
select throws_ok(
  $$ select private.record_usage(null, null, null, 'openai', 'gpt-4o', 10, 11, 1, 'provider', null, 'ok', null) $$,
  '23514', null, 'cached tokens cannot exceed prompt tokens');
select throws_ok(
  $$ select private.record_usage(null, null, null, 'openai', 'gpt-4o', -1, 0, 1, 'provider', null, 'ok', null) $$,
  '23514', null, 'token counts cannot be negative');
select throws_ok(
  $$ select private.record_usage(null, null, null, 'openai', 'gpt-4o', 1, 0, 1, 'guessed', null, 'ok', null) $$,
  '23514', null, 'usage_source must be provider or estimated');
select throws_ok(
  $$ select private.record_usage(null, null, null, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'maybe', null) $$,
  '23514', null, 'outcome must be ok, error or cancelled');
select results_eq(
  $$ select count(*)::int, count(distinct user_id)::int from public.usage_events $$,
  $$ values (8, 1) $$,
  'usage_events: owner can select their events');

-- Another user
select tests.authenticate_as('bob');
select lives_ok(
  format($$ select private.record_usage(%L, %L, %L, 'openai', 'gpt-4o', 100, 0, 100, 'provider', 120, 'ok', null) $$,
         :'bobkey', :'bobconv', :'bobmsg'),
  'the other user records their own usage');
select results_eq(
  $$ select user_id from public.usage_events $$,
  format($$ values (%L::uuid) $$, :'bob'),
  'usage_events: another user cannot select the user''s events, only their own');
select throws_ok(
  format($$ update public.usage_events set cost_usd = 0 where user_id = %L $$, :'alice'),
  '42501', null, 'usage_events: another user cannot update the user''s events');
select throws_ok(
  format($$ delete from public.usage_events where user_id = %L $$, :'alice'),
  '42501', null, 'usage_events: another user cannot delete the user''s events');
select throws_ok(
  format($$ insert into public.usage_events (user_id, provider, model, usage_source, outcome) values (%L, 'openai', 'gpt-4o', 'provider', 'ok') $$, :'alice'),
  '42501', null, 'usage_events: another user cannot insert events for the user');

-- With select-only policies, even a grant would not let users write.
select tests.as_postgres();
grant insert, update, delete on public.usage_events, public.model_prices to authenticated;
select tests.authenticate_as('alice');
select throws_ok(
  format($$ insert into public.usage_events (user_id, provider, model, usage_source, outcome) values (%L, 'openai', 'gpt-4o', 'provider', 'ok') $$, :'alice'),
  '42501', 'new row violates row-level security policy for table "usage_events"',
  'usage_events: with no insert policy, inserts are refused even with a grant');
select is_empty($$ update public.usage_events set cost_usd = 0 returning 1 $$,
  'usage_events: with no update policy, updates reach no row even with a grant');
select is_empty($$ delete from public.usage_events returning 1 $$,
  'usage_events: with no delete policy, deletes reach no row even with a grant');
select throws_ok(
  $$ insert into public.model_prices (provider, model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok)
     values ('openai', 'free-model', 0, 0, 0) $$,
  '42501', 'new row violates row-level security policy for table "model_prices"',
  'model_prices: with no insert policy, inserts are refused even with a grant');
select is_empty($$ update public.model_prices set input_usd_per_mtok = 0 returning 1 $$,
  'model_prices: with no update policy, updates reach no row even with a grant');
select is_empty($$ delete from public.model_prices returning 1 $$,
  'model_prices: with no delete policy, deletes reach no row even with a grant');
select tests.as_postgres();
revoke insert, update, delete on public.usage_events, public.model_prices from authenticated;

-- Visitor
select tests.clear_authentication();
select throws_ok($$ select id from public.usage_events $$, '42501', null, 'usage_events: anon cannot select');
select throws_ok($$ select model from public.model_prices $$, '42501', null, 'model_prices: anon cannot select');
select throws_ok(
  $$ select private.record_usage(null, null, null, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'ok', null) $$,
  '42501', null, 'anon cannot call record_usage');

-- A role that may run it but has no user in its claims is refused.
select tests.as_postgres();
select throws_ok(
  $$ select private.record_usage(null, null, null, 'openai', 'gpt-4o', 1, 0, 1, 'provider', null, 'ok', null) $$,
  '42501', 'record_usage needs an authenticated user', 'record_usage needs a user id in the claims');

-- Usage outlives the things it refers to
delete from public.messages where id = :'msg';
delete from public.conversations where id = :'conv';
delete from public.api_keys where id = :'okey';
select results_eq(
  format($$ select count(*)::int, count(api_key_id)::int, count(conversation_id)::int, count(message_id)::int
            from public.usage_events where user_id = %L and provider = 'openai' and model = 'gpt-4o-mini' $$, :'alice'),
  $$ values (2, 0, 0, 0) $$,
  'deleting a key, conversation or message keeps its usage events, unlinked');
select is(
  (select sum(cost_usd) from public.usage_events where user_id = :'alice' and provider = 'openai' and model = 'gpt-4o-mini'),
  0.00233500::numeric,
  'and keeps their costs');

select has_trigger('public', 'usage_events', 'usage_events_price', 'usage_events are priced by a trigger');
select trigger_is('public', 'usage_events', 'usage_events_price', 'private', 'price_usage_event',
  'the pricing trigger calls private.price_usage_event');
select is(
  array(select tgname::text from pg_trigger where tgrelid = 'public.usage_events'::regclass and not tgisinternal
          and (tgtype & 16) <> 0 order by 1),
  array['usage_events_keep_as_billed', 'usage_events_roll_up_unlinked'],
  'no trigger re-prices usage events on update: one refuses edits, one moves an unlinked event in the rollup');

select * from finish();
rollback;
