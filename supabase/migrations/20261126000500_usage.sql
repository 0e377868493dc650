-- List prices in USD per million tokens. A price change is a new row with a later
-- valid_from; usage events keep the cost computed when they were recorded.
create table public.model_prices (
  provider text not null,
  model text not null,
  input_usd_per_mtok numeric(12, 4) not null
    constraint model_prices_input_check check (input_usd_per_mtok >= 0),
  cached_input_usd_per_mtok numeric(12, 4) not null
    constraint model_prices_cached_input_check check (cached_input_usd_per_mtok >= 0),
  output_usd_per_mtok numeric(12, 4) not null
    constraint model_prices_output_check check (output_usd_per_mtok >= 0),
  valid_from timestamptz not null default now(),
  primary key (provider, model, valid_from)
);

alter table public.model_prices enable row level security;

revoke all on table public.model_prices from anon, authenticated, service_role;
grant select on table public.model_prices to authenticated;

create policy "model_prices: authenticated users can select"
  on public.model_prices for select to authenticated
  using (true);

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
  ('anthropic', 'claude-opus-4-20250514', 15.00, 1.50, 75.00, '2025-01-01T00:00:00Z');

-- One row per provider call (or cut-off stream). Written only by private.record_usage;
-- users can read their own rows and nothing else.
create table public.usage_events (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  api_key_id uuid references public.api_keys (id) on delete set null,
  conversation_id uuid references public.conversations (id) on delete set null,
  message_id uuid references public.messages (id) on delete set null,
  provider text not null,
  model text not null,
  -- prompt_tokens counts all input tokens, cached ones included (OpenAI's convention;
  -- Anthropic's cache reads are added to input_tokens before recording).
  prompt_tokens integer not null default 0
    constraint usage_events_prompt_tokens_check check (prompt_tokens >= 0),
  cached_prompt_tokens integer not null default 0
    constraint usage_events_cached_prompt_tokens_check check (cached_prompt_tokens between 0 and prompt_tokens),
  completion_tokens integer not null default 0
    constraint usage_events_completion_tokens_check check (completion_tokens >= 0),
  cost_usd numeric(14, 8) not null default 0,
  priced boolean not null default false,
  usage_source text not null
    constraint usage_events_usage_source_check check (usage_source in ('provider', 'estimated')),
  latency_ms integer
    constraint usage_events_latency_ms_check check (latency_ms >= 0),
  outcome text not null
    constraint usage_events_outcome_check check (outcome in ('ok', 'error', 'cancelled')),
  error_code text,
  created_at timestamptz not null default clock_timestamp()
);

create index usage_events_user_id_created_at_idx on public.usage_events (user_id, created_at);
create index usage_events_api_key_id_created_at_idx on public.usage_events (api_key_id, created_at);
create index usage_events_conversation_id_idx on public.usage_events (conversation_id)
  where conversation_id is not null;
create index usage_events_message_id_idx on public.usage_events (message_id)
  where message_id is not null;

-- The cost is fixed when the event is recorded, from the price in force at created_at.
create or replace function private.price_usage_event()
returns trigger
language plpgsql
set search_path = ''
as $$
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
revoke all on function private.price_usage_event() from public, anon, authenticated, service_role;

create trigger usage_events_price
  before insert on public.usage_events
  for each row execute function private.price_usage_event();

alter table public.usage_events enable row level security;

revoke all on table public.usage_events from anon, authenticated, service_role;
grant select on table public.usage_events to authenticated;

create policy "usage_events: owner can select"
  on public.usage_events for select to authenticated
  using ((select auth.uid()) = user_id);

-- The api function's only way to write usage: for the calling user, against that user's
-- own key, conversation and message. Granted to authenticated on purpose.
create or replace function private.record_usage(
  p_api_key_id uuid,
  p_conversation_id uuid,
  p_message_id uuid,
  p_provider text,
  p_model text,
  p_prompt_tokens integer,
  p_cached_prompt_tokens integer,
  p_completion_tokens integer,
  p_usage_source text,
  p_latency_ms integer,
  p_outcome text,
  p_error_code text
)
returns public.usage_events
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := auth.uid();
  v_event public.usage_events;
begin
  if v_user_id is null then
    raise exception 'record_usage needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;

  if p_api_key_id is not null and not exists (
    select 1 from public.api_keys k where k.id = p_api_key_id and k.user_id = v_user_id
  ) then
    raise exception 'api key % not found', p_api_key_id using errcode = 'no_data_found';
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
    update public.api_keys
      set last_used_at = v_event.created_at
      where id = p_api_key_id and (last_used_at is null or last_used_at < v_event.created_at);
  end if;

  return v_event;
end;
$$;
revoke all on function private.record_usage(uuid, uuid, uuid, text, text, integer, integer, integer, text, integer, text, text)
  from public, anon, authenticated, service_role;
grant execute on function private.record_usage(uuid, uuid, uuid, text, text, integer, integer, integer, text, integer, text, text)
  to authenticated;
