-- Budgets as a promise: begin_exchange reserves the worst case against the key and refuses
-- (PT429) what spend + reservations + this one would take over the budget; storing settles.
begin;
create extension if not exists pgtap with schema extensions;
select plan(34);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset
select tests.authenticate_as('alice');
select private.register_api_key('budgeted', 'openai', 'c', 'h', 'fp-budget') as key \gset
insert into public.conversations (title) values ('chat') returning id as conv \gset
update public.api_keys set monthly_budget_usd = 0.01 where id = :'key';

-- gpt-4o: $2.50 in, $10.00 out per million tokens. 1,000 in + 200 out: worst case $0.0045.
select (private.begin_exchange(:'conv', :'key', 'one', 'gpt-4o', 1000, 200, 600)).id as q1 \gset
select is((select status from public.messages where id = :'q1'), 'pending', 'the question waits, pending');
select tests.as_postgres();
select is((select amount_usd from private.budget_reservations where message_id = :'q1'), 0.00450000::numeric,
  'its worst case is reserved against the key');
select tests.authenticate_as('alice');
select (private.begin_exchange(:'conv', :'key', 'two', 'gpt-4o', 1000, 200, 600)).id as q2 \gset
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'three', 'gpt-4o', 1000, 200, 600) $$, :'conv', :'key'),
  'PT429', null, 'a third worst case does not fit beside two open reservations ($0.009 + $0.0045 > $0.01)');
select is((select count(*)::int from public.messages where conversation_id = :'conv'), 2, 'the refused message is not stored');
select lives_ok(format($$ select private.begin_exchange(%L, %L, 'small', 'gpt-4o', 10, 10, 600) $$, :'conv', :'key'),
  'a small one still fits ($0.000125)');

-- Settling: the real cost replaces the reservation.
select lives_ok(format($$ select private.store_answer(%L, 'answer', 'gpt-4o', 400, 0, 100, 'provider', 5) $$, :'q1'),
  'store_answer settles the first');
select is((select status from public.messages where id = :'q1'), 'complete', 'the question is complete');
select is(public.api_key_month_cost(:'key'), 0.00200000::numeric, 'its real cost is recorded ($0.001 + $0.001)');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where message_id = :'q1'), 0, 'its reservation is gone');
select tests.authenticate_as('alice');
select is((private.store_answer(:'q1', 'again', 'gpt-4o', 400, 0, 100, 'provider', 5)) -> 'already_stored', 'true'::jsonb,
  'storing the same answer twice (a retry) stores nothing more');
select is(public.api_key_month_cost(:'key'), 0.00200000::numeric, 'and bills nothing more');
select lives_ok(format($$ select private.fail_exchange(%L, 'timeout', false, 'gpt-4o', 0, 0, 0, 'estimated', 5) $$, :'q2'),
  'fail_exchange settles the second');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where message_id = :'q2'), 0, 'its reservation is gone too');
select tests.authenticate_as('alice');
select lives_ok(format($$ select private.fail_exchange(%L, 'timeout', false, 'gpt-4o', 0, 0, 0, 'estimated', 5) $$, :'q2'),
  'recording the same failure again (a retry whose first attempt did commit) runs');
select is((select count(*)::int from public.usage_events where api_key_id = :'key' and outcome = 'error'), 1,
  'and records the attempt once');
select lives_ok(format($$ select private.begin_exchange(%L, %L, 'three again', 'gpt-4o', 1000, 200, 600) $$, :'conv', :'key'),
  'now $0.002 spent + $0.000125 reserved + $0.0045 fits');
select tests.as_postgres();

-- A request that never came back: its reservation expires and the sweeper fails its message.
update private.budget_reservations set expires_at = now() - interval '1 second';
select tests.authenticate_as('alice');
select (private.begin_exchange(:'conv', :'key', 'after a crash', 'gpt-4o', 1000, 200, 600)).id as q4 \gset
select is(
  (select count(*)::int from public.messages where conversation_id = :'conv' and status = 'failed' and error_code = 'interrupted'), 2,
  'the next reservation sweeps the expired ones: their messages are failed (interrupted)');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations), 1, 'only the new reservation is open');

-- A budget needs a price: a model without one is refused on a budgeted key.
select tests.authenticate_as('alice');
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'x', 'some-unpriced-model', 10, 10, 600) $$, :'conv', :'key'),
  '22023', null, 'a model without a price cannot be used on a budgeted key');

-- Deleting the pending message, or the key, during the provider call does not make the call free.
select (private.begin_exchange(:'conv', :'key', 'deleted while answered', 'gpt-4o', 10, 10, 600)).id as q5 \gset
delete from public.messages where id = :'q5';
select is((private.store_answer(:'q5', 'too late', 'gpt-4o', 100, 0, 100, 'provider', 5)) -> 'answer_discarded', 'true'::jsonb,
  'an answer to a deleted message is discarded');
