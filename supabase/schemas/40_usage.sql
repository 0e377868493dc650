-- Usage: prices, usage events, their daily roll-ups and the views over them
--
-- Every provider call is a usage event, priced on insert from model_prices and never changed
-- afterwards except to unlink it from a deleted conversation or message. Daily roll-ups
-- (private.usage_daily) keep the views and the month's cost of a key cheap.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- List prices in USD per million tokens. A price change is a new row with a later
-- valid_from; usage events keep the cost computed when they were recorded.
CREATE TABLE public.model_prices (
    provider text NOT NULL,
    model text NOT NULL,
    input_usd_per_mtok numeric(12,4) NOT NULL,
    cached_input_usd_per_mtok numeric(12,4) NOT NULL,
    output_usd_per_mtok numeric(12,4) NOT NULL,
    valid_from timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT model_prices_cached_input_check CHECK ((cached_input_usd_per_mtok >= (0)::numeric)),
    CONSTRAINT model_prices_input_check CHECK ((input_usd_per_mtok >= (0)::numeric)),
    CONSTRAINT model_prices_output_check CHECK ((output_usd_per_mtok >= (0)::numeric))
);

-- One row per provider call (or cut-off stream). Written only by private.record_usage;
-- users can read their own rows and nothing else.
CREATE TABLE public.usage_events (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    api_key_id uuid,
    conversation_id uuid,
    message_id uuid,
    provider text NOT NULL,
    model text NOT NULL,
    prompt_tokens integer DEFAULT 0 NOT NULL,
    cached_prompt_tokens integer DEFAULT 0 NOT NULL,
    completion_tokens integer DEFAULT 0 NOT NULL,
    cost_usd numeric(14,8) DEFAULT 0 NOT NULL,
    priced boolean DEFAULT false NOT NULL,
    usage_source text NOT NULL,
    latency_ms integer,
    outcome text NOT NULL,
    error_code text,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT usage_events_cached_prompt_tokens_check CHECK (((cached_prompt_tokens >= 0) AND (cached_prompt_tokens <= prompt_tokens))),
    CONSTRAINT usage_events_completion_tokens_check CHECK ((completion_tokens >= 0)),
    CONSTRAINT usage_events_latency_ms_check CHECK ((latency_ms >= 0)),
    CONSTRAINT usage_events_outcome_check CHECK ((outcome = ANY (ARRAY['ok'::text, 'error'::text, 'cancelled'::text]))),
    CONSTRAINT usage_events_prompt_tokens_check CHECK ((prompt_tokens >= 0)),
    CONSTRAINT usage_events_usage_source_check CHECK ((usage_source = ANY (ARRAY['provider'::text, 'estimated'::text])))
);

