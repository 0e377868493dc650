-- Users' LLM provider keys. The key itself is encrypted by the api function before it
-- gets here (secret_ciphertext); no client role can read that column.
create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null
    constraint api_keys_name_length check (char_length(name) between 1 and 100 and btrim(name) <> ''),
  provider text not null
    constraint api_keys_provider_check check (provider in ('openai', 'anthropic')),
  secret_ciphertext text not null,
  hint text not null
    constraint api_keys_hint_length check (char_length(hint) <= 8),
  fingerprint text not null,
  is_valid boolean not null default true,
  is_selected boolean not null default false,
  monthly_budget_usd numeric(12, 2)
    constraint api_keys_monthly_budget_usd_check check (monthly_budget_usd >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz,
  last_validated_at timestamptz,
  -- The same provider key may be stored once per user.
  constraint api_keys_user_id_fingerprint_key unique (user_id, fingerprint),
  -- Target of the composite foreign keys that keep conversations and messages on their owner's keys.
  constraint api_keys_id_user_id_key unique (id, user_id)
);
comment on column public.api_keys.secret_ciphertext is 'AES-256-GCM ciphertext of the provider key; readable only through private.api_key_secret.';
comment on column public.api_keys.fingerprint is 'Keyed hash of the plaintext key, to refuse storing the same key twice.';

-- At most one selected key per user.
create unique index api_keys_one_selected_per_user on public.api_keys (user_id) where is_selected;

-- Usage bookkeeping (last_used_at, last_validated_at) is not an edit of the key, so it
-- does not move updated_at.
create trigger api_keys_set_updated_at
  before update of name, provider, secret_ciphertext, hint, fingerprint, is_valid, is_selected, monthly_budget_usd
  on public.api_keys
  for each row execute function private.set_updated_at();

-- The per-user lock both the auto-selection trigger and select_api_key take, so concurrent
-- inserts and selections of one user's keys run one after the other instead of failing on
-- the one-selected-key index.
create or replace function private.lock_user_api_keys(p_user_id uuid)
returns void
language sql
set search_path = ''
as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('public.api_keys:' || p_user_id::text, 0));
$$;
revoke all on function private.lock_user_api_keys(uuid) from public, anon, authenticated, service_role;
-- Called by the invoker-rights trigger and select_api_key below, so clients need it; it only takes a lock.
grant execute on function private.lock_user_api_keys(uuid) to authenticated;

-- A user's first key (more precisely: a key added while none is selected) becomes the selected one.
create or replace function private.select_first_api_key()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not new.is_selected then
    perform private.lock_user_api_keys(new.user_id);
    if not exists (
      select 1 from public.api_keys k where k.user_id = new.user_id and k.is_selected
    ) then
      new.is_selected := true;
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.select_first_api_key() from public, anon, authenticated, service_role;

create trigger api_keys_select_first
  before insert on public.api_keys
  for each row execute function private.select_first_api_key();

alter table public.api_keys enable row level security;

revoke all on table public.api_keys from anon, authenticated, service_role;
grant select (id, user_id, name, provider, hint, fingerprint, is_valid, is_selected, monthly_budget_usd,
              created_at, updated_at, last_used_at, last_validated_at)
  on table public.api_keys to authenticated;
grant insert (name, provider, secret_ciphertext, hint, fingerprint, is_valid, is_selected, monthly_budget_usd,
              last_validated_at)
  on table public.api_keys to authenticated;
grant update (name, is_selected, is_valid, monthly_budget_usd, last_used_at, last_validated_at)
  on table public.api_keys to authenticated;
grant delete on table public.api_keys to authenticated;

create policy "api_keys: owner can select"
  on public.api_keys for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "api_keys: owner can insert"
  on public.api_keys for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "api_keys: owner can update"
  on public.api_keys for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "api_keys: owner can delete"
  on public.api_keys for delete to authenticated
  using ((select auth.uid()) = user_id);

-- Makes p_key_id the caller's one selected key, in one step.
create or replace function public.select_api_key(p_key_id uuid)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_user_id uuid := auth.uid();
begin
  if v_user_id is null then
    raise exception 'api key % not found', p_key_id using errcode = 'no_data_found';
  end if;
  perform private.lock_user_api_keys(v_user_id);
  if not exists (select 1 from public.api_keys k where k.id = p_key_id and k.user_id = v_user_id) then
    raise exception 'api key % not found', p_key_id using errcode = 'no_data_found';
  end if;
  -- Unselect first: the one-selected-key index is checked per row, not per statement.
  update public.api_keys set is_selected = false
    where user_id = v_user_id and is_selected and id <> p_key_id;
  update public.api_keys set is_selected = true
    where id = p_key_id and user_id = v_user_id and not is_selected;
end;
$$;
revoke all on function public.select_api_key(uuid) from public, anon, authenticated, service_role;
grant execute on function public.select_api_key(uuid) to authenticated;

-- The only way to read a key's ciphertext: the api function decrypts it just before calling
-- the provider. Security definer because authenticated has no SELECT on the column;
-- granted to authenticated on purpose, and it answers only for the caller's own keys.
create or replace function private.api_key_secret(p_key_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select k.secret_ciphertext
  from public.api_keys k
  where k.id = p_key_id and k.user_id = (select auth.uid());
$$;
revoke all on function private.api_key_secret(uuid) from public, anon, authenticated, service_role;
grant execute on function private.api_key_secret(uuid) to authenticated;
