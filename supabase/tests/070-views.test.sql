-- The usage views and conversation_list: right numbers, and only the caller's rows.
begin;
create extension if not exists pgtap with schema extensions;
select plan(22);

-- Days are UTC days whatever the session's time zone.
set local timezone = 'Pacific/Auckland';

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, monthly_budget_usd)
values (:'alice', 'k1', 'openai', 'c', 'h', 'fp1', 1.00) returning id as k1 \gset
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
values (:'alice', 'k2', 'anthropic', 'c', 'h', 'fp2') returning id as k2 \gset
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
values (:'alice', 'k3', 'openai', 'c', 'h', 'fp3') returning id as k3 \gset
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, monthly_budget_usd)
values (:'bob', 'bk', 'openai', 'c', 'h', 'fpb', 2.00) returning id as bk \gset

insert into public.usage_events (user_id, api_key_id, provider, model, prompt_tokens, cached_prompt_tokens, completion_tokens, usage_source, outcome, created_at)
values
  (:'alice', :'k1', 'openai', 'gpt-4o-mini', 1000, 200, 500, 'provider', 'ok', now()),          -- 0.000435
  (:'alice', :'k1', 'openai', 'gpt-4o-mini', 0, 0, 0, 'estimated', 'error', now()),             -- 0
  (:'alice', :'k1', 'openai', 'no-such-model', 100, 0, 100, 'provider', 'ok', now()),           -- unpriced
  (:'alice', :'k1', 'openai', 'gpt-4o', 1000, 0, 1000, 'provider', 'ok', '2025-03-01 23:30:00+00'), -- 0.0125, an earlier month
  (:'alice', :'k2', 'anthropic', 'claude-sonnet-4-0', 2000, 1000, 300, 'provider', 'cancelled', now()), -- 0.0078
  (:'bob', :'bk', 'openai', 'gpt-4o', 1000000, 0, 0, 'provider', 'ok', now());                  -- 2.50

select tests.authenticate_as('alice');

select results_eq(
  $$ select api_key_id, day, requests, errors, prompt_tokens, cached_prompt_tokens, completion_tokens, total_tokens,
            cost_usd, unpriced_requests
     from public.api_key_usage_daily order by api_key_id = (select id from public.api_keys where name = 'k2'), day $$,
  format($$ values
    (%1$L::uuid, '2025-03-01'::date, 1::bigint, 0::bigint, 1000::bigint, 0::bigint, 1000::bigint, 2000::bigint, 0.0125::numeric(14,8), 0::bigint),
    (%1$L::uuid, (now() at time zone 'utc')::date, 3, 1, 1100, 200, 600, 1700, 0.000435, 1),
    (%2$L::uuid, (now() at time zone 'utc')::date, 1, 0, 2000, 1000, 300, 2300, 0.0078, 0) $$, :'k1', :'k2'),
  'api_key_usage_daily: owner sees per key and UTC day requests, errors, tokens, cost and unpriced requests');

select results_eq(
  $$ select api_key_id, provider, model, requests, errors, prompt_tokens, cached_prompt_tokens, completion_tokens,
            total_tokens, cost_usd, priced
     from public.api_key_usage_by_model order by provider desc, model $$,
  format($$ values
    (%1$L::uuid, 'openai'::text, 'gpt-4o'::text, 1::bigint, 0::bigint, 1000::bigint, 0::bigint, 1000::bigint, 2000::bigint, 0.0125::numeric(14,8), true),
    (%1$L::uuid, 'openai', 'gpt-4o-mini', 2, 1, 1000, 200, 500, 1500, 0.000435, true),
    (%1$L::uuid, 'openai', 'no-such-model', 1, 0, 100, 0, 100, 200, 0, false),
    (%2$L::uuid, 'anthropic', 'claude-sonnet-4-0', 1, 0, 2000, 1000, 300, 2300, 0.0078, true) $$, :'k1', :'k2'),
  'api_key_usage_by_model: owner sees per key and model totals, priced only when every event was');

select results_eq(
  $$ select api_key_id, requests, errors, prompt_tokens, cached_prompt_tokens, completion_tokens, total_tokens, cost_usd,
            unpriced_requests, month_requests, month_tokens, month_cost_usd, monthly_budget_usd, budget_remaining_usd
     from public.api_key_usage_totals t
     order by (select name from public.api_keys k where k.id = t.api_key_id) $$,
  format($$ values
    (%1$L::uuid, 4::bigint, 1::bigint, 2100::bigint, 200::bigint, 1600::bigint, 3700::bigint, 0.012935::numeric(14,8),
       1::bigint, 3::bigint, 1700::bigint, 0.000435::numeric(14,8), 1.00::numeric(12,2), 0.999565::numeric(14,8)),
    (%2$L::uuid, 1, 0, 2000, 1000, 300, 2300, 0.0078, 0, 1, 2300, 0.0078, null, null),
    (%3$L::uuid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, null, null) $$, :'k1', :'k2', :'k3'),
  'api_key_usage_totals: one row per key of the owner, zeros for an unused key, this month and the budget left');

select is(
  (select count(*)::int from public.api_key_usage_totals where user_id = :'bob'), 0,
  'api_key_usage_totals: another user''s keys are not listed');
select is_empty(format($$ select 1 from public.api_key_usage_daily where user_id = %L $$, :'bob'),
  'api_key_usage_daily: another user''s usage is not visible');
select is_empty(format($$ select 1 from public.api_key_usage_by_model where user_id = %L $$, :'bob'),
  'api_key_usage_by_model: another user''s usage is not visible');

