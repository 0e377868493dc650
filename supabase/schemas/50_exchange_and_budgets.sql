-- The exchange (a question and its answer) and the budgets it respects
--
-- prepare_exchange / begin_exchange reserve the worst-case cost of a call against the key's
-- monthly budget before any provider is called; store_answer (or fail_exchange) settles it, so
-- the budget is never exceeded and a successful call is always billed. Stale exchanges are
-- swept by pg_cron. Embeddings reserve and settle the same way.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- Internal bookkeeping: no client role has any grant here. A reservation is also what settling
-- relies on when the client deleted the pending message, its conversation or its key during the
-- provider call: the call is still billed.
CREATE TABLE private.budget_reservations (
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    api_key_id uuid,
    provider text NOT NULL,
    conversation_id uuid,
    amount_usd numeric(14,8) NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    purpose text DEFAULT 'chat'::text NOT NULL,
    CONSTRAINT budget_reservations_amount_check CHECK ((amount_usd >= (0)::numeric)),
    CONSTRAINT budget_reservations_conversation_id_check CHECK (((purpose = 'embedding'::text) OR (conversation_id IS NOT NULL))),
    CONSTRAINT budget_reservations_purpose_check CHECK ((purpose = ANY (ARRAY['chat'::text, 'embedding'::text])))
);

-- An embedding call is settled exactly once, so that a settlement the database did not confirm
-- can be sent again. The api function and the ingest worker retry settle_embedding in the
-- background when the database is unavailable after a call that happened (as chat retries
-- store_answer): without a retry the call went unbilled, and a retry must not bill it twice when
-- the first attempt did commit but its answer was lost with the connection.
--
-- Each settlement leaves its reservation id here; settling the same reservation again returns the
-- usage event recorded the first time. Rows older than a day go as the user settles again (a retry
-- gives up after minutes).
CREATE TABLE private.settled_embeddings (
    user_id uuid NOT NULL,
    reservation_id uuid NOT NULL,
    usage_event_id bigint,
    settled_at timestamp with time zone DEFAULT now() NOT NULL
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.budget_reservations
    ADD CONSTRAINT budget_reservations_pkey PRIMARY KEY (message_id);

ALTER TABLE ONLY private.settled_embeddings
    ADD CONSTRAINT settled_embeddings_pkey PRIMARY KEY (user_id, reservation_id);

ALTER TABLE ONLY private.budget_reservations
    ADD CONSTRAINT budget_reservations_api_key_id_user_id_fkey FOREIGN KEY (api_key_id, user_id) REFERENCES public.api_keys(id, user_id) ON DELETE SET NULL (api_key_id);

ALTER TABLE ONLY private.budget_reservations
    ADD CONSTRAINT budget_reservations_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY private.settled_embeddings
    ADD CONSTRAINT settled_embeddings_usage_event_id_fkey FOREIGN KEY (usage_event_id) REFERENCES public.usage_events(id) ON DELETE SET NULL;

ALTER TABLE ONLY private.settled_embeddings
    ADD CONSTRAINT settled_embeddings_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE INDEX budget_reservations_api_key_id_user_id_idx ON private.budget_reservations USING btree (api_key_id, user_id);

CREATE INDEX budget_reservations_expires_at_idx ON private.budget_reservations USING btree (expires_at);

CREATE INDEX budget_reservations_user_id_idx ON private.budget_reservations USING btree (user_id);

CREATE INDEX settled_embeddings_usage_event_id_idx ON private.settled_embeddings USING btree (usage_event_id);

CREATE INDEX settled_embeddings_user_id_settled_at_idx ON private.settled_embeddings USING btree (user_id, settled_at);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.budget_reservations ENABLE ROW LEVEL SECURITY;

ALTER TABLE private.settled_embeddings ENABLE ROW LEVEL SECURITY;

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- The user's side of an exchange, with its budget reservation. p_prompt_tokens and
-- p_max_output_tokens give the worst case, priced at the model's current price (an unpriced
-- model records no cost, so it reserves none). Raises PT429 when the budget cannot cover it.
CREATE FUNCTION private.begin_exchange(p_conversation_id uuid, p_api_key_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_max_output_tokens integer, p_expires_in_seconds integer) RETURNS public.messages
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
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
$_$;

