-- Embeddings keep the budget too: reserve_embedding reserves an embedding call's worst case
-- against an own OpenAI key under the key's row lock (as begin_exchange does), or returns null
-- when the budget cannot cover it; settle_embedding records the real usage and releases it.
begin;
create extension if not exists pgtap with schema extensions;
select plan(24);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset
select tests.authenticate_as('alice');
select private.register_api_key('budgeted', 'openai', 'c', 'h', 'fp-embed-budget') as key \gset
select private.register_api_key('claude', 'anthropic', 'c', 'h', 'fp-embed-claude') as claude \gset
insert into public.conversations (title) values ('chat') returning id as conv \gset
update public.api_keys set monthly_budget_usd = 0.01 where id = :'key';

-- Only for the caller, and only with an OpenAI key.
select tests.clear_authentication();
select throws_ok(format($$ select private.reserve_embedding(%L, null, 'text-embedding-3-small', 10, 60) $$, :'key'),
  '42501', null, 'reserve_embedding needs an authenticated user');
select tests.authenticate_as('bob');
select throws_ok(format($$ select private.reserve_embedding(%L, null, 'text-embedding-3-small', 10, 60) $$, :'key'),
  'P0002', null, 'another user''s key cannot be reserved against');
select private.register_api_key('bobs', 'openai', 'c', 'h', 'fp-embed-bob') as bobkey \gset
select throws_ok(format($$ select private.reserve_embedding(%L, %L, 'text-embedding-3-small', 10, 60) $$, :'bobkey', :'conv'),
  'P0002', null, 'nor another user''s conversation named on one''s own key');
select tests.authenticate_as('alice');
select throws_ok(format($$ select private.reserve_embedding(%L, null, 'text-embedding-3-small', 10, 60) $$, :'claude'),
  'P0002', null, 'an Anthropic key has no embeddings to reserve for');

-- text-embedding-3-small: $0.02 per million input tokens. 400,000 tokens at worst: $0.008.
select private.reserve_embedding(:'key', null, 'text-embedding-3-small', 400000, 60) as r1 \gset
select isnt(:'r1'::uuid, null::uuid, 'a worst case that fits is reserved');
select tests.as_postgres();
-- pgrowlocks (contrib) shows the modes a row is locked in; its extension goes with the rollback.
create extension pgrowlocks with schema extensions;
select ok((select 'For No Key Update' = any(l.modes) from extensions.pgrowlocks('public.api_keys') l
           join public.api_keys k on k.ctid = l.locked_row where k.id = :'key'),
  'the budgeted key''s row is locked (for no key update) until the transaction ends, so reservations on it are decided one after another');
select results_eq(
  format($$ select purpose, amount_usd, conversation_id, api_key_id, user_id from private.budget_reservations where message_id = %L $$, :'r1'),
  format($$ values ('embedding'::text, 0.00800000::numeric(14,8), null::uuid, %L::uuid, %L::uuid) $$, :'key', :'alice'),
  'the reservation: an embedding, its worst case, the key and its owner');
select tests.authenticate_as('alice');
select is(private.reserve_embedding(:'key', null, 'text-embedding-3-small', 200000, 60), null::uuid,
  '$0.008 reserved + $0.004 does not fit in $0.01: null, no call');
select throws_ok(format($$ select private.begin_exchange(%L, %L, 'q', 'gpt-4o', 1000, 200, 600) $$, :'conv', :'key'),
  'PT429', null, 'chat counts the embedding reservation: $0.008 + $0.0045 is refused');
select is(private.reserve_embedding(:'key', :'conv', 'some-unpriced-model', 1, 60), null::uuid,
  'an unpriced model on a budgeted key: its cost could not be counted, so null');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where user_id = :'alice'), 1, 'refusals reserve nothing');

-- Settling: only the owner's; the real usage replaces the worst case.
select tests.authenticate_as('bob');
select lives_ok(format($$ select private.settle_embedding(%L, %L, 'text-embedding-3-small', 1000, 'provider', 5, null) $$, :'r1', :'key'),
  'another user settling alice''s reservation');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where message_id = :'r1'), 1, '...leaves it open');
select is((select count(*)::int from public.usage_events where api_key_id = :'key'), 0, '...and bills nothing to her key');
select tests.authenticate_as('alice');
select results_eq(
  format($$ select api_key_id, prompt_tokens, cost_usd, outcome from private.settle_embedding(%L, %L, 'text-embedding-3-small', 1000, 'provider', 5, null) $$, :'r1', :'key'),
  format($$ values (%L::uuid, 1000, 0.00002000::numeric(14,8), 'ok'::text) $$, :'key'),
  'the owner settles: 1,000 real tokens billed ($0.00002)');
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where message_id = :'r1'), 0, 'the reservation is gone');
-- A retry of a settlement whose first attempt committed unconfirmed (the database went away):
-- the call is billed once.
select tests.authenticate_as('alice');
select results_eq(
  format($$ select api_key_id, prompt_tokens, cost_usd, outcome from private.settle_embedding(%L, %L, 'text-embedding-3-small', 1000, 'provider', 5, null) $$, :'r1', :'key'),
  format($$ values (%L::uuid, 1000, 0.00002000::numeric(14,8), 'ok'::text) $$, :'key'),
  'settling the same reservation again returns what the first settlement recorded');
select tests.as_postgres();
select is((select count(*)::int from public.usage_events where api_key_id = :'key'), 1, '...and records nothing more');
select tests.authenticate_as('alice');
select is((select id from private.settle_embedding(:'r1', :'key', 'text-embedding-3-small', 7, 'provider', 5, null)),
  (select id from public.usage_events where api_key_id = :'key'), '...the very event, whatever the retry says');
select isnt(private.reserve_embedding(:'key', :'conv', 'text-embedding-3-small', 400000, 60), null::uuid,
  'the budget it held is free again ($0.00002 spent + $0.008 fits)');

-- A failed call: its attempt is recorded with what the provider billed, the reservation goes.
select private.reserve_embedding(:'key', :'conv', 'text-embedding-3-small', 10, 60) as r2 \gset
select results_eq(
  format($$ select conversation_id, prompt_tokens, outcome, error_code from private.settle_embedding(%L, %L, 'text-embedding-3-small', 0, 'estimated', 5, 'timeout') $$, :'r2', :'key'),
  format($$ values (%L::uuid, 0, 'error'::text, 'timeout'::text) $$, :'conv'),
  'a failed call is recorded as an attempt, in the question''s conversation');

-- A reservation that expired (the worker died) no longer holds budget; the next one sweeps it,
-- and a call that still comes back afterwards is billed to the key all the same.
select tests.as_postgres();
update private.budget_reservations set expires_at = now() - interval '1 second' where user_id = :'alice';
select tests.authenticate_as('alice');
select private.reserve_embedding(:'key', null, 'text-embedding-3-small', 400000, 60) as r3 \gset
select tests.as_postgres();
select is((select count(*)::int from private.budget_reservations where user_id = :'alice'), 1, 'expired reservations are swept by the next');
select tests.authenticate_as('alice');
select is((select api_key_id from private.settle_embedding(
  (select gen_random_uuid()), :'key', 'text-embedding-3-small', 500, 'provider', 5, null)), :'key'::uuid,
  'a call whose reservation is gone is still billed to the caller''s key');
select tests.authenticate_as('bob');
select is((select api_key_id from private.settle_embedding(
  (select gen_random_uuid()), :'key', 'text-embedding-3-small', 500, 'provider', 5, null)), null::uuid,
  'but never to another user''s key');

select * from finish();
rollback;
