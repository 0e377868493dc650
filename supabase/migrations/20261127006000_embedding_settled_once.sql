-- An embedding call is settled exactly once, so that a settlement the database did not confirm
-- can be sent again. The api function and the ingest worker retry settle_embedding in the
-- background when the database is unavailable after a call that happened (as chat retries
-- store_answer): without a retry the call went unbilled, and a retry must not bill it twice when
-- the first attempt did commit but its answer was lost with the connection.
--
-- Each settlement leaves its reservation id here; settling the same reservation again returns the
-- usage event recorded the first time. Rows older than a day go as the user settles again (a retry
-- gives up after minutes).
create table private.settled_embeddings (
  user_id uuid not null references auth.users (id) on delete cascade,
  reservation_id uuid not null,
  usage_event_id bigint references public.usage_events (id) on delete set null,
  settled_at timestamptz not null default now(),
  -- Per user: another user naming this reservation id cannot take it from its owner.
  primary key (user_id, reservation_id)
);
create index settled_embeddings_user_id_settled_at_idx on private.settled_embeddings (user_id, settled_at);
create index settled_embeddings_usage_event_id_idx on private.settled_embeddings (usage_event_id);
alter table private.settled_embeddings enable row level security; -- no policies: functions only
revoke all on table private.settled_embeddings from public, anon, authenticated, service_role;

-- As 20261127001600, and once per reservation: the first settlement claims the reservation id
-- (a concurrent second one waits on the primary key, then finds it taken) and records the usage;
-- a later one records nothing and returns what the first recorded.
create or replace function private.settle_embedding(
  p_reservation_id uuid,
  p_api_key_id uuid,
  p_model text,
  p_prompt_tokens integer,
  p_usage_source text,
  p_latency_ms integer,
  p_error_code text
)
returns public.usage_events
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_reservation private.budget_reservations;
  v_key_id uuid;
  v_conversation_id uuid;
  v_event public.usage_events;
begin
  if v_user_id is null then
    raise exception 'settle_embedding needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  perform private.lock_budgeted_key(
    coalesce((select r.api_key_id from private.budget_reservations r where r.message_id = p_reservation_id and r.user_id = v_user_id),
             p_api_key_id),
    v_user_id);
  insert into private.settled_embeddings (reservation_id, user_id) values (p_reservation_id, v_user_id)
  on conflict (user_id, reservation_id) do nothing;
  if not found then
    select e.* into v_event from private.settled_embeddings s
    join public.usage_events e on e.id = s.usage_event_id
    where s.reservation_id = p_reservation_id and s.user_id = v_user_id;
    return v_event; -- settled before (all fields null if its event was deleted since)
  end if;
  delete from private.settled_embeddings s where s.user_id = v_user_id and s.settled_at < now() - interval '1 day';

  delete from private.budget_reservations r
  where r.message_id = p_reservation_id and r.user_id = v_user_id and r.purpose = 'embedding'
  returning r.* into v_reservation;
  if v_reservation.message_id is not null then
    v_key_id := v_reservation.api_key_id; -- null if the key was deleted meanwhile: billed without a key
    v_conversation_id := (select c.id from public.conversations c where c.id = v_reservation.conversation_id and c.user_id = v_user_id);
  else
    v_key_id := (select k.id from public.api_keys k where k.id = p_api_key_id and k.user_id = v_user_id and k.provider = 'openai');
  end if;
  v_event := private.record_usage(v_key_id, v_conversation_id, null, 'openai', p_model, p_prompt_tokens, 0, 0,
    p_usage_source, p_latency_ms, case when p_error_code is null then 'ok' else 'error' end, p_error_code);
  update private.settled_embeddings s set usage_event_id = v_event.id
  where s.user_id = v_user_id and s.reservation_id = p_reservation_id;
  return v_event;
end;
$$;