-- private.begin_exchange as the caller of p_claims (session checked), in one statement.
CREATE FUNCTION private.begin_exchange_as(p_claims text, p_conversation_id uuid, p_api_key_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_max_output_tokens integer, p_expires_in_seconds integer) RETURNS public.messages
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    AS $$
begin
  perform private.begin_request(p_claims);
  return private.begin_exchange(p_conversation_id, p_api_key_id, p_content, p_model, p_prompt_tokens,
                                p_max_output_tokens, p_expires_in_seconds);
end;
$$;

-- The key an exchange is billed to: its reservation's, else its user message's.
CREATE FUNCTION private.exchange_key_id(p_user_message_id uuid, p_user_id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  return coalesce(
    (select r.api_key_id from private.budget_reservations r where r.message_id = p_user_message_id and r.user_id = p_user_id),
    (select m.api_key_id from public.messages m where m.id = p_user_message_id and m.user_id = p_user_id));
end;
$$;

-- Recording a failed provider call is retried in the background while the database is away
-- (the api function, like storing an answer), so fail_exchange must record an attempt once
-- however often it runs: a retry whose earlier attempt did commit finds the exchange settled
-- (its reservation gone, its message no longer pending) and changes nothing. So does a call
-- after the sweeper failed the message as interrupted.
CREATE FUNCTION private.fail_exchange(p_user_message_id uuid, p_error_code text, p_key_refused boolean, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
  if v_reservation.message_id is null and v_question.status <> 'pending' then
    return; -- settled already: recorded by an earlier attempt, or failed by the sweeper
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

-- What a key has committed this month: its spend (UTC month, from the daily usage rollup, so a
-- few rows per day whatever the number of calls, under the key's lock) and its open reservations.
-- One statement, so one snapshot: a settlement that commits meanwhile (its reservation gone, its usage recorded) is
-- seen either whole or not at all.
CREATE FUNCTION private.key_month_commitments(p_api_key_id uuid, p_user_id uuid, OUT spent_usd numeric, OUT reserved_usd numeric) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  select (select coalesce(sum(d.cost_usd), 0) from private.usage_daily d
          where d.api_key_id = p_api_key_id and d.user_id = p_user_id
            and d.day >= pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc')::date),
         (select coalesce(sum(r.amount_usd), 0) from private.budget_reservations r
          where r.api_key_id = p_api_key_id and r.user_id = p_user_id and r.expires_at > pg_catalog.now())
    into spent_usd, reserved_usd;
end;
$$;

-- A budgeted key's row lock, taken first by every transaction that reserves against the key or
-- settles a call billed to it: reservations and settlements on one key are decided one after the
-- other, and always lock the key before any conversation or message (storing a message updates
-- its conversation's row), so the two never wait for each other in a cycle. An unbudgeted key
-- (or no key) takes no lock.
CREATE FUNCTION private.lock_budgeted_key(p_api_key_id uuid, p_user_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  perform 1 from public.api_keys k
  where k.id = p_api_key_id and k.user_id = p_user_id and k.monthly_budget_usd is not null
  for no key update; -- NO KEY UPDATE: rows that reference the key still pass their foreign-key checks
end;
$$;

-- What an exchange in p_conversation_id needs before the provider call. No row: not the
-- caller's conversation. key_id is null when there is no key to answer with (neither the
-- conversation's nor a selected one). history: the latest p_history_limit answered turns,
-- oldest first, [{role, content}] (pending and failed messages are not part of it). With
-- documents attached, also the owner's OpenAI key to embed the question with
-- (private.owner_openai_key), so grounding needs no statement of its own for it.
CREATE FUNCTION private.prepare_exchange(p_claims text, p_conversation_id uuid, p_history_limit integer) RETURNS TABLE(api_key_id uuid, model text, system_prompt text, documents_attached boolean, key_id uuid, key_provider text, key_is_valid boolean, key_ciphertext text, history jsonb, embedding_key_id uuid, embedding_key_ciphertext text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
begin
  return query
    select c.api_key_id, c.model, c.system_prompt, c.documents_attached,
           k.id, k.provider, k.is_valid, case when k.id is not null then private.api_key_secret(k.id) end,
           coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('role', h.role, 'content', h.content)
                                                 order by h.created_at, h.id)
                     from (select m.role, m.content, m.created_at, m.id from public.messages m
                           -- (select v_user): an estimate that does not depend on the user, so a user
                           -- newer than the statistics still reads the conversation's index backwards
                           -- rather than all of their messages
                           where m.conversation_id = p_conversation_id and m.user_id = (select v_user)
                             and m.status = 'complete' and m.role <> 'system'
                           order by m.created_at desc, m.id desc limit p_history_limit) h),
                    '[]'::jsonb),
           e.id, e.ciphertext
    from (select c.id, c.api_key_id, c.model, c.system_prompt,
                 exists (select 1 from public.conversation_documents d where d.conversation_id = c.id and d.user_id = v_user)
                   as documents_attached
          from public.conversations c
          where c.id = p_conversation_id and c.user_id = v_user) c
    left join public.api_keys k
      on k.user_id = v_user
     and k.id = coalesce(c.api_key_id, (select s.id from public.api_keys s where s.user_id = v_user and s.is_selected))
    left join lateral private.owner_openai_key(case when c.documents_attached then v_user end) e on true;
end;
$$;

-- Reserves the worst case of one embedding call on an own, valid OpenAI key: p_max_tokens input
-- tokens at p_model's price. Returns the reservation's id, or null when the key's monthly budget
-- cannot cover it beside this month's spend and the open reservations (chat's too), or when the
-- key is budgeted and the model has no price. Acts only for auth.uid() (the api function as the
-- caller; the ingest worker as the document's owner).
CREATE FUNCTION private.reserve_embedding(p_api_key_id uuid, p_conversation_id uuid, p_model text, p_max_tokens integer, p_expires_in_seconds integer) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

-- Once per reservation: the first settlement claims the reservation id
-- (a concurrent second one waits on the primary key, then finds it taken) and records the usage;
-- a later one records nothing and returns what the first recorded.
CREATE FUNCTION private.settle_embedding(p_reservation_id uuid, p_api_key_id uuid, p_model text, p_prompt_tokens integer, p_usage_source text, p_latency_ms integer, p_error_code text) RETURNS public.usage_events
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

-- Settles the exchange with its answer: the answer (with its citations, each checked against its
-- page) and its usage are stored, the question is complete, the reservation goes; it returns the
-- answer, the question as it now stands ('user_message') and the usage event. Storing twice (a
-- retry whose first attempt did commit) stores nothing more and answers {"already_stored": true}. If the client deleted the pending message
-- (or its conversation) meanwhile, the answer has nowhere to go but the call is still billed,
-- from the reservation: {"answer_discarded": true}. A key deleted meanwhile bills without a key.
CREATE FUNCTION private.store_answer(p_user_message_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer, p_citations jsonb DEFAULT '[]'::jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_user_id uuid := (select auth.uid());
  v_reservation private.budget_reservations;
  v_question public.messages;
  v_provider text;
  v_answer public.messages;
  v_event public.usage_events;
begin
  if v_user_id is null then
    raise exception 'store_answer needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  perform private.lock_budgeted_key(private.exchange_key_id(p_user_message_id, v_user_id), v_user_id);
  select r.* into v_reservation from private.budget_reservations r
  where r.message_id = p_user_message_id and r.user_id = v_user_id for update;
  select m.* into v_question from public.messages m
  where m.id = p_user_message_id and m.user_id = v_user_id and m.role = 'user' for update;
  if v_question.id is not null and v_question.status = 'complete' then
    return jsonb_build_object('already_stored', true);
  end if;
  if v_question.id is null and v_reservation.message_id is null then
    raise exception 'message % not found', p_user_message_id using errcode = 'no_data_found';
  end if;
  v_provider := coalesce(v_reservation.provider,
    (select k.provider from public.api_keys k where k.id = v_question.api_key_id and k.user_id = v_user_id));
  if v_provider is null then
    raise exception 'the provider of message % is unknown', p_user_message_id using errcode = 'no_data_found';
  end if;
  if not private.citations_quote_their_pages(v_user_id, p_citations) then
    raise exception 'a citation does not quote its page' using errcode = 'check_violation';
  end if;
  delete from private.budget_reservations where message_id = p_user_message_id;

  if v_question.id is null then
    v_event := private.record_usage(v_reservation.api_key_id,
      (select c.id from public.conversations c where c.id = v_reservation.conversation_id and c.user_id = v_user_id),
      null, v_provider, p_model, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens, p_usage_source, p_latency_ms, 'ok', null);
    return jsonb_build_object('answer_discarded', true, 'usage_event', to_jsonb(v_event));
  end if;

  insert into public.messages (conversation_id, user_id, role, content, model, prompt_tokens, completion_tokens, api_key_id,
                               citations)
  values (v_question.conversation_id, v_user_id, 'assistant', p_content, p_model, p_prompt_tokens, p_completion_tokens,
          v_question.api_key_id, p_citations)
  returning * into v_answer;
  update public.messages set status = 'complete', error_code = null where id = v_question.id
  returning * into v_question;
  v_event := private.record_usage(v_question.api_key_id, v_question.conversation_id, v_answer.id, v_provider, p_model,
    p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens, p_usage_source, p_latency_ms, 'ok', null);
  return jsonb_build_object('assistant_message', to_jsonb(v_answer), 'user_message', to_jsonb(v_question),
                            'usage_event', to_jsonb(v_event));
end;
$$;

-- With no key at all, a question about a conversation's documents is answered extractively (the
-- best passages with their pages): the question and that answer are stored together, with no
-- provider and no usage. Clients cannot insert messages, so this is the way in for the api function.
CREATE FUNCTION private.store_extractive_exchange(p_conversation_id uuid, p_question text, p_answer text, p_citations jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_user_id uuid := (select auth.uid());
  v_question public.messages;
  v_answer public.messages;
begin
  if v_user_id is null then
    raise exception 'store_extractive_exchange needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  if not exists (select 1 from public.conversations c where c.id = p_conversation_id and c.user_id = v_user_id) then
    raise exception 'conversation % not found', p_conversation_id using errcode = 'no_data_found';
  end if;
  if not private.citations_quote_their_pages(v_user_id, p_citations) then
    raise exception 'a citation does not quote its page' using errcode = 'check_violation';
  end if;
  insert into public.messages (conversation_id, user_id, role, content)
  values (p_conversation_id, v_user_id, 'user', p_question)
  returning * into v_question;
  insert into public.messages (conversation_id, user_id, role, content, model, citations)
  values (p_conversation_id, v_user_id, 'assistant', p_answer, 'extractive', p_citations)
  returning * into v_answer;
  return jsonb_build_object('user_message_id', v_question.id, 'assistant_message_id', v_answer.id);
end;
$$;

-- Pending exchanges whose reservation expired (the request died: crash, timeout, lost database)
-- become failed ('interrupted'), and pending messages with no reservation left behind after an
-- hour too. With a user id: only that user's (a client may pass only its own).
CREATE FUNCTION private.sweep_stale_exchanges(p_user_id uuid DEFAULT NULL::uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

-- Grounding a question, one statement as the caller of p_claims (session checked): the
-- settlement of its embedding call when there was one (private.settle_embedding, with
-- p_reservation_id), then the passages of the conversation's documents that answer it best,
-- with their documents' filenames and their whole pages' text (private.search_conversation_chunks:
-- lexical, and by vector too with p_embedding).
CREATE FUNCTION private.ground_question(p_claims text, p_conversation_id uuid, p_question text, p_embedding extensions.vector, p_match_count integer, p_embedding_model text, p_reservation_id uuid DEFAULT NULL::uuid, p_api_key_id uuid DEFAULT NULL::uuid, p_prompt_tokens integer DEFAULT NULL::integer, p_usage_source text DEFAULT NULL::text, p_latency_ms integer DEFAULT NULL::integer, p_error_code text DEFAULT NULL::text) RETURNS TABLE(chunk_id bigint, document_id uuid, filename text, page integer, start_offset integer, end_offset integer, content text, page_text text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
begin
  perform private.begin_request(p_claims);
  if p_reservation_id is not null then
    perform private.settle_embedding(p_reservation_id, p_api_key_id, p_embedding_model, p_prompt_tokens, p_usage_source,
                                     p_latency_ms, p_error_code);
  end if;
  return query
    select s.chunk_id, s.document_id, d.filename, s.page_number, s.start_offset, s.end_offset, s.content, p.text
    from private.search_conversation_chunks(p_conversation_id, p_question, p_embedding, p_match_count, p_embedding_model) s
    join public.documents d on d.id = s.document_id
    join public.document_pages p on p.document_id = s.document_id and p.page_number = s.page_number
    order by s.score desc, s.chunk_id;
end;
$$;

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.begin_exchange(p_conversation_id uuid, p_api_key_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_max_output_tokens integer, p_expires_in_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION private.begin_exchange(p_conversation_id uuid, p_api_key_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_max_output_tokens integer, p_expires_in_seconds integer) TO authenticated;

REVOKE ALL ON FUNCTION private.begin_exchange_as(p_claims text, p_conversation_id uuid, p_api_key_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_max_output_tokens integer, p_expires_in_seconds integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.exchange_key_id(p_user_message_id uuid, p_user_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.fail_exchange(p_user_message_id uuid, p_error_code text, p_key_refused boolean, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer) FROM PUBLIC;
GRANT ALL ON FUNCTION private.fail_exchange(p_user_message_id uuid, p_error_code text, p_key_refused boolean, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer) TO authenticated;

REVOKE ALL ON FUNCTION private.key_month_commitments(p_api_key_id uuid, p_user_id uuid, OUT spent_usd numeric, OUT reserved_usd numeric) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.lock_budgeted_key(p_api_key_id uuid, p_user_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.prepare_exchange(p_claims text, p_conversation_id uuid, p_history_limit integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.reserve_embedding(p_api_key_id uuid, p_conversation_id uuid, p_model text, p_max_tokens integer, p_expires_in_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION private.reserve_embedding(p_api_key_id uuid, p_conversation_id uuid, p_model text, p_max_tokens integer, p_expires_in_seconds integer) TO authenticated;

REVOKE ALL ON FUNCTION private.settle_embedding(p_reservation_id uuid, p_api_key_id uuid, p_model text, p_prompt_tokens integer, p_usage_source text, p_latency_ms integer, p_error_code text) FROM PUBLIC;
GRANT ALL ON FUNCTION private.settle_embedding(p_reservation_id uuid, p_api_key_id uuid, p_model text, p_prompt_tokens integer, p_usage_source text, p_latency_ms integer, p_error_code text) TO authenticated;

REVOKE ALL ON FUNCTION private.store_answer(p_user_message_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer, p_citations jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION private.store_answer(p_user_message_id uuid, p_content text, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer, p_citations jsonb) TO authenticated;

REVOKE ALL ON FUNCTION private.store_extractive_exchange(p_conversation_id uuid, p_question text, p_answer text, p_citations jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION private.store_extractive_exchange(p_conversation_id uuid, p_question text, p_answer text, p_citations jsonb) TO authenticated;

REVOKE ALL ON FUNCTION private.sweep_stale_exchanges(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.sweep_stale_exchanges(p_user_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION private.ground_question(p_claims text, p_conversation_id uuid, p_question text, p_embedding extensions.vector, p_match_count integer, p_embedding_model text, p_reservation_id uuid, p_api_key_id uuid, p_prompt_tokens integer, p_usage_source text, p_latency_ms integer, p_error_code text) FROM PUBLIC;

-- ==============================================================================================
-- Schedule
-- ==============================================================================================

-- Dead exchanges are swept on a schedule too, not only when their user sends or reads
-- messages: a user who never comes back would otherwise keep a pending message, and its
-- budget reservation, forever. cron.schedule with a job name replaces that job if it exists.
select cron.schedule('sweep-stale-exchanges', '30 seconds', $$select private.sweep_stale_exchanges()$$);