-- api_key_month_cost: the budget check's month sum, the same figure as the totals view.
select is(public.api_key_month_cost(:'k1'), 0.000435::numeric, 'api_key_month_cost: this UTC month only, errors and unpriced included at their cost');
select is(public.api_key_month_cost(:'k2'),
  (select month_cost_usd from public.api_key_usage_totals where api_key_id = :'k2'),
  'api_key_month_cost agrees with api_key_usage_totals.month_cost_usd');
select is(public.api_key_month_cost(:'bk'), 0::numeric, 'api_key_month_cost: another user''s key shows nothing (RLS)');
select tests.clear_authentication();
select throws_ok(format($$ select public.api_key_month_cost(%L) $$, :'k1'), '42501', null, 'anon cannot call api_key_month_cost');
select tests.authenticate_as('alice');

select tests.authenticate_as('bob');
select results_eq(
  $$ select api_key_id, requests, cost_usd, month_cost_usd, budget_remaining_usd from public.api_key_usage_totals $$,
  format($$ values (%L::uuid, 1::bigint, 2.5::numeric(14,8), 2.5::numeric(14,8), -0.5::numeric(14,8)) $$, :'bk'),
  'the other user sees only their own totals; an overspent budget shows as negative');
select is((select count(*)::int from public.api_key_usage_daily), 1, 'the other user sees only their own daily rows');
select is((select count(*)::int from public.api_key_usage_by_model), 1, 'the other user sees only their own per-model rows');

-- conversation_list
select tests.as_postgres();
insert into public.conversations (id, user_id, title, updated_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'with messages', '2000-01-01'),
       ('00000000-0000-4000-8000-00000000000b', :'alice', 'empty', '2001-01-01'),
       ('00000000-0000-4000-8000-00000000000c', :'bob', 'bob''s', '2002-01-01');
insert into public.messages (conversation_id, user_id, role, content, created_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'first question', '2026-01-01 10:00:00+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'assistant', repeat('0123456789', 20), '2026-01-01 10:00:05+00'),
       ('00000000-0000-4000-8000-00000000000c', :'bob', 'user', 'bob question', '2026-01-02 10:00:00+00');
-- The trigger moved updated_at to now(); put it back to tell it apart from the last message time.
update public.conversations set updated_at = '2000-01-01' where id = '00000000-0000-4000-8000-00000000000a';

select tests.authenticate_as('alice');
select results_eq(
  $$ select id, title, message_count, last_message_at, preview, last_activity_at
     from public.conversation_list order by last_activity_at desc $$,
  $$ values
    ('00000000-0000-4000-8000-00000000000a'::uuid, 'with messages'::text, 2::bigint, '2026-01-01 10:00:05+00'::timestamptz,
       repeat('0123456789', 12), '2026-01-01 10:00:05+00'::timestamptz),
    ('00000000-0000-4000-8000-00000000000b', 'empty', 0, null, null, '2001-01-01'::timestamptz) $$,
  'conversation_list: owner sees counts, the last message, a 120-character preview and the last activity');
select results_eq(
  $$ select user_id, api_key_id, model, system_prompt, created_at, updated_at from public.conversation_list
     where id = '00000000-0000-4000-8000-00000000000b' $$,
  $$ select user_id, api_key_id, model, system_prompt, created_at, updated_at from public.conversations
     where id = '00000000-0000-4000-8000-00000000000b' $$,
  'conversation_list carries the conversation''s own columns');
select is_empty($$ select 1 from public.conversation_list where id = '00000000-0000-4000-8000-00000000000c' $$,
  'conversation_list: another user''s conversation is not listed');

select tests.authenticate_as('bob');
select results_eq(
  $$ select id, message_count, preview from public.conversation_list $$,
  $$ values ('00000000-0000-4000-8000-00000000000c'::uuid, 1::bigint, 'bob question'::text) $$,
  'the other user lists only their own conversation');

-- The rollup agrees with the events it rolls up, also once a key is deleted (its usage then
-- shows under no key, as its events do).
select tests.as_postgres();
delete from public.api_keys where id = :'k2';
select set_eq(
  $$ select api_key_id, user_id, day, requests, errors, prompt_tokens, cached_prompt_tokens, completion_tokens, cost_usd,
            unpriced_requests from public.api_key_usage_daily $$,
  $$ select e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date, count(*) as requests,
            count(*) filter (where e.outcome = 'error') as errors, sum(e.prompt_tokens)::bigint as prompt_tokens,
            sum(e.cached_prompt_tokens)::bigint as cached_prompt_tokens, sum(e.completion_tokens)::bigint as completion_tokens,
            sum(e.cost_usd)::numeric(14, 8) as cost_usd, count(*) filter (where not e.priced) as unpriced
     from public.usage_events e group by 1, 2, 3 $$,
  'the daily rollup equals the events'' own aggregate, a deleted key''s usage under no key');

-- Visitor
select tests.clear_authentication();
select throws_ok($$ select 1 from public.api_key_usage_daily $$, '42501', null, 'api_key_usage_daily: anon cannot select');
select throws_ok($$ select 1 from public.api_key_usage_by_model $$, '42501', null, 'api_key_usage_by_model: anon cannot select');
select throws_ok($$ select 1 from public.api_key_usage_totals $$, '42501', null, 'api_key_usage_totals: anon cannot select');
select throws_ok($$ select 1 from public.conversation_list $$, '42501', null, 'conversation_list: anon cannot select');

select * from finish();
rollback;
