-- Embeddings keep the budget promise too. Before each embedding call (a batch of a document's
-- chunks in the ingest worker, a question's embedding in the api function) its worst-case cost
-- is reserved against the key in a short transaction that locks a budgeted key's row, exactly
-- like a chat message (private.begin_exchange): chat and embedding reservations on one key are
-- decided one after the other and each counts the other's. When the budget cannot cover the
-- call nothing is reserved and the caller does without embeddings (lexical search only).
-- Settling records the real usage and removes the reservation.

-- An embedding reservation has no message: message_id is then the reservation's own id (no
-- message has it, so the sweeper only deletes it once expired) and the conversation is the
-- question's, or none for a document's chunks.
alter table private.budget_reservations
  add column purpose text not null default 'chat'
    constraint budget_reservations_purpose_check check (purpose in ('chat', 'embedding'));
alter table private.budget_reservations alter column conversation_id drop not null;
alter table private.budget_reservations
  add constraint budget_reservations_conversation_id_check check (purpose = 'embedding' or conversation_id is not null);

-- Why a document's chunks (some or all) have no embedding although its owner has an OpenAI key:
-- 'budget' = the key's monthly budget could not cover embedding them. They are searchable
-- lexically (full text and trigrams) like any chunk.
alter table public.documents
  add column embeddings_skipped text
    constraint documents_embeddings_skipped_check check (embeddings_skipped in ('budget'));

-- Reserves the worst case of one embedding call on an own, valid OpenAI key: p_max_tokens input
-- tokens at p_model's price. Returns the reservation's id, or null when the key's monthly budget
-- cannot cover it beside this month's spend and the open reservations (chat's too), or when the
-- key is budgeted and the model has no price. Acts only for auth.uid() (the api function as the
-- caller; the ingest worker as the document's owner).
create or replace function private.reserve_embedding(
  p_api_key_id uuid,
  p_conversation_id uuid,
  p_model text,
  p_max_tokens integer,
  p_expires_in_seconds integer
)
returns uuid
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
  v_id uuid := gen_random_uuid();
begin
  if v_user_id is null then
    raise exception 'reserve_embedding needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  if p_conversation_id is not null
     and not exists (select 1 from public.conversations c where c.id = p_conversation_id and c.user_id = v_user_id) then
    raise exception 'conversation % not found', p_conversation_id using errcode = 'no_data_found';
  end if;
  -- The same row lock as begin_exchange: every reservation on a budgeted key, chat or
  -- embedding, waits for the one before it to commit.
  perform private.lock_budgeted_key(p_api_key_id, v_user_id);
  select k.* into v_key from public.api_keys k where k.id = p_api_key_id and k.user_id = v_user_id;
  if not found or not v_key.is_valid or v_key.provider <> 'openai' then
    raise exception 'api key % not found, not valid or not an OpenAI key', p_api_key_id using errcode = 'no_data_found';
  end if;

  perform private.sweep_stale_exchanges(v_user_id);

  select p.* into v_price from public.model_prices p
  where p.provider = 'openai' and p.model = p_model and p.valid_from <= now()
  order by p.valid_from desc limit 1;
  if found then
    v_worst := round(greatest(p_max_tokens, 0)::numeric * v_price.input_usd_per_mtok / 1000000, 8);
  elsif v_key.monthly_budget_usd is not null then
    return null; -- its cost could not be counted
  end if;

  if v_key.monthly_budget_usd is not null then
    select c.spent_usd, c.reserved_usd into v_spent, v_reserved from private.key_month_commitments(v_key.id, v_user_id) c;
    if v_spent + v_reserved + v_worst > v_key.monthly_budget_usd then
      return null;
    end if;
  end if;

  insert into private.budget_reservations (message_id, purpose, user_id, api_key_id, provider, conversation_id, amount_usd, expires_at)
  values (v_id, 'embedding', v_user_id, v_key.id, 'openai', p_conversation_id, v_worst,
          now() + make_interval(secs => greatest(p_expires_in_seconds, 1)));
  return v_id;
end;
$$;
revoke all on function private.reserve_embedding(uuid, uuid, text, integer, integer) from public, anon, authenticated, service_role;
grant execute on function private.reserve_embedding(uuid, uuid, text, integer, integer) to authenticated;

-- Settles an embedding call: its usage is recorded (p_error_code null: 'ok', else an attempt
-- with what the provider billed, often nothing) and the reservation goes. Billed to the
-- reservation's key and conversation; when the reservation is gone (it expired and was swept
-- while the call ran) to p_api_key_id, if it is still the caller's: a call that happened is billed.
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
begin
  if v_user_id is null then
    raise exception 'settle_embedding needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  perform private.lock_budgeted_key(
    coalesce((select r.api_key_id from private.budget_reservations r where r.message_id = p_reservation_id and r.user_id = v_user_id),
             p_api_key_id),
    v_user_id);
  delete from private.budget_reservations r
  where r.message_id = p_reservation_id and r.user_id = v_user_id and r.purpose = 'embedding'
  returning r.* into v_reservation;
  if v_reservation.message_id is not null then
    v_key_id := v_reservation.api_key_id; -- null if the key was deleted meanwhile: billed without a key
    v_conversation_id := (select c.id from public.conversations c where c.id = v_reservation.conversation_id and c.user_id = v_user_id);
  else
    v_key_id := (select k.id from public.api_keys k where k.id = p_api_key_id and k.user_id = v_user_id and k.provider = 'openai');
  end if;
  return private.record_usage(v_key_id, v_conversation_id, null, 'openai', p_model, p_prompt_tokens, 0, 0,
    p_usage_source, p_latency_ms, case when p_error_code is null then 'ok' else 'error' end, p_error_code);
end;
$$;
revoke all on function private.settle_embedding(uuid, uuid, text, integer, text, integer, text) from public, anon, authenticated, service_role;
grant execute on function private.settle_embedding(uuid, uuid, text, integer, text, integer, text) to authenticated;
