-- Budgets that hold under concurrency. Before a provider call the api function reserves the
-- request's worst-case cost against the key, in a short transaction that locks the key's row,
-- so concurrent requests on one key are decided one after the other: a request is refused when
-- this month's spend + open reservations + its own worst case would exceed the budget. Storing
-- the answer (or the failure) settles the reservation: the real cost is recorded, the
-- reservation goes. Reservations of a request that never came back expire, and the sweeper
-- marks its message failed.

-- A user message waiting for its answer is pending: not part of any context, shown as pending.
alter table public.messages drop constraint messages_status_check;
alter table public.messages add constraint messages_status_check check (status in ('pending', 'complete', 'failed'));
create index messages_pending_created_at_idx on public.messages (created_at) where status = 'pending';

-- Internal bookkeeping: no client role has any grant here. A reservation is also what settling
-- relies on when the client deleted the pending message, its conversation or its key during the
-- provider call: the call is still billed.
create table private.budget_reservations (
  -- The pending user message; no foreign key, so deleting the message does not release the
  -- reservation while its provider call is still running.
  message_id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  -- Null once the key is deleted: the call is then billed without a key.
  api_key_id uuid,
  provider text not null,
  conversation_id uuid not null,
  amount_usd numeric(14, 8) not null constraint budget_reservations_amount_check check (amount_usd >= 0),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  constraint budget_reservations_api_key_id_user_id_fkey foreign key (api_key_id, user_id)
    references public.api_keys (id, user_id) on delete set null (api_key_id)
);
create index budget_reservations_api_key_id_user_id_idx on private.budget_reservations (api_key_id, user_id);
create index budget_reservations_user_id_idx on private.budget_reservations (user_id);
create index budget_reservations_expires_at_idx on private.budget_reservations (expires_at);
alter table private.budget_reservations enable row level security;
revoke all on table private.budget_reservations from public, anon, authenticated, service_role;

-- Pending exchanges whose reservation expired (the request died: crash, timeout, lost database)
-- become failed ('interrupted'), and pending messages with no reservation left behind after an
-- hour too. With a user id: only that user's (a client may pass only its own).
create or replace function private.sweep_stale_exchanges(p_user_id uuid default null)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  if pg_catalog.current_setting('role', true) in ('authenticated', 'anon')
     and (p_user_id is null or p_user_id is distinct from (select auth.uid())) then
    raise exception 'only the caller''s own exchanges can be swept' using errcode = 'insufficient_privilege';
  end if;
  with expired as (
    delete from private.budget_reservations r
    where r.expires_at <= now() and (p_user_id is null or r.user_id = p_user_id)
    returning r.message_id
  ), failed as (
    update public.messages m set status = 'failed', error_code = 'interrupted'
    where m.status = 'pending'
      and (p_user_id is null or m.user_id = p_user_id)
      and (m.id in (select message_id from expired)
           or (m.created_at < now() - interval '1 hour'
               and not exists (select 1 from private.budget_reservations r where r.message_id = m.id)))
    returning 1
  )
  select count(*)::int into v_count from failed;
  return v_count;
end;
$$;
revoke all on function private.sweep_stale_exchanges(uuid) from public, anon, authenticated, service_role;

