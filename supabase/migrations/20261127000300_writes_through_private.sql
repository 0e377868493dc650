-- The database is the boundary. On a hosted project PostgREST serves `public` to every
-- signed-in user, so whatever `authenticated` may write there, a supabase-js client may write
-- without the api function. Clients keep what a frontend does directly (read, rename, select or
-- budget a key, create and rename a conversation, delete their own rows); what must pass the
-- function's checks (a key the provider validated, an answer, its usage, a user message with its
-- billing key) goes through security definer functions in `private`, which PostgREST does not
-- expose and which act only for the caller (auth.uid()): below, registering a key and recording
-- usage; the exchange itself (begin_exchange, store_answer, fail_exchange) from
-- 20261127000400_budget_reservations.sql on.

-- api_keys: no direct insert; of the updates only name, selection and budget.
revoke insert on table public.api_keys from authenticated;
revoke update on table public.api_keys from authenticated;
grant update (name, is_selected, monthly_budget_usd) on table public.api_keys to authenticated;
drop policy "api_keys: owner can insert" on public.api_keys;

-- messages: no direct insert or update; delete stays.
revoke insert on table public.messages from authenticated;
revoke update on table public.messages from authenticated;
drop policy "messages: owner can insert" on public.messages;
drop policy "messages: owner can update" on public.messages;

-- Functions in private that take a user id act only for the caller when the caller is a client
-- (the `role` setting PostgREST and the api function set, which security definer does not change).
-- The Auth server's user-deletion cascade runs under its own role and passes.
create or replace function private.lock_user_api_keys(p_user_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if pg_catalog.current_setting('role', true) in ('authenticated', 'anon') and p_user_id is distinct from (select auth.uid()) then
    raise exception 'only the caller''s own keys can be locked' using errcode = 'insufficient_privilege';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('public.api_keys:' || p_user_id::text, 0));
end;
$$;
revoke all on function private.lock_user_api_keys(uuid) from public, anon, authenticated, service_role;
grant execute on function private.lock_user_api_keys(uuid) to authenticated;

-- A usage event's key belongs to the event's user, as everywhere else in the schema.
alter table public.usage_events drop constraint usage_events_api_key_id_fkey;
alter table public.usage_events add constraint usage_events_api_key_id_user_id_fkey
  foreign key (api_key_id, user_id) references public.api_keys (id, user_id) on delete set null (api_key_id);
drop index public.usage_events_api_key_id_created_at_idx;
create index usage_events_api_key_id_user_id_created_at_idx on public.usage_events (api_key_id, user_id, created_at);

-- Registers a key the api function has validated with its provider, for the caller.
-- Returns the new key's id, or null when the caller already has this key (same fingerprint).
create or replace function private.register_api_key(
  p_name text,
  p_provider text,
  p_secret_ciphertext text,
  p_hint text,
  p_fingerprint text
)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_id uuid;
begin
  if v_user_id is null then
    raise exception 'register_api_key needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, last_validated_at)
  values (v_user_id, p_name, p_provider, p_secret_ciphertext, p_hint, p_fingerprint, now())
  on conflict (user_id, fingerprint) do nothing
  returning id into v_id;
  return v_id;
end;
$$;
revoke all on function private.register_api_key(text, text, text, text, text) from public, anon, authenticated, service_role;
grant execute on function private.register_api_key(text, text, text, text, text) to authenticated;

-- Usage must be billed to the provider the key belongs to.
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
    -- each other (about 70 ms each at 10 at once). A row that does not match takes no lock.
    update public.api_keys
      set last_used_at = v_event.created_at
      where id = p_api_key_id and (last_used_at is null or last_used_at < v_event.created_at - interval '1 minute');
  end if;

  return v_event;
end;
$$;
-- Called only by the security definer functions that settle a call (store_answer, fail_exchange,
-- settle_embedding, ...), which run as their owner: no client role needs it.
revoke execute on function private.record_usage(uuid, uuid, uuid, text, text, integer, integer, integer, text, integer, text, text) from authenticated;