select results_eq(
  format($$ select message_id, outcome, cost_usd from public.usage_events where api_key_id = %L order by id desc limit 1 $$, :'key'),
  $$ values (null::uuid, 'ok'::text, 0.00125000::numeric(14,8)) $$,
  'but its usage is recorded against the key, from the reservation');
select private.register_api_key('short-lived', 'anthropic', 'c', 'h', 'fp-short') as shortkey \gset
insert into public.conversations (title, api_key_id) values ('short', :'shortkey') returning id as shortconv \gset
select (private.begin_exchange(:'shortconv', :'shortkey', 'key deleted while answered', 'claude-3-5-haiku-latest', 10, 10, 600)).id as q6 \gset
delete from public.api_keys where id = :'shortkey';
select lives_ok(format($$ select private.store_answer(%L, 'answer', 'claude-3-5-haiku-latest', 100, 0, 100, 'provider', 5) $$, :'q6'),
  'an answer whose key was deleted meanwhile is stored');
select results_eq(
  format($$ select api_key_id, provider, outcome from public.usage_events where conversation_id = %L $$, :'shortconv'),
  $$ values (null::uuid, 'anthropic'::text, 'ok'::text) $$,
  'and billed without the key, to the key''s provider');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where message_id in (:'q5', :'q6')), 0, 'both reservations are settled');

-- The budget reads the month's spend from the daily usage rollup (kept in slots as usage is recorded).
select tests.as_postgres();
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
values (:'bob', 'spend', 'openai', 'c', 'h', 'fp-spend') returning id as skey \gset
insert into public.usage_events (user_id, api_key_id, provider, model, prompt_tokens, completion_tokens, usage_source, outcome)
values (:'bob', :'skey', 'openai', 'gpt-4o', 1000, 100, 'provider', 'ok'),
       (:'bob', :'skey', 'openai', 'gpt-4o', 1000, 100, 'provider', 'ok'),
       (:'bob', :'skey', 'openai', 'free-model', 1000, 100, 'provider', 'ok');
insert into public.usage_events (user_id, api_key_id, provider, model, prompt_tokens, completion_tokens, usage_source, outcome, created_at)
values (:'bob', :'skey', 'openai', 'gpt-4o', 1000000, 0, 'provider', 'ok', now() - interval '2 months');
select is((select spent_usd from private.key_month_commitments(:'skey', :'bob')), 0.00700000::numeric,
  'a key''s month spend is the sum of this month''s priced events (2 x $0.0035), not of earlier months');
insert into private.usage_daily (api_key_id, user_id, day, provider, model, slot, requests, errors, prompt_tokens,
                                 cached_prompt_tokens, completion_tokens, cost_usd, unpriced_requests)
values (:'skey', :'bob', (now() at time zone 'utc')::date, 'openai', 'gpt-4o', (pg_backend_pid() + 1) % 16, 1, 0, 0, 0, 0, 0.001, 0);
select is((select spent_usd from private.key_month_commitments(:'skey', :'bob')), 0.00800000::numeric,
  'another connection''s slot counts too');
delete from private.usage_daily where api_key_id = :'skey' and slot = (pg_backend_pid() + 1) % 16;
select throws_ok(format($$ update public.usage_events set cost_usd = 0 where api_key_id = %L $$, :'skey'), '23514', null,
  'what was billed cannot be edited');
delete from public.usage_events where id = (select max(id) from public.usage_events where api_key_id = :'skey' and model = 'gpt-4o');
select is((select spent_usd from private.key_month_commitments(:'skey', :'bob')), 0.00700000::numeric,
  'deleting an event of an earlier month leaves this month as it was');
delete from public.usage_events where id = (select max(id) from public.usage_events where api_key_id = :'skey' and model = 'gpt-4o');
select is((select spent_usd from private.key_month_commitments(:'skey', :'bob')), 0.00350000::numeric,
  'a deleted event of this month is taken off it');
delete from public.api_keys where id = :'skey';
select is((select count(*)::int from private.usage_daily where api_key_id = :'skey'), 0,
  'a deleted key''s spend goes with it (to "no key", like its events)');

-- Only for the caller
select tests.authenticate_as('bob');
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'x', 'gpt-4o', 1, 1, 600) $$, :'conv', :'key'),
  'P0002', null, 'begin_exchange refuses another user''s conversation and key');
select throws_ok(format($$ select private.sweep_stale_exchanges(%L) $$, :'alice'), '42501', null,
  'a client cannot sweep another user''s exchanges');
select throws_ok($$ select private.sweep_stale_exchanges() $$, '42501', null, 'nor everyone''s');
select is(private.sweep_stale_exchanges(:'bob'), 0, 'a client can sweep its own (nothing stale here)');

select * from finish();
rollback;