ALTER TABLE public.usage_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.usage_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- The daily rollup of usage_events per key, provider and model: key statistics and a key's
-- month (private.key_month_commitments) cost the same whatever the history. In slots: a
-- connection adds to slot pg_backend_pid() % 16, so answers on one key do not queue on one row
-- until their commits. When a key is deleted, its rows move to "no key" (api_key_id null), as
-- its events do.
CREATE TABLE private.usage_daily (
    api_key_id uuid,
    user_id uuid NOT NULL,
    day date NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    slot smallint NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    cached_prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cost_usd numeric(16,8) NOT NULL,
    unpriced_requests bigint NOT NULL,
    CONSTRAINT usage_daily_slot_check CHECK (((slot >= 0) AND (slot <= 15)))
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.usage_daily
    ADD CONSTRAINT usage_daily_key UNIQUE NULLS NOT DISTINCT (api_key_id, user_id, day, provider, model, slot);

ALTER TABLE ONLY public.model_prices
    ADD CONSTRAINT model_prices_pkey PRIMARY KEY (provider, model, valid_from);

ALTER TABLE ONLY public.usage_events
    ADD CONSTRAINT usage_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY private.usage_daily
    ADD CONSTRAINT usage_daily_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.usage_events
    ADD CONSTRAINT usage_events_api_key_id_user_id_fkey FOREIGN KEY (api_key_id, user_id) REFERENCES public.api_keys(id, user_id) ON DELETE SET NULL (api_key_id);

ALTER TABLE ONLY public.usage_events
    ADD CONSTRAINT usage_events_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES public.conversations(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.usage_events
    ADD CONSTRAINT usage_events_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.messages(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.usage_events
    ADD CONSTRAINT usage_events_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE INDEX usage_daily_user_id_idx ON private.usage_daily USING btree (user_id);

CREATE INDEX usage_events_api_key_id_user_id_created_at_idx ON public.usage_events USING btree (api_key_id, user_id, created_at);

CREATE INDEX usage_events_conversation_id_idx ON public.usage_events USING btree (conversation_id) WHERE (conversation_id IS NOT NULL);

CREATE INDEX usage_events_message_id_idx ON public.usage_events USING btree (message_id) WHERE (message_id IS NOT NULL);

CREATE INDEX usage_events_user_id_created_at_idx ON public.usage_events USING btree (user_id, created_at);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.usage_daily ENABLE ROW LEVEL SECURITY;

CREATE POLICY "usage_daily: owner can select" ON private.usage_daily FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

ALTER TABLE public.model_prices ENABLE ROW LEVEL SECURITY;

CREATE POLICY "model_prices: authenticated users can select" ON public.model_prices FOR SELECT TO authenticated USING (true);

ALTER TABLE public.usage_events ENABLE ROW LEVEL SECURITY;

CREATE POLICY "usage_events: owner can select" ON public.usage_events FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- What was billed stays as billed: an event's cost, time, user and model do not change. Its key
-- may only go (the key was deleted).
CREATE FUNCTION private.keep_usage_events_as_billed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if (new.cost_usd, new.created_at, new.user_id, new.provider, new.model) is distinct from
     (old.cost_usd, old.created_at, old.user_id, old.provider, old.model)
     or (new.api_key_id is not null and new.api_key_id is distinct from old.api_key_id) then
    raise exception 'usage events are not edited: what was billed stays as billed' using errcode = 'check_violation';
  end if;
  return new;
end;
$$;

-- The cost is fixed when the event is recorded, from the price in force at created_at.
CREATE FUNCTION private.price_usage_event() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_price public.model_prices;
begin
  select p.* into v_price
  from public.model_prices p
  where p.provider = new.provider and p.model = new.model and p.valid_from <= new.created_at
  order by p.valid_from desc
  limit 1;

  if found then
    new.cost_usd := round(
      ((new.prompt_tokens - new.cached_prompt_tokens)::numeric * v_price.input_usd_per_mtok
        + new.cached_prompt_tokens::numeric * v_price.cached_input_usd_per_mtok
        + new.completion_tokens::numeric * v_price.output_usd_per_mtok) / 1000000,
      8);
    new.priced := true;
  else
    new.cost_usd := 0;
    new.priced := false;
  end if;
  return new;
end;
$$;

-- Usage must be billed to the provider the key belongs to.
CREATE FUNCTION private.record_usage(p_api_key_id uuid, p_conversation_id uuid, p_message_id uuid, p_provider text, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer, p_outcome text, p_error_code text) RETURNS public.usage_events
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_user_id uuid := (select auth.uid());
  v_key_provider text;
  v_event public.usage_events;
begin
  if v_user_id is null then
    raise exception 'record_usage needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;

  if p_api_key_id is not null then
    select k.provider into v_key_provider from public.api_keys k where k.id = p_api_key_id and k.user_id = v_user_id;
    if not found then
      raise exception 'api key % not found', p_api_key_id using errcode = 'no_data_found';
    end if;
    if p_provider is distinct from v_key_provider then
      raise exception 'usage of a % key cannot be recorded as %', v_key_provider, p_provider using errcode = 'check_violation';
    end if;
  end if;

  if p_conversation_id is not null and not exists (
    select 1 from public.conversations c where c.id = p_conversation_id and c.user_id = v_user_id
  ) then
    raise exception 'conversation % not found', p_conversation_id using errcode = 'no_data_found';
  end if;

  if p_message_id is not null and not exists (
    select 1 from public.messages m
    where m.id = p_message_id
      and m.user_id = v_user_id
      and (p_conversation_id is null or m.conversation_id = p_conversation_id)
  ) then
    raise exception 'message % not found', p_message_id using errcode = 'no_data_found';
  end if;

  insert into public.usage_events (
    user_id, api_key_id, conversation_id, message_id, provider, model,
    prompt_tokens, cached_prompt_tokens, completion_tokens,
    usage_source, latency_ms, outcome, error_code
  )
  values (
    v_user_id, p_api_key_id, p_conversation_id, p_message_id, p_provider, p_model,
    coalesce(p_prompt_tokens, 0), coalesce(p_cached_prompt_tokens, 0), coalesce(p_completion_tokens, 0),
    p_usage_source, p_latency_ms, p_outcome, p_error_code
  )
  returning * into v_event;

  if p_api_key_id is not null then
    -- last_used_at moves at most once a minute: moving it on every answer locked the key's row in
    -- every settling transaction until its commit, so concurrent answers on one key queued behind
    -- each other. A row that does not match takes no lock.
    update public.api_keys
      set last_used_at = v_event.created_at
      where id = p_api_key_id and (last_used_at is null or last_used_at < v_event.created_at - interval '1 minute');
  end if;

  return v_event;
end;
$$;

-- Keeps the rollup with the events: inserted events are added (to the connection's slot), deleted
-- ones (only ever with their user) taken off any one slot of their group, and an event whose key
-- was deleted (the foreign key's `set null`, the only edit usage_events_keep_as_billed lets
-- through) is taken off its key and added under "no key". A user being deleted (the cascade
-- also unlinks their events from their keys) keeps no rollup: their rows go with them.
CREATE FUNCTION private.roll_up_usage() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    update private.usage_daily d set
      requests = d.requests - o.requests,
      errors = d.errors - o.errors,
      prompt_tokens = d.prompt_tokens - o.prompt_tokens,
      cached_prompt_tokens = d.cached_prompt_tokens - o.cached_prompt_tokens,
      completion_tokens = d.completion_tokens - o.completion_tokens,
      cost_usd = d.cost_usd - o.cost_usd,
      unpriced_requests = d.unpriced_requests - o.unpriced_requests
    from (select e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date as day, e.provider, e.model,
                 count(*) as requests, count(*) filter (where e.outcome = 'error') as errors, sum(e.prompt_tokens) as prompt_tokens,
                 sum(e.cached_prompt_tokens) as cached_prompt_tokens, sum(e.completion_tokens) as completion_tokens,
                 sum(e.cost_usd) as cost_usd, count(*) filter (where not e.priced) as unpriced_requests
          from old_events e group by 1, 2, 3, 4, 5) o
    where d.api_key_id is not distinct from o.api_key_id and d.user_id = o.user_id and d.day = o.day
      and d.provider = o.provider and d.model = o.model
      and d.slot = (select min(s.slot) from private.usage_daily s
                    where s.api_key_id is not distinct from o.api_key_id and s.user_id = o.user_id and s.day = o.day
                      and s.provider = o.provider and s.model = o.model);
    -- A row taken down to nothing goes: a deleted key leaves no rows of zeros under its id.
    delete from private.usage_daily d
    where (d.api_key_id, d.user_id) in (select o.api_key_id, o.user_id from old_events o)
      and d.requests = 0 and d.errors = 0 and d.prompt_tokens = 0 and d.cached_prompt_tokens = 0
      and d.completion_tokens = 0 and d.cost_usd = 0 and d.unpriced_requests = 0;
  end if;
  if tg_op in ('UPDATE', 'INSERT') then
    insert into private.usage_daily as d (api_key_id, user_id, day, provider, model, slot, requests, errors, prompt_tokens,
                                          cached_prompt_tokens, completion_tokens, cost_usd, unpriced_requests)
    select e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date, e.provider, e.model, pg_catalog.pg_backend_pid() % 16,
           count(*), count(*) filter (where e.outcome = 'error'), sum(e.prompt_tokens), sum(e.cached_prompt_tokens),
           sum(e.completion_tokens), sum(e.cost_usd), count(*) filter (where not e.priced)
    from new_events e
    where exists (select 1 from auth.users u where u.id = e.user_id)
    group by 1, 2, 3, 4, 5
    on conflict on constraint usage_daily_key do update set
      requests = d.requests + excluded.requests,
      errors = d.errors + excluded.errors,
      prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
      cached_prompt_tokens = d.cached_prompt_tokens + excluded.cached_prompt_tokens,
      completion_tokens = d.completion_tokens + excluded.completion_tokens,
      cost_usd = d.cost_usd + excluded.cost_usd,
      unpriced_requests = d.unpriced_requests + excluded.unpriced_requests;
  end if;
  return null;
end;
$$;

-- What a key has cost this calendar month (UTC), from the rollup: at most a month of days, models
-- and slots. Invoker rights: RLS limits it to the caller's own rows.
CREATE FUNCTION public.api_key_month_cost(p_api_key_id uuid) RETURNS numeric
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  return (
    select coalesce(sum(d.cost_usd), 0)::numeric(14, 8)
    from private.usage_daily d
    where d.api_key_id = p_api_key_id
      and d.day >= pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc')::date);
end;
$$;

-- ==============================================================================================
-- Views
-- ==============================================================================================

-- Usage per key and model, over the daily rollup.
CREATE VIEW public.api_key_usage_by_model WITH (security_invoker='true') AS
 SELECT d.api_key_id,
    d.user_id,
    d.provider,
    d.model,
    (sum(d.requests))::bigint AS requests,
    (sum(d.errors))::bigint AS errors,
    (sum(d.prompt_tokens))::bigint AS prompt_tokens,
    (sum(d.cached_prompt_tokens))::bigint AS cached_prompt_tokens,
    (sum(d.completion_tokens))::bigint AS completion_tokens,
    (sum((d.prompt_tokens + d.completion_tokens)))::bigint AS total_tokens,
    (sum(d.cost_usd))::numeric(14,8) AS cost_usd,
    (sum(d.unpriced_requests) = (0)::numeric) AS priced
   FROM private.usage_daily d
  GROUP BY d.api_key_id, d.user_id, d.provider, d.model;

-- Usage per key and day, over the daily rollup.
CREATE VIEW public.api_key_usage_daily WITH (security_invoker='true') AS
 SELECT d.api_key_id,
    d.user_id,
    d.day,
    (sum(d.requests))::bigint AS requests,
    (sum(d.errors))::bigint AS errors,
    (sum(d.prompt_tokens))::bigint AS prompt_tokens,
    (sum(d.cached_prompt_tokens))::bigint AS cached_prompt_tokens,
    (sum(d.completion_tokens))::bigint AS completion_tokens,
    (sum((d.prompt_tokens + d.completion_tokens)))::bigint AS total_tokens,
    (sum(d.cost_usd))::numeric(14,8) AS cost_usd,
    (sum(d.unpriced_requests))::bigint AS unpriced_requests
   FROM private.usage_daily d
  GROUP BY d.api_key_id, d.user_id, d.day;

-- One row per key, zeros for keys never used. The month is the current UTC calendar month.
-- budget_remaining_usd goes negative once the month's cost exceeds the budget.
CREATE VIEW public.api_key_usage_totals WITH (security_invoker='true') AS
 SELECT k.id AS api_key_id,
    k.user_id,
    (COALESCE(u.requests, (0)::numeric))::bigint AS requests,
    (COALESCE(u.errors, (0)::numeric))::bigint AS errors,
    (COALESCE(u.prompt_tokens, (0)::numeric))::bigint AS prompt_tokens,
    (COALESCE(u.cached_prompt_tokens, (0)::numeric))::bigint AS cached_prompt_tokens,
    (COALESCE(u.completion_tokens, (0)::numeric))::bigint AS completion_tokens,
    (COALESCE(u.total_tokens, (0)::numeric))::bigint AS total_tokens,
    (COALESCE(u.cost_usd, (0)::numeric))::numeric(14,8) AS cost_usd,
    (COALESCE(u.unpriced_requests, (0)::numeric))::bigint AS unpriced_requests,
    (COALESCE(u.month_requests, (0)::numeric))::bigint AS month_requests,
    (COALESCE(u.month_tokens, (0)::numeric))::bigint AS month_tokens,
    (COALESCE(u.month_cost_usd, (0)::numeric))::numeric(14,8) AS month_cost_usd,
    k.monthly_budget_usd,
    ((k.monthly_budget_usd - COALESCE(u.month_cost_usd, (0)::numeric)))::numeric(14,8) AS budget_remaining_usd
   FROM (public.api_keys k
     LEFT JOIN LATERAL ( SELECT sum(d.requests) AS requests,
            sum(d.errors) AS errors,
            sum(d.prompt_tokens) AS prompt_tokens,
            sum(d.cached_prompt_tokens) AS cached_prompt_tokens,
            sum(d.completion_tokens) AS completion_tokens,
            sum((d.prompt_tokens + d.completion_tokens)) AS total_tokens,
            sum(d.cost_usd) AS cost_usd,
            sum(d.unpriced_requests) AS unpriced_requests,
            sum(d.requests) FILTER (WHERE (d.day >= m.month_start)) AS month_requests,
            sum((d.prompt_tokens + d.completion_tokens)) FILTER (WHERE (d.day >= m.month_start)) AS month_tokens,
            sum(d.cost_usd) FILTER (WHERE (d.day >= m.month_start)) AS month_cost_usd
           FROM (private.usage_daily d
             CROSS JOIN ( SELECT (date_trunc('month'::text, (now() AT TIME ZONE 'utc'::text)))::date AS month_start) m)
          WHERE ((d.api_key_id = k.id) AND (d.user_id = k.user_id))) u ON (true));

-- ==============================================================================================
-- Triggers
-- ==============================================================================================

CREATE TRIGGER usage_events_keep_as_billed BEFORE UPDATE ON public.usage_events FOR EACH ROW EXECUTE FUNCTION private.keep_usage_events_as_billed();

CREATE TRIGGER usage_events_price BEFORE INSERT ON public.usage_events FOR EACH ROW EXECUTE FUNCTION private.price_usage_event();

CREATE TRIGGER usage_events_roll_up_deleted AFTER DELETE ON public.usage_events REFERENCING OLD TABLE AS old_events FOR EACH STATEMENT EXECUTE FUNCTION private.roll_up_usage();

CREATE TRIGGER usage_events_roll_up_new AFTER INSERT ON public.usage_events REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION private.roll_up_usage();

CREATE TRIGGER usage_events_roll_up_unlinked AFTER UPDATE ON public.usage_events REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION private.roll_up_usage();

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.keep_usage_events_as_billed() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.price_usage_event() FROM PUBLIC;

GRANT SELECT ON TABLE public.usage_events TO authenticated;

REVOKE ALL ON FUNCTION private.record_usage(p_api_key_id uuid, p_conversation_id uuid, p_message_id uuid, p_provider text, p_model text, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer, p_usage_source text, p_latency_ms integer, p_outcome text, p_error_code text) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.roll_up_usage() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.api_key_month_cost(p_api_key_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.api_key_month_cost(p_api_key_id uuid) TO authenticated;

GRANT SELECT ON TABLE private.usage_daily TO authenticated;

GRANT SELECT ON TABLE public.api_key_usage_by_model TO authenticated;

GRANT SELECT ON TABLE public.api_key_usage_daily TO authenticated;

GRANT SELECT ON TABLE public.api_key_usage_totals TO authenticated;

GRANT SELECT ON TABLE public.model_prices TO authenticated;

-- ==============================================================================================
-- Reference data: list prices
-- ==============================================================================================

-- USD per million tokens. A price change is a new row with a later valid_from; usage events
-- keep the cost computed when they were recorded.
-- Both the aliases clients ask for and the dated model ids providers answer with, so an
-- event is priced whichever of the two the api function records.
insert into public.model_prices (provider, model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, valid_from)
values
  ('openai', 'gpt-4o', 2.50, 1.25, 10.00, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4o-2024-08-06', 2.50, 1.25, 10.00, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4o-2024-11-20', 2.50, 1.25, 10.00, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4o-mini', 0.15, 0.075, 0.60, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4o-mini-2024-07-18', 0.15, 0.075, 0.60, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4.1', 2.00, 0.50, 8.00, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4.1-2025-04-14', 2.00, 0.50, 8.00, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4.1-mini', 0.40, 0.10, 1.60, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4.1-mini-2025-04-14', 0.40, 0.10, 1.60, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4.1-nano', 0.10, 0.025, 0.40, '2025-01-01T00:00:00Z'),
  ('openai', 'gpt-4.1-nano-2025-04-14', 0.10, 0.025, 0.40, '2025-01-01T00:00:00Z'),
  ('openai', 'o3-mini', 1.10, 0.55, 4.40, '2025-01-01T00:00:00Z'),
  ('openai', 'o3-mini-2025-01-31', 1.10, 0.55, 4.40, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-3-5-haiku-latest', 0.80, 0.08, 4.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-3-5-haiku-20241022', 0.80, 0.08, 4.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-3-5-sonnet-latest', 3.00, 0.30, 15.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-3-5-sonnet-20241022', 3.00, 0.30, 15.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-3-7-sonnet-latest', 3.00, 0.30, 15.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-3-7-sonnet-20250219', 3.00, 0.30, 15.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-sonnet-4-0', 3.00, 0.30, 15.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-sonnet-4-20250514', 3.00, 0.30, 15.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-opus-4-0', 15.00, 1.50, 75.00, '2025-01-01T00:00:00Z'),
  ('anthropic', 'claude-opus-4-20250514', 15.00, 1.50, 75.00, '2025-01-01T00:00:00Z'),
  -- Embeddings are billed like chat: input tokens only.
  ('openai', 'text-embedding-3-small', 0.02, 0, 0, '2025-01-01T00:00:00Z');