-- A budgeted key's row lock, taken first by every transaction that reserves against the key or
-- settles a call billed to it: reservations and settlements on one key are decided one after the
-- other, and always lock the key before any conversation or message (storing a message updates
-- its conversation's row), so the two never wait for each other in a cycle. An unbudgeted key
-- (or no key) takes no lock.
create function private.lock_budgeted_key(p_api_key_id uuid, p_user_id uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform 1 from public.api_keys k
  where k.id = p_api_key_id and k.user_id = p_user_id and k.monthly_budget_usd is not null
  for no key update; -- NO KEY UPDATE: rows that reference the key still pass their foreign-key checks
end;
$$;
revoke all on function private.lock_budgeted_key(uuid, uuid) from public, anon, authenticated, service_role;

-- What a key has committed this month: its spend (UTC month, from the daily usage rollup, so a
-- few rows per day whatever the number of calls, under the key's lock) and its open reservations
-- (figures: docs/performance.md). One statement, so
-- one snapshot: a settlement that commits meanwhile (its reservation gone, its usage recorded) is
-- seen either whole or not at all.
create function private.key_month_commitments(p_api_key_id uuid, p_user_id uuid, out spent_usd numeric, out reserved_usd numeric)
language sql
stable
set search_path = ''
as $$
  select (select coalesce(sum(d.cost_usd), 0) from private.usage_daily d
          where d.api_key_id = p_api_key_id and d.user_id = p_user_id
            and d.day >= pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc')::date),
         (select coalesce(sum(r.amount_usd), 0) from private.budget_reservations r
          where r.api_key_id = p_api_key_id and r.user_id = p_user_id and r.expires_at > pg_catalog.now());
$$;
revoke all on function private.key_month_commitments(uuid, uuid) from public, anon, authenticated, service_role;

-- The key an exchange is billed to: its reservation's, else its user message's.
create function private.exchange_key_id(p_user_message_id uuid, p_user_id uuid)
returns uuid
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select r.api_key_id from private.budget_reservations r where r.message_id = p_user_message_id and r.user_id = p_user_id),
    (select m.api_key_id from public.messages m where m.id = p_user_message_id and m.user_id = p_user_id));
$$;
revoke all on function private.exchange_key_id(uuid, uuid) from public, anon, authenticated, service_role;

-- The user's side of an exchange, with its budget reservation. p_prompt_tokens and
-- p_max_output_tokens give the worst case, priced at the model's current price (an unpriced
-- model records no cost, so it reserves none). Raises PT429 when the budget cannot cover it.
create or replace function private.begin_exchange(
  p_conversation_id uuid,
  p_api_key_id uuid,
  p_content text,
  p_model text,
  p_prompt_tokens integer,
  p_max_output_tokens integer,
  p_expires_in_seconds integer
)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_key public.api_keys;
  v_price public.model_prices;
  v_worst numeric := 0;
  v_spent numeric;
  v_reserved numeric;
  v_message public.messages;
begin
  if v_user_id is null then
    raise exception 'begin_exchange needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  if not exists (select 1 from public.conversations c where c.id = p_conversation_id and c.user_id = v_user_id) then
    raise exception 'conversation % not found', p_conversation_id using errcode = 'no_data_found';
  end if;
  perform private.lock_budgeted_key(p_api_key_id, v_user_id);
  select k.* into v_key from public.api_keys k where k.id = p_api_key_id and k.user_id = v_user_id;
  if not found or not v_key.is_valid then
    raise exception 'api key % not found or not valid', p_api_key_id using errcode = 'no_data_found';
  end if;

  perform private.sweep_stale_exchanges(v_user_id);

  select p.* into v_price from public.model_prices p
  where p.provider = v_key.provider and p.model = p_model and p.valid_from <= now()
  order by p.valid_from desc limit 1;
  if not found and v_key.monthly_budget_usd is not null then
    raise exception 'Model % has no price, so this key''s monthly budget cannot be kept: choose a priced model, or remove the budget', p_model
      using errcode = 'invalid_parameter_value';
  end if;
  if found then
    v_worst := round((greatest(p_prompt_tokens, 0)::numeric * v_price.input_usd_per_mtok
                      + greatest(p_max_output_tokens, 0)::numeric * v_price.output_usd_per_mtok) / 1000000, 8);
  end if;

  if v_key.monthly_budget_usd is not null then
    select c.spent_usd, c.reserved_usd into v_spent, v_reserved from private.key_month_commitments(v_key.id, v_user_id) c;
    if v_spent + v_reserved + v_worst > v_key.monthly_budget_usd then
      raise exception 'This key''s monthly budget of $% cannot cover this message: $% spent, $% reserved by messages in progress, up to $% for this one',
        v_key.monthly_budget_usd, round(v_spent, 4), round(v_reserved, 4), round(v_worst, 4)
        using errcode = 'PT429';
    end if;
  end if;

  insert into public.messages (conversation_id, user_id, role, content, api_key_id, status)
  values (p_conversation_id, v_user_id, 'user', p_content, v_key.id, 'pending')
  returning * into v_message;
  insert into private.budget_reservations (message_id, user_id, api_key_id, provider, conversation_id, amount_usd, expires_at)
  values (v_message.id, v_user_id, v_key.id, v_key.provider, p_conversation_id, v_worst,
          now() + make_interval(secs => greatest(p_expires_in_seconds, 1)));
  return v_message;
end;
$$;
revoke all on function private.begin_exchange(uuid, uuid, text, text, integer, integer, integer) from public, anon, authenticated, service_role;
grant execute on function private.begin_exchange(uuid, uuid, text, text, integer, integer, integer) to authenticated;

-- Settles a failed exchange: the message is failed, the attempt's usage recorded once, the
-- reservation goes, and a key the provider refused is marked invalid. Like store_answer (20261127004000), it
-- still records the attempt from the reservation when the client deleted the message meanwhile.
create function private.fail_exchange(
  p_user_message_id uuid,
  p_error_code text,
  p_key_refused boolean,
  p_model text,
  p_prompt_tokens integer,
  p_cached_prompt_tokens integer,
  p_completion_tokens integer,
  p_usage_source text,
  p_latency_ms integer
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_reservation private.budget_reservations;
  v_question public.messages;
  v_key_id uuid;
  v_provider text;
begin
  if v_user_id is null then
    raise exception 'fail_exchange needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  perform private.lock_budgeted_key(private.exchange_key_id(p_user_message_id, v_user_id), v_user_id);
  select r.* into v_reservation from private.budget_reservations r
  where r.message_id = p_user_message_id and r.user_id = v_user_id for update;
  select m.* into v_question from public.messages m
  where m.id = p_user_message_id and m.user_id = v_user_id and m.role = 'user' for update;
  if v_question.id is null and v_reservation.message_id is null then
    raise exception 'message % not found', p_user_message_id using errcode = 'no_data_found';
  end if;
  if v_question.id is not null and v_question.status = 'complete' then
    return;
  end if;
  delete from private.budget_reservations where message_id = p_user_message_id;
  if v_question.id is not null then
    update public.messages set status = 'failed', error_code = p_error_code where id = v_question.id;
  end if;
  v_key_id := coalesce(v_question.api_key_id, v_reservation.api_key_id);
  v_provider := coalesce(v_reservation.provider,
    (select k.provider from public.api_keys k where k.id = v_key_id and k.user_id = v_user_id));
  if v_provider is null then
    return; -- nothing known to bill it to
  end if;
  if p_key_refused and v_key_id is not null then
    update public.api_keys set is_valid = false where id = v_key_id and user_id = v_user_id;
  end if;
  perform private.record_usage(v_key_id,
    (select c.id from public.conversations c
     where c.id = coalesce(v_question.conversation_id, v_reservation.conversation_id) and c.user_id = v_user_id),
    null, v_provider, p_model, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens, p_usage_source, p_latency_ms,
    'error', p_error_code);
end;
$$;
revoke all on function private.fail_exchange(uuid, text, boolean, text, integer, integer, integer, text, integer)
  from public, anon, authenticated, service_role;
grant execute on function private.fail_exchange(uuid, text, boolean, text, integer, integer, integer, text, integer)
  to authenticated;

-- Clients' reads run the sweeper for themselves (the api function, before listing a
-- conversation's messages), so a message never shows pending after its request died.
grant execute on function private.sweep_stale_exchanges(uuid) to authenticated;
