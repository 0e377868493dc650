-- The baseline: the schema as supabase/schemas/ declares it, one file after the other (made from
-- them when the earlier migrations, never deployed, were replaced). Not to be edited: a change is
-- an edit of a file in supabase/schemas/ plus a new migration, which `npm run db:diff` prints
-- (docs/schema.md). The schema-equality test (scripts/stack/schema.test.ts) proves the two agree.

-- ##############################################################################################
-- supabase/schemas/00_foundation.sql
-- ##############################################################################################

-- Foundation: the private schema, the default grants, the extensions, settings
--
-- What every other file builds on. Files in this folder are applied in name order (00, 10, ...):
-- a file may use what an earlier one declares. Each declares the current state of its domain:
-- its tables, then constraints and indexes, row level security and policies, functions, views,
-- triggers and grants. A change is an edit here plus a migration (`npm run db:diff` writes it;
-- docs/schema.md).
--
-- Conventions (pinned by supabase/tests/010-conventions.test.sql):
-- - `public` holds the tables the Data API exposes, all under RLS, owner-only policies.
-- - `private` holds security definer functions, trigger functions and internal tables; clients
--   get USAGE on the schema and EXECUTE only on the functions granted to them on purpose.
-- - Every function revokes EXECUTE from PUBLIC itself (a per-schema default cannot).

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- Hosted Supabase (and scripts/db/bootstrap.sql) grant every new table, function and sequence
-- in public to anon, authenticated and service_role. Locked down before anything is created,
-- so each object has exactly the grants its file gives it. EXECUTE to PUBLIC on new functions
-- is a global default that a per-schema default cannot take back: every function revokes it.
alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on functions from anon, authenticated, service_role;

-- Not exposed through the Data API: security definer functions, trigger functions and
-- internal tables live here. Clients get USAGE to call the few functions granted to them.
create schema if not exists private;
revoke all on schema private from public, anon, authenticated, service_role;
grant usage on schema private to authenticated, service_role;

-- The extensions, created the way hosted Supabase has them:
--   pg_cron   schedules background work (its control file fixes schema pg_catalog; its objects
--             live in schema `cron`);
--   pg_net    asynchronous HTTP from SQL (schema `net`);
--   vector    pgvector: embeddings and their nearest-neighbour indexes;
--   pg_trgm   trigram similarity;
--   pgroonga  full-text search that tokenises Korean as well as English.
-- pg_cron and pg_net need `shared_preload_libraries` (hosted projects have it; the local stack sets it).
create extension if not exists pg_cron with schema pg_catalog;
create extension if not exists pg_net with schema extensions;
create extension if not exists vector with schema extensions;
create extension if not exists pg_trgm with schema extensions;
create extension if not exists pgroonga with schema extensions;

-- pg_net grants its schema and queue tables to PUBLIC: any signed-in user could make the
-- database send HTTP requests anywhere. Only the owner and the service role may.
revoke all on schema net from public, anon, authenticated;
revoke all on all tables in schema net from public, anon, authenticated;
revoke all on all sequences in schema net from public, anon, authenticated;
revoke execute on all functions in schema net from public, anon, authenticated;
grant usage on schema net to service_role;
grant execute on all functions in schema net to service_role;

-- Scheduling is for the project's owner (migrations), never for API roles.
revoke all on schema cron from public, anon, authenticated;
revoke execute on all functions in schema cron from public, anon, authenticated;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- Where the worker is and the secret it wants. On hosted Supabase these are Vault secrets
-- (`ingest_url`, `ingest_secret`: vault.create_secret); where there is no Vault (the local
-- stack) they are rows here, written by the stack after the migrations. No API role can read it.
CREATE TABLE private.settings (
    name text NOT NULL,
    value text NOT NULL
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (name);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.settings ENABLE ROW LEVEL SECURITY;

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- Shared by every table with an updated_at column.
CREATE FUNCTION private.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- A setting by name: the Vault secret of that name where there is a Vault (hosted), else the
-- row of private.settings.
CREATE FUNCTION private.setting(p_name text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_value text;
begin
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    -- Built with format() so it is checked where it runs: the local database has no vault schema.
    execute pg_catalog.format('select decrypted_secret from %I.%I where name = $1', 'vault', 'decrypted_secrets')
      into v_value using p_name;
    if v_value is not null then
      return v_value;
    end if;
  end if;
  select s.value into v_value from private.settings s where s.name = p_name;
  return v_value;
end;
$_$;

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.set_updated_at() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.setting(p_name text) FROM PUBLIC;

-- ##############################################################################################
-- supabase/schemas/10_accounts.sql
-- ##############################################################################################

-- Accounts: profiles, login helpers, the session check
--
-- A profile per Auth user, made by a trigger on auth.users; usernames log in through
-- private.resolve_login; every API request starts with private.begin_request, which checks the
-- session is still active (logout revokes it) before anything else runs.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- One profile per auth user, created by a trigger on sign-up and removed with the user.
CREATE TABLE public.profiles (
    id uuid NOT NULL,
    username text NOT NULL,
    email text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT profiles_username_format CHECK ((username ~ '^[A-Za-z0-9_.-]{3,32}$'::text))
);

COMMENT ON TABLE public.profiles IS 'One row per auth user; created by private.handle_new_user on sign-up.';

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_id_fkey FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE UNIQUE INDEX profiles_username_lower_key ON public.profiles USING btree (lower(username));

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY "profiles: owner can select" ON public.profiles FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = id));

CREATE POLICY "profiles: owner can update" ON public.profiles FOR UPDATE TO authenticated USING ((( SELECT auth.uid() AS uid) = id)) WITH CHECK ((( SELECT auth.uid() AS uid) = id));

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- Becomes the caller for the rest of the transaction (p_claims: the verified token's claims as
-- JSON text, what request.jwt.claims holds); returns their id. Raises PT401 when the
-- token's session has ended (logout), which the api function answers with 401.
CREATE FUNCTION private.begin_request(p_claims text) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_claims jsonb := p_claims::jsonb;
  v_user uuid := (v_claims ->> 'sub')::uuid;
begin
  perform set_config('role', 'authenticated', true), set_config('request.jwt.claims', p_claims, true),
          set_config('request.jwt.claim.sub', v_user::text, true);
  if not coalesce(private.session_is_active((v_claims ->> 'session_id')::uuid), false) then
    raise exception 'session ended' using errcode = 'PT401';
  end if;
  return v_user;
end;
$$;

-- Runs as the owner because the Auth server (supabase_auth_admin) inserts auth.users and
-- has no rights on public. An error here aborts the sign-up, which is the point: an invalid
-- or taken username must not leave an auth user without a profile.
CREATE FUNCTION private.handle_new_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_requested text := nullif(new.raw_user_meta_data ->> 'username', '');
  v_username text;
  v_constraint text;
begin
  if v_requested is not null then
    if v_requested !~ '^[A-Za-z0-9_.-]{3,32}$' then
      raise exception 'invalid username "%"', v_requested
        using errcode = 'check_violation',
              constraint = 'profiles_username_format',
              hint = 'A username is 3 to 32 characters: letters, digits, "_", "-" or ".".';
    end if;
    v_username := v_requested;
  else
    v_username := 'user_' || left(replace(new.id::text, '-', ''), 12);
    -- Someone may have chosen exactly this name; the longer form is then as good as unique.
    if exists (select 1 from public.profiles p where lower(p.username) = lower(v_username)) then
      v_username := 'user_' || left(replace(new.id::text, '-', ''), 27);
    end if;
  end if;

  begin
    insert into public.profiles (id, username, email)
    values (new.id, v_username, new.email);
  exception when unique_violation then
    get stacked diagnostics v_constraint = constraint_name;
    if v_constraint = 'profiles_username_lower_key' then
      raise exception 'username "%" is already taken', v_username
        using errcode = 'unique_violation',
              constraint = 'profiles_username_lower_key';
    end if;
    raise;
  end;
  return new;
end;
$_$;

-- Lets the api function accept a username where Supabase Auth wants an email. Only the
-- service role may ask: it reveals whether a login exists.
CREATE FUNCTION private.resolve_login(p_identifier text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return (
    select u.email::text
    from auth.users u
    where strpos(p_identifier, '@') > 0
      and lower(u.email) = lower(btrim(p_identifier))
    union all
    select u.email::text
    from public.profiles p
    join auth.users u on u.id = p.id
    where strpos(p_identifier, '@') = 0
      and lower(p.username) = lower(btrim(p_identifier))
    limit 1);
end;
$$;

-- Access tokens outlive logout; the api function asks this on every request so a signed-out
-- session stops working at once. Answers only for the caller's own sessions.
CREATE FUNCTION private.session_is_active(p_session_id uuid) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return exists (
    select 1
    from auth.sessions s
    where s.id = p_session_id
      and s.user_id = (select auth.uid())
      and (s.not_after is null or s.not_after > now())
  );
end;
$$;

-- Keeps profiles.email equal to the login email when the user changes it.
CREATE FUNCTION private.sync_profile_email() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end;
$$;

-- What asUser in _shared/db.ts does in a transaction of its own (role authenticated and the
-- claims, for the statement's own transaction), as the first item of one statement's FROM:
-- `select private.store_answer(...) from private.act_as($claims)`. For the calls that must work
-- after the session ended (an answer or a failure to record, an embedding call to reserve or
-- settle, the worker acting for a document's owner); only the functions' database user may call it.
CREATE FUNCTION private.act_as(p_claims text) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_user uuid := (p_claims::jsonb ->> 'sub')::uuid;
begin
  perform set_config('role', 'authenticated', true), set_config('request.jwt.claims', p_claims, true),
          set_config('request.jwt.claim.sub', v_user::text, true);
  return v_user;
end;
$$;

-- ==============================================================================================
-- Triggers
-- ==============================================================================================

CREATE TRIGGER profiles_set_updated_at BEFORE UPDATE OF username, email ON public.profiles FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.begin_request(p_claims text) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.handle_new_user() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.resolve_login(p_identifier text) FROM PUBLIC;
GRANT ALL ON FUNCTION private.resolve_login(p_identifier text) TO service_role;

REVOKE ALL ON FUNCTION private.session_is_active(p_session_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.session_is_active(p_session_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION private.sync_profile_email() FROM PUBLIC;

GRANT SELECT ON TABLE public.profiles TO authenticated;

GRANT UPDATE(username) ON TABLE public.profiles TO authenticated;

--

REVOKE ALL ON FUNCTION private.act_as(p_claims text) FROM PUBLIC;

-- ==============================================================================================
-- Triggers on Auth's table
-- ==============================================================================================

-- A profile for every new user, and its email kept in step with Auth's.
create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.handle_new_user();

create trigger on_auth_user_email_changed
  after update of email on auth.users
  for each row when (old.email is distinct from new.email)
  execute function private.sync_profile_email();

-- ##############################################################################################
-- supabase/schemas/20_keys.sql
-- ##############################################################################################

-- Keys: the users' provider API keys
--
-- Secrets are stored encrypted (the API encrypts; the database never sees the plain key) and
-- readable only through private.api_key_secret. One key per user is selected; the first key is
-- selected on insert, and deleting the selected key selects another.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- Users' LLM provider keys. The key itself is encrypted by the api function before it
-- gets here (secret_ciphertext); no client role can read that column.
CREATE TABLE public.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    name text NOT NULL,
    provider text NOT NULL,
    secret_ciphertext text NOT NULL,
    hint text NOT NULL,
    fingerprint text NOT NULL,
    is_valid boolean DEFAULT true NOT NULL,
    is_selected boolean DEFAULT false NOT NULL,
    monthly_budget_usd numeric(12,2),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    last_validated_at timestamp with time zone,
    CONSTRAINT api_keys_hint_length CHECK ((char_length(hint) <= 8)),
    CONSTRAINT api_keys_monthly_budget_usd_check CHECK ((monthly_budget_usd >= (0)::numeric)),
    CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 100 AND btrim(name) <> ''::text),
    CONSTRAINT api_keys_provider_check CHECK ((provider = ANY (ARRAY['openai'::text, 'anthropic'::text])))
);

COMMENT ON COLUMN public.api_keys.secret_ciphertext IS 'AES-256-GCM ciphertext of the provider key; readable only through private.api_key_secret.';

COMMENT ON COLUMN public.api_keys.fingerprint IS 'Keyed hash of the plaintext key, to refuse storing the same key twice.';

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_id_user_id_key UNIQUE (id, user_id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_user_id_fingerprint_key UNIQUE (user_id, fingerprint);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE UNIQUE INDEX api_keys_one_selected_per_user ON public.api_keys USING btree (user_id) WHERE is_selected;

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY "api_keys: owner can delete" ON public.api_keys FOR DELETE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "api_keys: owner can select" ON public.api_keys FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "api_keys: owner can update" ON public.api_keys FOR UPDATE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id)) WITH CHECK ((( SELECT auth.uid() AS uid) = user_id));

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- The only way to read a key's ciphertext: the api function decrypts it just before calling
-- the provider. Security definer because authenticated has no SELECT on the column;
-- granted to authenticated on purpose, and it answers only for the caller's own keys.
CREATE FUNCTION private.api_key_secret(p_key_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return (
    select k.secret_ciphertext
    from public.api_keys k
    where k.id = p_key_id and k.user_id = (select auth.uid()));
end;
$$;

-- Functions in private that take a user id act only for the caller when the caller is a client
-- (the `role` setting PostgREST and the api function set, which security definer does not change).
-- The Auth server's user-deletion cascade runs under its own role and passes.
CREATE FUNCTION private.lock_user_api_keys(p_user_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if pg_catalog.current_setting('role', true) in ('authenticated', 'anon') and p_user_id is distinct from (select auth.uid()) then
    raise exception 'only the caller''s own keys can be locked' using errcode = 'insufficient_privilege';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('public.api_keys:' || p_user_id::text, 0));
end;
$$;

-- Registers a key the api function has validated with its provider, for the caller.
-- Returns the new key's id, or null when the caller already has this key (same fingerprint).
CREATE FUNCTION private.register_api_key(p_name text, p_provider text, p_secret_ciphertext text, p_hint text, p_fingerprint text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

-- Like cards in a wallet: when the selected key is deleted, the most recently added valid key
-- that remains becomes the selected one, so a user with keys always has one to answer with.
-- Security definer: the trigger also fires when the Auth server's role deletes a user (the
-- cascade), a role with no rights on private or api_keys; it only touches old.user_id's keys.
CREATE FUNCTION private.reselect_api_key_after_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if old.is_selected then
    perform private.lock_user_api_keys(old.user_id);
    update public.api_keys set is_selected = true
    where id = (
      select k.id from public.api_keys k
      where k.user_id = old.user_id and k.is_valid
      order by k.created_at desc, k.id desc
      limit 1
    )
    and not exists (select 1 from public.api_keys s where s.user_id = old.user_id and s.is_selected);
  end if;
  return null;
end;
$$;

-- A user's first key (more precisely: a key added while none is selected) becomes the selected one.
CREATE FUNCTION private.select_first_api_key() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Makes p_key_id the caller's one selected key, in one step.
CREATE FUNCTION public.select_api_key(p_key_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- The key to embed with: the selected one if it is OpenAI's, else the most recently used valid
-- OpenAI key. The worker (the functions' own database user, postgres, with no other role set)
-- may ask for any owner; any other role (a caller as authenticated) only for themself.
CREATE FUNCTION private.owner_openai_key(p_user_id uuid) RETURNS TABLE(id uuid, ciphertext text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
#variable_conflict use_column
begin
  if pg_catalog.current_setting('role') not in ('none', 'postgres') and p_user_id is distinct from (select auth.uid()) then
    return;
  end if;
  return query
    select k.id, k.secret_ciphertext
    from public.api_keys k
    where k.user_id = p_user_id and k.provider = 'openai' and k.is_valid
    order by k.is_selected desc, k.last_used_at desc nulls last, k.created_at desc
    limit 1;
end;
$$;

-- ==============================================================================================
-- Triggers
-- ==============================================================================================

CREATE TRIGGER api_keys_reselect_after_delete AFTER DELETE ON public.api_keys FOR EACH ROW EXECUTE FUNCTION private.reselect_api_key_after_delete();

CREATE TRIGGER api_keys_select_first BEFORE INSERT ON public.api_keys FOR EACH ROW EXECUTE FUNCTION private.select_first_api_key();

-- Usage bookkeeping (last_used_at, last_validated_at) is not an edit of the key, so it
-- does not move updated_at.
CREATE TRIGGER api_keys_set_updated_at BEFORE UPDATE OF name, provider, secret_ciphertext, hint, fingerprint, is_valid, is_selected, monthly_budget_usd ON public.api_keys FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.api_key_secret(p_key_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.api_key_secret(p_key_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION private.lock_user_api_keys(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.lock_user_api_keys(p_user_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION private.register_api_key(p_name text, p_provider text, p_secret_ciphertext text, p_hint text, p_fingerprint text) FROM PUBLIC;
GRANT ALL ON FUNCTION private.register_api_key(p_name text, p_provider text, p_secret_ciphertext text, p_hint text, p_fingerprint text) TO authenticated;

REVOKE ALL ON FUNCTION private.reselect_api_key_after_delete() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.select_first_api_key() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.select_api_key(p_key_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.select_api_key(p_key_id uuid) TO authenticated;

GRANT DELETE ON TABLE public.api_keys TO authenticated;

GRANT SELECT(id) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(user_id) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(name),UPDATE(name) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(provider) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(hint) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(fingerprint) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(is_valid) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(is_selected),UPDATE(is_selected) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(monthly_budget_usd),UPDATE(monthly_budget_usd) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(created_at) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(updated_at) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(last_used_at) ON TABLE public.api_keys TO authenticated;

GRANT SELECT(last_validated_at) ON TABLE public.api_keys TO authenticated;

REVOKE ALL ON FUNCTION private.owner_openai_key(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.owner_openai_key(p_user_id uuid) TO authenticated;


-- ##############################################################################################
-- supabase/schemas/30_conversations_and_messages.sql
-- ##############################################################################################

-- Conversations and messages
--
-- A conversation belongs to a user and answers with one of their keys. Messages are written
-- only through the exchange functions (50_exchange_and_budgets.sql); the API reads them through
-- the list/get functions here, which return the JSON the API sends as is.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- A user's conversation. Clients write its title, key, model and system prompt; the activity
-- columns (message_count, last_message_at, preview) are kept by the message triggers, and
-- api_json is the row as the API answers with it (write_conversation_api_json).
CREATE TABLE public.conversations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    title text DEFAULT ('Conversation '::text || to_char((now() AT TIME ZONE 'utc'::text), 'YYYY-MM-DD HH24:MI'::text)) NOT NULL,
    api_key_id uuid,
    model text,
    system_prompt text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    message_count bigint DEFAULT 0 NOT NULL,
    last_message_at timestamp with time zone,
    preview text,
    last_activity_at timestamp with time zone GENERATED ALWAYS AS (COALESCE(last_message_at, updated_at)) STORED NOT NULL,
    api_json text DEFAULT ''::text NOT NULL, -- the trigger writes it; the default keeps it optional for clients that insert
    CONSTRAINT conversations_system_prompt_length CHECK ((char_length(system_prompt) <= 20000)),
    CONSTRAINT conversations_title_length CHECK (char_length(title) BETWEEN 1 AND 200 AND btrim(title) <> ''::text)
);

COMMENT ON COLUMN public.conversations.api_json IS 'The conversation as the API answers with it (JSON text), written by a trigger on every insert and update.';

-- A message of a conversation. Written only by the exchange functions: a user message is
-- pending until its answer is stored (complete) or its call failed (failed); citations point
-- at pages of the user's documents.
CREATE TABLE public.messages (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    conversation_id uuid NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    role text NOT NULL,
    content text NOT NULL,
    model text,
    prompt_tokens integer,
    completion_tokens integer,
    api_key_id uuid,
    status text DEFAULT 'complete'::text NOT NULL,
    error_code text,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    citations jsonb DEFAULT '[]'::jsonb NOT NULL,
    CONSTRAINT messages_citations_is_array CHECK ((jsonb_typeof(citations) = 'array'::text)),
    CONSTRAINT messages_completion_tokens_check CHECK ((completion_tokens >= 0)),
    CONSTRAINT messages_content_length CHECK ((char_length(content) <= 100000)),
    CONSTRAINT messages_prompt_tokens_check CHECK ((prompt_tokens >= 0)),
    CONSTRAINT messages_role_check CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text, 'system'::text]))),
    CONSTRAINT messages_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'complete'::text, 'failed'::text])))
);

-- A user's conversation count, in slots: a new conversation is counted in the slot of the
-- connection that made it (its backend pid modulo 16), so one user's concurrent creates do not
-- queue on one row, whose lock each would hold until its commit was flushed (on one counter row,
-- one user's creates were capped at one per WAL flush). The count is the sum of the user's
-- slots: at most 16 rows, one range of the primary key. Not exposed: clients read their count
-- with private.my_conversation_count() and cannot write it.
CREATE TABLE private.conversation_counts (
    user_id uuid NOT NULL,
    slot smallint NOT NULL,
    conversations bigint NOT NULL,
    CONSTRAINT conversation_counts_slot_check CHECK (((slot >= 0) AND (slot <= 15)))
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.conversation_counts
    ADD CONSTRAINT conversation_counts_pkey PRIMARY KEY (user_id, slot);

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_id_user_id_key UNIQUE (id, user_id);

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY private.conversation_counts
    ADD CONSTRAINT conversation_counts_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_api_key_id_user_id_fkey FOREIGN KEY (api_key_id, user_id) REFERENCES public.api_keys(id, user_id) ON DELETE SET NULL (api_key_id);

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_api_key_id_user_id_fkey FOREIGN KEY (api_key_id, user_id) REFERENCES public.api_keys(id, user_id) ON DELETE SET NULL (api_key_id);

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_conversation_id_user_id_fkey FOREIGN KEY (conversation_id, user_id) REFERENCES public.conversations(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE INDEX conversations_api_key_id_user_id_idx ON public.conversations USING btree (api_key_id, user_id) WHERE (api_key_id IS NOT NULL);

CREATE INDEX conversations_user_id_last_activity_at_id_idx ON public.conversations USING btree (user_id, last_activity_at DESC, id DESC);

CREATE INDEX messages_api_key_id_user_id_idx ON public.messages USING btree (api_key_id, user_id) WHERE (api_key_id IS NOT NULL);

CREATE INDEX messages_citations_idx ON public.messages USING gin (citations jsonb_path_ops);

CREATE INDEX messages_conversation_id_user_id_created_at_id_idx ON public.messages USING btree (conversation_id, user_id, created_at, id);

CREATE INDEX messages_pending_created_at_idx ON public.messages USING btree (created_at) WHERE (status = 'pending'::text);

CREATE INDEX messages_user_id_idx ON public.messages USING btree (user_id);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.conversation_counts ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.conversations ENABLE ROW LEVEL SECURITY;

CREATE POLICY "conversations: owner can delete" ON public.conversations FOR DELETE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversations: owner can insert" ON public.conversations FOR INSERT TO authenticated WITH CHECK ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversations: owner can select" ON public.conversations FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversations: owner can update" ON public.conversations FOR UPDATE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id)) WITH CHECK ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;

CREATE POLICY "messages: owner can delete" ON public.messages FOR DELETE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "messages: owner can select" ON public.messages FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- Whether every citation quotes, verbatim, the stored text of the page it names, of one of the
-- user's documents. The api function repairs or drops quotes before storing; this keeps it so.
CREATE FUNCTION private.citations_quote_their_pages(p_user_id uuid, p_citations jsonb) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  return pg_catalog.jsonb_typeof(p_citations) = 'array' and not exists (
    select 1 from pg_catalog.jsonb_array_elements(p_citations) c
    where not exists (
      select 1 from public.document_pages p
      where p.document_id = (c->>'document_id')::uuid and p.user_id = p_user_id
        and p.page_number = (c->>'page')::integer
        and pg_catalog.length(c->>'quote') > 0 and pg_catalog.strpos(p.text, c->>'quote') > 0));
end;
$$;

-- Keeps private.conversation_counts with the conversations inserted or deleted by a statement.
CREATE FUNCTION private.count_conversations() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if tg_op = 'INSERT' then
    insert into private.conversation_counts as t (user_id, slot, conversations)
    select n.user_id, pg_catalog.pg_backend_pid() % 16, count(*) from changed n group by n.user_id
    on conflict (user_id, slot) do update set conversations = t.conversations + excluded.conversations;
  else
    -- Deletes are rare: they take any one of the user's slots (there is one: the conversations
    -- were counted when made). A slot may go below zero; the sum is what counts.
    update private.conversation_counts t set conversations = t.conversations - d.removed
    from (select user_id, count(*) as removed from changed group by user_id) d
    where t.user_id = d.user_id
      and t.slot = (select min(o.slot) from private.conversation_counts o where o.user_id = d.user_id);
  end if;
  return null;
end;
$$;

-- Takes deleted messages off their conversations' counts, once per statement and conversation.
CREATE FUNCTION private.count_deleted_messages() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  -- When the conversation itself is being deleted (the cascade), it is already gone: no row to update.
  update public.conversations c
  set message_count = c.message_count - d.removed,
      (last_message_at, preview) = (
        select m.created_at, left(m.content, 120) from public.messages m
        where m.conversation_id = c.id and m.user_id = c.user_id
        order by m.created_at desc, m.id desc
        limit 1)
  from (select conversation_id, user_id, count(*) as removed from old_messages group by conversation_id, user_id) d
  where c.id = d.conversation_id and c.user_id = d.user_id;
  return null;
end;
$$;

-- Security definer because clients may not write these columns themselves. One update per
-- statement and conversation (not per row), so a bulk insert is not a chain of updates of one row.
-- The last message is read back from the messages index, so ties and out-of-order created_at
-- give exactly what `order by created_at desc, id desc` gives.
CREATE FUNCTION private.count_new_messages() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.conversations c
  set message_count = c.message_count + n.added,
      updated_at = now(),
      (last_message_at, preview) = (
        select m.created_at, left(m.content, 120) from public.messages m
        where m.conversation_id = c.id and m.user_id = c.user_id
        order by m.created_at desc, m.id desc
        limit 1)
  from (select conversation_id, user_id, count(*) as added from new_messages group by conversation_id, user_id) n
  where c.id = n.conversation_id and c.user_id = n.user_id;
  return null;
end;
$$;

-- Creates a conversation in one round trip and answers with it as JSON text, as the list shows
-- it. A key that is not the caller's is refused by the foreign key (api_key_id, user_id).
CREATE FUNCTION private.create_conversation(p_claims text, p_title text, p_api_key_id uuid, p_model text, p_system_prompt text) RETURNS TABLE(data text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    AS $$
declare
  v_user uuid := private.begin_request(p_claims);
begin
  insert into public.conversations (user_id, title, api_key_id, model, system_prompt)
  values (v_user, coalesce(p_title, 'Conversation ' || to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI')),
          p_api_key_id, p_model, p_system_prompt)
  returning conversations.api_json into data;
  return next;
end;
$$;

-- GET /conversations/{id}: the conversation with its latest p_messages messages, oldest first,
-- as JSON text (its fields, then `messages`). No row: not the caller's conversation.
CREATE FUNCTION private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer) RETURNS TABLE(data text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
  v_user uuid := private.begin_request(p_claims);
begin
  -- a message whose request died shows failed, not pending forever (the sweeper, for this caller)
  perform private.sweep_stale_exchanges(v_user);
  return query
    -- api_json is one object: its closing brace gives way to the messages
    select left(c.api_json, -1) || ',"messages":' || (
             select coalesce(array_to_json(array_agg(latest.item order by latest.created_at, latest.id))::text, '[]')
             from (
               -- read from the index's newest end, whatever the length of the conversation
               select m.created_at, m.id, row_to_json(r) as item
               from public.messages m
               cross join lateral (
                 select m.id, m.conversation_id, m.role, m.content, m.model, m.prompt_tokens, m.completion_tokens,
                        m.api_key_id, m.status, m.error_code, m.citations,
                        to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
               ) r
               where m.conversation_id = c.id and m.user_id = v_user
               order by m.created_at desc, m.id desc
               limit p_messages
             ) latest) || '}'
    from public.conversations c
    where c.id = p_conversation_id and c.user_id = v_user;
end;
$$;

-- A page of the caller's conversations, newest activity first: the total, the number on the page,
-- and the page as JSON text (an array; empty past the end).
CREATE FUNCTION private.list_conversations(p_claims text, p_limit integer, p_offset integer) RETURNS TABLE(total bigint, items integer, data text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
  v_user uuid := private.begin_request(p_claims);
begin
  return query
    select private.my_conversation_count(), count(*)::integer,
           '[' || coalesce(string_agg(page.api_json, ',' order by page.last_activity_at desc, page.id desc), '') || ']'
    from (
      select c.last_activity_at, c.id, c.api_json
      from public.conversations c
      where c.user_id = v_user
      order by c.last_activity_at desc, c.id desc
      limit p_limit offset p_offset
    ) page;
end;
$$;

-- A page of one conversation's messages, oldest first: the conversation's message count, the
-- number on the page, and the page as JSON text (an array). No row: not the caller's conversation.
CREATE FUNCTION private.list_messages(p_claims text, p_conversation_id uuid, p_limit integer, p_offset integer) RETURNS TABLE(total bigint, items integer, data text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
  v_user uuid := private.begin_request(p_claims);
begin
  -- a message whose request died shows failed, not pending forever (the sweeper, for this caller)
  perform private.sweep_stale_exchanges(v_user);
  return query
    select c.message_count, count(page.item)::integer,
           coalesce(array_to_json(array_agg(page.item order by page.created_at, page.id) filter (where page.item is not null))::text,
                    '[]')
    from public.conversations c
    left join lateral (
      select m.created_at, m.id, row_to_json(r) as item
      from public.messages m
      cross join lateral (
        select m.id, m.conversation_id, m.role, m.content, m.model, m.prompt_tokens, m.completion_tokens, m.api_key_id,
               m.status, m.error_code, m.citations,
               to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
      ) r
      where m.conversation_id = c.id and m.user_id = v_user
      order by m.created_at, m.id
      limit p_limit offset p_offset
    ) page on true
    where c.id = p_conversation_id and c.user_id = v_user
    group by c.id, c.message_count;
end;
$$;

-- The caller's conversation count (the list's X-Total-Count). plpgsql: its plan is kept per
-- connection (a `language sql` function that is not inlined is planned on every call).
CREATE FUNCTION private.my_conversation_count() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return (select coalesce(sum(t.conversations), 0)::bigint from private.conversation_counts t where t.user_id = (select auth.uid()));
end;
$$;

-- Fires after conversations_set_updated_at (triggers of a kind fire in name order), so it sees
-- the updated_at that trigger sets. last_activity_at is a stored generated column, computed
-- only after BEFORE triggers: its expression is repeated here.
CREATE FUNCTION private.write_conversation_api_json() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  new.api_json := (
    select row_to_json(r)::text
    from (select new.id as id, new.title as title, new.api_key_id as api_key_id, new.model as model,
                 new.system_prompt as system_prompt,
                 to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
                 to_char(new.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at,
                 new.message_count as message_count,
                 to_char(new.last_message_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_message_at,
                 to_char(coalesce(new.last_message_at, new.updated_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                   as last_activity_at,
                 new.preview as preview) r);
  return new;
end;
$$;

-- ==============================================================================================
-- Views
-- ==============================================================================================

-- The list of the caller's conversations, read from the conversation row (its activity
-- columns are kept by the message triggers).
CREATE VIEW public.conversation_list WITH (security_invoker='true') AS
 SELECT c.id,
    c.user_id,
    c.title,
    c.api_key_id,
    c.model,
    c.system_prompt,
    c.created_at,
    c.updated_at,
    c.message_count,
    c.last_message_at,
    c.preview,
    c.last_activity_at
   FROM public.conversations c;

-- ==============================================================================================
-- Triggers
-- ==============================================================================================

CREATE TRIGGER conversations_count_deleted AFTER DELETE ON public.conversations REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION private.count_conversations();

CREATE TRIGGER conversations_count_new AFTER INSERT ON public.conversations REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION private.count_conversations();

CREATE TRIGGER conversations_set_updated_at BEFORE UPDATE OF title, api_key_id, model, system_prompt ON public.conversations FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

CREATE TRIGGER conversations_write_api_json BEFORE INSERT OR UPDATE ON public.conversations FOR EACH ROW EXECUTE FUNCTION private.write_conversation_api_json();

CREATE TRIGGER messages_count_deleted AFTER DELETE ON public.messages REFERENCING OLD TABLE AS old_messages FOR EACH STATEMENT EXECUTE FUNCTION private.count_deleted_messages();

CREATE TRIGGER messages_count_new AFTER INSERT ON public.messages REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION private.count_new_messages();

-- ==============================================================================================
-- Grants
-- ==============================================================================================

GRANT SELECT,DELETE ON TABLE public.messages TO authenticated;

REVOKE ALL ON FUNCTION private.citations_quote_their_pages(p_user_id uuid, p_citations jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.count_conversations() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.count_deleted_messages() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.count_new_messages() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.create_conversation(p_claims text, p_title text, p_api_key_id uuid, p_model text, p_system_prompt text) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.list_conversations(p_claims text, p_limit integer, p_offset integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.list_messages(p_claims text, p_conversation_id uuid, p_limit integer, p_offset integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.my_conversation_count() FROM PUBLIC;
GRANT ALL ON FUNCTION private.my_conversation_count() TO authenticated;

REVOKE ALL ON FUNCTION private.write_conversation_api_json() FROM PUBLIC;

GRANT SELECT,DELETE ON TABLE public.conversations TO authenticated;

GRANT INSERT(id) ON TABLE public.conversations TO authenticated;

GRANT INSERT(user_id) ON TABLE public.conversations TO authenticated;

GRANT INSERT(title),UPDATE(title) ON TABLE public.conversations TO authenticated;

GRANT INSERT(api_key_id),UPDATE(api_key_id) ON TABLE public.conversations TO authenticated;

GRANT INSERT(model),UPDATE(model) ON TABLE public.conversations TO authenticated;

GRANT INSERT(system_prompt),UPDATE(system_prompt) ON TABLE public.conversations TO authenticated;

GRANT SELECT ON TABLE public.conversation_list TO authenticated;

-- ##############################################################################################
-- supabase/schemas/40_usage.sql
-- ##############################################################################################

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

-- ##############################################################################################
-- supabase/schemas/50_exchange_and_budgets.sql
-- ##############################################################################################

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

-- ##############################################################################################
-- supabase/schemas/60_documents_and_ingestion.sql
-- ##############################################################################################

-- Documents and their ingestion
--
-- The Storage object is the source of truth: a trigger on storage.objects (bucket
-- `documents`) makes the documents row and queues an ingest job; pg_net calls the `ingest`
-- function, which extracts pages, chunks and embeddings. pg_cron picks up what a kick missed.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- One uploaded PDF, made by the trigger on storage.objects; the ingest worker fills in the rest.
CREATE TABLE public.documents (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    object_path text NOT NULL,
    filename text NOT NULL,
    size_bytes bigint,
    content_sha256 text,
    status text DEFAULT 'queued'::text NOT NULL,
    failure_reason text,
    duplicate_of uuid,
    pages_total integer,
    pages_done integer DEFAULT 0 NOT NULL,
    pages_without_text integer DEFAULT 0 NOT NULL,
    chunk_count integer DEFAULT 0 NOT NULL,
    embedding_model text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    ready_at timestamp with time zone,
    embeddings_skipped text,
    CONSTRAINT documents_content_sha256_check CHECK ((content_sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT documents_embeddings_skipped_check CHECK ((embeddings_skipped = 'budget'::text)),
    CONSTRAINT documents_failed_has_reason CHECK (((status <> 'failed'::text) OR (failure_reason IS NOT NULL))),
    CONSTRAINT documents_filename_length CHECK (((char_length(filename) >= 1) AND (char_length(filename) <= 255))),
    CONSTRAINT documents_pages_done_check CHECK (((pages_done >= 0) AND ((pages_total IS NULL) OR (pages_done <= pages_total)))),
    CONSTRAINT documents_pages_total_check CHECK ((pages_total >= 0)),
    CONSTRAINT documents_size_bytes_check CHECK ((size_bytes >= 0)),
    CONSTRAINT documents_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'processing'::text, 'ready'::text, 'failed'::text])))
);

COMMENT ON TABLE public.documents IS 'One uploaded PDF. Rows come from the trigger on storage.objects; the ingest worker fills in the rest.';

-- The text of each page, as extracted (has_text: any text was found on it).
CREATE TABLE public.document_pages (
    document_id uuid NOT NULL,
    user_id uuid NOT NULL,
    page_number integer NOT NULL,
    text text NOT NULL,
    has_text boolean NOT NULL,
    CONSTRAINT document_pages_page_number_check CHECK ((page_number >= 1))
);

-- The passages retrieval searches: a page's text in pieces (offsets into the page's text),
-- each with its embedding once a model has embedded it.
CREATE TABLE public.document_chunks (
    id bigint NOT NULL,
    document_id uuid NOT NULL,
    user_id uuid NOT NULL,
    page_number integer NOT NULL,
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    content text NOT NULL,
    embedding extensions.vector(1536),
    embedding_model text,
    CONSTRAINT document_chunks_embedding_has_model CHECK (((embedding IS NULL) = (embedding_model IS NULL))),
    CONSTRAINT document_chunks_offsets_check CHECK (((start_offset >= 0) AND (end_offset > start_offset)))
);

ALTER TABLE public.document_chunks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.document_chunks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- The documents attached to a conversation: the ones its questions are answered from.
CREATE TABLE public.conversation_documents (
    conversation_id uuid NOT NULL,
    document_id uuid NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

-- Ingestion jobs: one per document, claimed with `for update skip locked` and held by a lease,
-- so two workers never process one document and a worker that dies is replaced when its lease
-- runs out. next_page is the resume point: every batch commits its pages and moves it on.
CREATE TABLE private.ingest_jobs (
    document_id uuid NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    next_page integer DEFAULT 1 NOT NULL,
    failures integer DEFAULT 0 NOT NULL,
    last_error text,
    lease_token uuid,
    lease_until timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    kind text DEFAULT 'ingest'::text NOT NULL,
    embedding_model text,
    CONSTRAINT ingest_jobs_kind_check CHECK ((kind = ANY (ARRAY['ingest'::text, 'embed'::text]))),
    CONSTRAINT ingest_jobs_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'running'::text, 'done'::text, 'failed'::text])))
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.ingest_jobs
    ADD CONSTRAINT ingest_jobs_pkey PRIMARY KEY (document_id);

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_pkey PRIMARY KEY (conversation_id, document_id);

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.document_pages
    ADD CONSTRAINT document_pages_pkey PRIMARY KEY (document_id, page_number);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_id_user_id_key UNIQUE (id, user_id);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_object_path_key UNIQUE (object_path);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY private.ingest_jobs
    ADD CONSTRAINT ingest_jobs_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_conversation_id_user_id_fkey FOREIGN KEY (conversation_id, user_id) REFERENCES public.conversations(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_document_id_user_id_fkey FOREIGN KEY (document_id, user_id) REFERENCES public.documents(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_user_id_fkey FOREIGN KEY (document_id, user_id) REFERENCES public.documents(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_page_fkey FOREIGN KEY (document_id, page_number) REFERENCES public.document_pages(document_id, page_number) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_pages
    ADD CONSTRAINT document_pages_document_id_user_id_fkey FOREIGN KEY (document_id, user_id) REFERENCES public.documents(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_pages
    ADD CONSTRAINT document_pages_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_duplicate_of_fkey FOREIGN KEY (duplicate_of) REFERENCES public.documents(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE INDEX ingest_jobs_pending_idx ON private.ingest_jobs USING btree (created_at) WHERE (status = ANY (ARRAY['queued'::text, 'running'::text]));

CREATE INDEX conversation_documents_conversation_id_user_id_idx ON public.conversation_documents USING btree (conversation_id, user_id);

CREATE INDEX conversation_documents_document_id_user_id_idx ON public.conversation_documents USING btree (document_id, user_id);

CREATE INDEX conversation_documents_user_id_idx ON public.conversation_documents USING btree (user_id);

CREATE INDEX document_chunks_content_pgroonga_idx ON public.document_chunks USING pgroonga (content);

CREATE INDEX document_chunks_document_id_page_number_idx ON public.document_chunks USING btree (document_id, page_number);

CREATE INDEX document_chunks_document_id_user_id_idx ON public.document_chunks USING btree (document_id, user_id);

CREATE INDEX document_chunks_embedding_idx ON public.document_chunks USING hnsw (embedding extensions.vector_cosine_ops);

CREATE INDEX document_chunks_user_id_idx ON public.document_chunks USING btree (user_id);

CREATE INDEX document_pages_document_id_user_id_idx ON public.document_pages USING btree (document_id, user_id);

CREATE INDEX document_pages_user_id_idx ON public.document_pages USING btree (user_id);

CREATE INDEX documents_duplicate_of_idx ON public.documents USING btree (duplicate_of) WHERE (duplicate_of IS NOT NULL);

CREATE UNIQUE INDEX documents_user_id_content_sha256_key ON public.documents USING btree (user_id, content_sha256) WHERE ((content_sha256 IS NOT NULL) AND (duplicate_of IS NULL));

CREATE INDEX documents_user_id_created_at_idx ON public.documents USING btree (user_id, created_at DESC, id);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.ingest_jobs ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.conversation_documents ENABLE ROW LEVEL SECURITY;

CREATE POLICY "conversation_documents: owner can delete" ON public.conversation_documents FOR DELETE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversation_documents: owner can insert" ON public.conversation_documents FOR INSERT TO authenticated WITH CHECK ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversation_documents: owner can select" ON public.conversation_documents FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.document_chunks ENABLE ROW LEVEL SECURITY;

CREATE POLICY "document_chunks: owner can select" ON public.document_chunks FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.document_pages ENABLE ROW LEVEL SECURITY;

CREATE POLICY "document_pages: owner can select" ON public.document_pages FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY;

CREATE POLICY "documents: owner can select" ON public.documents FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- The worker's claim: the oldest job that is queued, or running under a lease that ran out
-- (its worker died: that counts as a failure). `skip locked`: concurrent workers take different jobs.
CREATE FUNCTION private.claim_ingest_job(p_lease_seconds integer) RETURNS TABLE(document_id uuid, kind text, next_page integer, failures integer, last_error text, lease_token uuid)
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  with candidate as (
    select j.document_id
    from private.ingest_jobs j
    where j.status = 'queued' or (j.status = 'running' and j.lease_until < now())
    order by j.created_at
    for update skip locked
    limit 1
  )
  update private.ingest_jobs j
    set status = 'running',
        lease_token = gen_random_uuid(),
        lease_until = now() + pg_catalog.make_interval(secs => p_lease_seconds),
        failures = j.failures + case when j.status = 'running' then 1 else 0 end,
        last_error = case when j.status = 'running' then 'the worker stopped before finishing a batch (killed or out of time)' else j.last_error end
  from candidate
  where j.document_id = candidate.document_id
  returning j.document_id, j.kind, j.next_page, j.failures, j.last_error, j.lease_token;
$$;

-- Removing the object (supabase-js remove(), or DELETE /api/v1/documents/{id}) removes the document.
CREATE FUNCTION private.document_object_removed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  delete from public.documents where object_path = old.name;
  return null;
end;
$$;

-- A new or replaced object in bucket `documents` becomes a queued document. Security definer:
-- Storage inserts as the uploading user, who may not write documents or jobs.
CREATE FUNCTION private.document_object_written() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_owner uuid := coalesce(new.owner, nullif(new.owner_id, '')::uuid);
  v_file text := pg_catalog.regexp_replace(new.name, '^.*/', '');
  v_id uuid;
  v_sha256 text;
begin
  if v_owner is null then
    return null; -- written with the service key outside any user's folder: not a user's document
  end if;
  -- `<user id>/<document id>.pdf` names the document; any other name gets a fresh id.
  if v_file ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.pdf$' then
    v_id := pg_catalog.left(v_file, 36)::uuid;
  end if;

  if tg_op = 'UPDATE' then
    -- Replaced (upsert): start over with the new bytes.
    update public.documents
      set status = 'queued', failure_reason = null, duplicate_of = null, content_sha256 = null,
          size_bytes = (new.metadata->>'size')::bigint, pages_total = null, pages_done = 0,
          pages_without_text = 0, chunk_count = 0, embedding_model = null, ready_at = null
      where object_path = new.name
      returning id into v_id;
    delete from public.document_pages where document_id = v_id;
  else
    if v_id is null or exists (select 1 from public.documents d where d.id = v_id) then
      v_id := gen_random_uuid();
    end if;
    -- The uploader's claimed hash (the API sends it) lets a second upload of the same bytes find
    -- this document before the worker has read it; the worker replaces it with the real hash.
    v_sha256 := new.user_metadata->>'sha256';
    if v_sha256 !~ '^[0-9a-f]{64}$' or exists (
      select 1 from public.documents d where d.user_id = v_owner and d.content_sha256 = v_sha256 and d.duplicate_of is null
    ) then
      v_sha256 := null;
    end if;
    insert into public.documents (id, user_id, object_path, filename, size_bytes, content_sha256)
    values (
      v_id, v_owner, new.name,
      pg_catalog.left(coalesce(nullif(pg_catalog.btrim(new.user_metadata->>'filename'), ''), v_file), 255),
      (new.metadata->>'size')::bigint,
      v_sha256
    );
  end if;

  if v_id is not null then
    insert into private.ingest_jobs (document_id) values (v_id)
    on conflict (document_id) do update
      set status = 'queued', next_page = 1, failures = 0, last_error = null, lease_token = null, lease_until = null;
    -- Start at once rather than at the next scheduled run (after commit: pg_net's queue is a table).
    perform private.kick_ingest();
  end if;
  return null;
end;
$_$;

-- Calls the ingest function through pg_net when there is work (a queued job, or a running one
-- whose worker's lease ran out). Asynchronous: the request goes out after this transaction
-- commits. Returns the pg_net request id, or null when nothing was sent.
CREATE FUNCTION private.kick_ingest() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_url text := private.setting('ingest_url');
  v_secret text := private.setting('ingest_secret');
begin
  if v_url is null or v_secret is null then
    return null;
  end if;
  if not exists (
    select 1 from private.ingest_jobs j
    where j.status = 'queued' or (j.status = 'running' and j.lease_until < now())
  ) then
    return null;
  end if;
  return net.http_post(
    url := v_url,
    body := '{}'::jsonb,
    headers := pg_catalog.jsonb_build_object('content-type', 'application/json', 'x-ingest-secret', v_secret),
    timeout_milliseconds := 60000
  );
end;
$$;

-- A deleted document's citations keep their quote and page and say the document is gone.
CREATE FUNCTION private.mark_citations_of_deleted_document() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.messages m
    set citations = (
      select pg_catalog.jsonb_agg(
        case when c->>'document_id' = old.id::text
          then c || '{"document_deleted": true, "chunk_id": null}'::jsonb
          else c end order by ord)
      from pg_catalog.jsonb_array_elements(m.citations) with ordinality as e(c, ord))
    where m.user_id = old.user_id
      and m.citations @> pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('document_id', old.id));
  return null;
end;
$$;

-- Queues an embed job for each of the caller's ready documents (or only p_document_id) that has
-- chunks without a vector of p_model, unless the caller has no valid OpenAI key (nothing to
-- embed with). A document still being ingested is left alone: its ingestion embeds what it
-- stores. Returns the ids queued. Security definer: the job queue is not the caller's to write.
CREATE FUNCTION private.queue_embedding(p_model text, p_document_id uuid DEFAULT NULL::uuid) RETURNS SETOF uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_user_id uuid := (select auth.uid());
begin
  if v_user_id is null then
    raise exception 'queue_embedding needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  if not exists (select 1 from public.api_keys k where k.user_id = v_user_id and k.provider = 'openai' and k.is_valid) then
    return;
  end if;
  return query
    with stale as (
      select d.id from public.documents d
      where d.user_id = v_user_id and d.status = 'ready'
        and (p_document_id is null or d.id = p_document_id)
        and exists (select 1 from public.document_chunks c
                    where c.document_id = d.id and c.embedding_model is distinct from p_model)
    )
    insert into private.ingest_jobs as j (document_id, kind, embedding_model)
    select s.id, 'embed', p_model from stale s
    on conflict (document_id) do update
      -- created_at: at the back of the queue (jobs are claimed oldest first), behind new uploads
      set kind = 'embed', embedding_model = p_model, status = 'queued', failures = 0, last_error = null,
          lease_token = null, lease_until = null, created_at = now()
      where j.status in ('done', 'failed')
    returning j.document_id;
  perform private.kick_ingest();
end;
$$;

-- Progress under the lease: the lease is extended and (for an ingestion) the resume point moved.
-- Run first in the transaction that stores a batch: it locks the job, so the batch commits only
-- while its worker holds the lease. False (nothing changed) when the lease was lost.
CREATE FUNCTION private.progress_ingest_job(p_document_id uuid, p_lease_token uuid, p_lease_seconds integer, p_next_page integer DEFAULT NULL::integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j
    set next_page = coalesce(p_next_page, j.next_page),
        lease_until = now() + pg_catalog.make_interval(secs => p_lease_seconds)
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- Done: every page stored (or every chunk embedded). False when the lease was lost.
CREATE FUNCTION private.finish_ingest_job(p_document_id uuid, p_lease_token uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j set status = 'done', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- Handed back untouched (the worker's time is spent), so the next call takes it at once.
CREATE FUNCTION private.release_ingest_job(p_document_id uuid, p_lease_token uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j set status = 'queued', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- A failure that may pass: counted, its reason kept, the job queued for a later call. Returns
-- the failures so far (the caller gives up at its limit); null when the lease was lost.
CREATE FUNCTION private.retry_ingest_job(p_document_id uuid, p_lease_token uuid, p_reason text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_failures integer;
begin
  update private.ingest_jobs j
    set failures = j.failures + 1, last_error = p_reason, status = 'queued', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token
  returning j.failures into v_failures;
  return v_failures;
end;
$$;

-- Given up: the job fails with its reason, whoever holds it (after the last retry the lease is
-- already gone). With p_document_failure the document fails too, showing that reason; with
-- p_duplicate_of it is named the duplicate of that document and takes its content hash.
CREATE FUNCTION private.fail_ingest_job(p_document_id uuid, p_reason text, p_document_failure text DEFAULT NULL::text, p_duplicate_of uuid DEFAULT NULL::uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j set status = 'failed', last_error = p_reason, lease_token = null, lease_until = null
  where j.document_id = p_document_id;
  if p_document_failure is not null then
    update public.documents d
      set status = 'failed', failure_reason = p_document_failure, duplicate_of = p_duplicate_of,
          content_sha256 = case when p_duplicate_of is null then d.content_sha256
                                else (select o.content_sha256 from public.documents o where o.id = p_duplicate_of) end
    where d.id = p_document_id;
  end if;
end;
$$;

-- ==============================================================================================
-- Triggers
-- ==============================================================================================

CREATE TRIGGER ingest_jobs_set_updated_at BEFORE UPDATE ON private.ingest_jobs FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

CREATE TRIGGER documents_mark_citations AFTER DELETE ON public.documents FOR EACH ROW EXECUTE FUNCTION private.mark_citations_of_deleted_document();

CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON public.documents FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.claim_ingest_job(p_lease_seconds integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.document_object_removed() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.document_object_written() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.kick_ingest() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.mark_citations_of_deleted_document() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.queue_embedding(p_model text, p_document_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.queue_embedding(p_model text, p_document_id uuid) TO authenticated;

GRANT SELECT,DELETE ON TABLE public.conversation_documents TO authenticated;

GRANT INSERT(conversation_id) ON TABLE public.conversation_documents TO authenticated;

GRANT INSERT(document_id) ON TABLE public.conversation_documents TO authenticated;

GRANT INSERT(user_id) ON TABLE public.conversation_documents TO authenticated;

GRANT SELECT ON TABLE public.document_chunks TO authenticated;

GRANT SELECT ON TABLE public.document_pages TO authenticated;

GRANT SELECT ON TABLE public.documents TO authenticated;

REVOKE ALL ON FUNCTION private.progress_ingest_job(p_document_id uuid, p_lease_token uuid, p_lease_seconds integer, p_next_page integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.finish_ingest_job(p_document_id uuid, p_lease_token uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.release_ingest_job(p_document_id uuid, p_lease_token uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.retry_ingest_job(p_document_id uuid, p_lease_token uuid, p_reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.fail_ingest_job(p_document_id uuid, p_reason text, p_document_failure text, p_duplicate_of uuid) FROM PUBLIC;

-- ==============================================================================================
-- Storage: the documents bucket, its policies and triggers; the ingest schedule
-- ==============================================================================================

-- Uploaded PDFs live in Supabase Storage, never in table columns: a private bucket, each
-- user's files under a folder named by their user id (`<user id>/<document id>.pdf`). Direct
-- supabase-js uploads obey the same size limit as POST /api/v1/documents (DOCUMENT_MAX_BYTES).
insert into storage.buckets (id, name, public, allowed_mime_types, file_size_limit)
values ('documents', 'documents', false, array['application/pdf'], 25 * 1024 * 1024)
on conflict (id) do nothing;

-- A signed-in user reads, writes and deletes only inside their own folder, whether through
-- supabase-js or through the API (which uploads as the caller).
create policy "documents: owner reads own folder" on storage.objects
  for select to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner uploads into own folder" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner replaces own files" on storage.objects
  for update to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner deletes own files" on storage.objects
  for delete to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- An upload (or a new version of a file) makes or refreshes the documents row and queues an
-- ingest job; removing the file removes the document.
create trigger documents_object_written
  after insert or update of version on storage.objects
  for each row when (new.bucket_id = 'documents')
  execute function private.document_object_written();

create trigger documents_object_removed
  after delete on storage.objects
  for each row when (old.bucket_id = 'documents')
  execute function private.document_object_removed();

-- Every few seconds, pick up what a kick missed: a worker that died or ran out of time.
select cron.schedule('ingest-documents', '3 seconds', 'select private.kick_ingest()');
-- pg_cron keeps a row per run; a week of history is plenty.
select cron.schedule('purge-cron-history', '17 3 * * *', $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);

-- ##############################################################################################
-- supabase/schemas/70_retrieval.sql
-- ##############################################################################################

-- Retrieval: finding the chunks that answer a question
--
-- Lexical search (PGroonga, which also tokenises Korean) and, when the question has an
-- embedding, vector search (pgvector), fused by rank.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Text search
-- ==============================================================================================

CREATE TEXT SEARCH DICTIONARY private.simple_english_stop (
    TEMPLATE = pg_catalog.simple,
    stopwords = 'english' );

CREATE TEXT SEARCH CONFIGURATION private.document_text (
    PARSER = pg_catalog."default" );

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR asciiword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR word WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR numword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR email WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR url WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR host WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR sfloat WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR version WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword_numpart WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword_part WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword_asciipart WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR numhword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR asciihword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR url_path WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR file WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR "float" WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR "int" WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR uint WITH simple;

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- The chunks of a conversation's attached documents that best answer a question.
-- Security definer, in private, checking ownership itself: only the caller's conversation and its
-- attached documents (which the foreign keys make the caller's).
-- How a question is searched:
--   pieces   its words (the English stop words dropped); a Korean word becomes its
--            overlapping two-syllable pieces (각주를 -> 각주, 주를), so every form of a word shares
--            pieces with the others; a syllable attached to Latin letters (LaTeX을) is dropped as
--            the particle it is; a few pieces that only make a question a question (어떻게,
--            무엇, 하나요, 있나요 ...) are dropped too;
--   match    PGroonga (hosted Supabase offers it for exactly this) indexes chunk content with its
--            default bigram tokenizer, which cuts Hangul into the same two-character pieces and
--            keeps Latin words whole; each piece finds its chunks through that index (an index
--            scan, not a bitmap: a common piece then stops at the first matches it needs);
--   rank     Okapi BM25 (k1 = 0.9, b = 0.4) over the pieces: rare pieces weigh more, a piece
--            repeated on a page counts less each time, long chunks are not favoured. Document
--            frequencies are counted among the conversation's chunks (exact up to 500 matches
--            of a piece; a piece matching more is common either way);
--   listings of the best 100, a chunk whose lines mostly end in a page number (a table of
--            contents, an index) has its score cut, by up to 80%;
--   vectors  when the question has an embedding, the nearest chunks of the same embedding model,
--            fused with the BM25 list by reciprocal rank (k = 60).
-- At most 100 chunks per piece are scored (all of them for any piece rarer than that, which are
-- the pieces that decide), so a question of common words stays fast on a large conversation.
-- No JIT: the plan's cost estimates (a lateral index scan per piece) pass jit_above_cost, and
-- compiling the plan took longer than running it (docs/performance.md).
CREATE FUNCTION private.search_conversation_chunks(p_conversation_id uuid, p_query text, p_query_embedding extensions.vector DEFAULT NULL::extensions.vector, p_match_count integer DEFAULT 8, p_embedding_model text DEFAULT NULL::text) RETURNS TABLE(chunk_id bigint, document_id uuid, page_number integer, start_offset integer, end_offset integer, content text, score double precision, lexical_rank integer, vector_rank integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    SET "hnsw.ef_search" TO '100'
    SET "hnsw.iterative_scan" TO 'relaxed_order'
    SET enable_bitmapscan TO 'off'
    SET jit TO 'off'
    AS $_$
  with docs as (
    select cd.document_id
    from public.conversation_documents cd
    where cd.conversation_id = p_conversation_id and cd.user_id = (select auth.uid())
  ),
  words as (
    select w.word, pg_catalog.array_length(r.runs, 1) as run_count, r.runs
    from pg_catalog.unnest(pg_catalog.tsvector_to_array(pg_catalog.to_tsvector('private.document_text'::regconfig, p_query))) as w(word),
    lateral (
      select pg_catalog.array_agg(m[1]) as runs
      from pg_catalog.regexp_matches(w.word, '[가-힣]+|[^가-힣[:space:][:punct:]]+', 'g') as m
    ) r
  ),
  pieces as materialized (
    select distinct p.piece
    from words, pg_catalog.unnest(words.runs) as run,
    lateral (
      select case when run ~ '^[가-힣]{2,}$' then pg_catalog.substr(run, i, 2) else run end as piece
      from pg_catalog.generate_series(1, greatest(pg_catalog.length(run) - 1, 1)) as i
      where run !~ '^[가-힣]$' or words.run_count = 1
      union all
      -- an English word's stem too (keepers -> keeper, dated -> dat, nesting -> nest): it finds
      -- the other forms, and counts inside them
      select pg_catalog.regexp_replace(run, '(es|s|ed|ing)$', '')
      where run ~ '^[a-z]{3,}(es|s|ed|ing)$' and run !~ 'ss$'
    ) p
    where p.piece <> all (array['어떻', '떻게', '무엇', '엇인', '누구', '구인', '인가', '가요', '하나', '나요', '있나',
                                '뭔가', '되나', '는데', '려면', '으면', '싶어', '싶으', '어요', '해야', '야하', '할까',
                                '하려', '니까', '나는'])
  ),
  -- Per piece: its matches in the conversation (up to 100 scored) and how many chunks have it
  -- (counted again, up to 500, only when it has 100 matches or more).
  matched as materialized (
    select p.piece, m.id
    from pieces p,
    lateral (
      select c.id from public.document_chunks c
      where c.content operator(extensions.&@) p.piece and c.document_id in (select document_id from docs)
      limit 100
    ) m
  ),
  frequency as materialized (
    select m.piece, case when m.n < 100 then m.n else (
      select pg_catalog.count(*) from (
        select 1 from public.document_chunks c
        where c.content operator(extensions.&@) m.piece and c.document_id in (select document_id from docs)
        limit 500) f
    ) end::double precision as df
    from (select matched.piece, pg_catalog.count(*) as n from matched group by matched.piece) m
  ),
  corpus as (
    select greatest(pg_catalog.sum(d.chunk_count), (select pg_catalog.max(df) from frequency), 1)::double precision as n
    from public.documents d where d.id in (select document_id from docs)
  ),
  candidates as materialized (
    select c.id, t.text, pg_catalog.length(t.text)::double precision as len
    from (select distinct id from matched) m
    join public.document_chunks c on c.id = m.id,
    lateral (select pg_catalog.lower(c.content) as text) t
  ),
  term_counts as (
    select c.id, c.len, f.piece, f.df,
           ((c.len - pg_catalog.length(pg_catalog.replace(c.text, f.piece, ''))) / pg_catalog.length(f.piece))::double precision as tf
    from candidates c cross join frequency f
    where pg_catalog.strpos(c.text, f.piece) > 0
  ),
  bm25 as (
    select t.id,
           pg_catalog.sum(pg_catalog.ln(1 + ((select n from corpus) - t.df + 0.5) / (t.df + 0.5))
                          * t.tf * 1.9 / (t.tf + 0.9 * (0.6 + 0.4 * t.len / (select pg_catalog.avg(len) from candidates)))) as score
    from term_counts t
    group by t.id
    order by 2 desc, 1
    limit 100
  ),
  -- A listing (a table of contents, an index: most lines end in a page number) carries every
  -- heading's words without answering anything: its score is cut by up to 80%, by the share of
  -- its lines that end in a number.
  lexical as (
    select t.id, pg_catalog.row_number() over (order by t.score desc, t.id) as rank
    from (
      select b.id,
             b.score * (1 - 0.8 * pg_catalog.regexp_count(c.text, '\d\s*(\n|$)')::double precision
                                / (pg_catalog.regexp_count(c.text, E'\n') + 1)) as score
      from bm25 b
      join candidates c on c.id = b.id
      order by 2 desc, 1
      limit 40
    ) t
  ),
  nearest as (
    select c.id, pg_catalog.row_number() over () as rank
    from (
      select c.id
      from public.document_chunks c
      where p_query_embedding is not null
        and c.embedding_model = p_embedding_model
        and c.document_id in (select document_id from docs)
      order by c.embedding operator(extensions.<=>) p_query_embedding
      limit 40
    ) c
  ),
  fused as (
    select coalesce(l.id, n.id) as id, l.rank as l_rank, n.rank as n_rank,
           coalesce(1.0 / (60 + l.rank), 0) + coalesce(1.0 / (60 + n.rank), 0) as score
    from lexical l
    full join nearest n on n.id = l.id
    order by score desc, id
    limit least(greatest(p_match_count, 1), 50)
  )
  -- The winners' rows, each by its primary key.
  select c.id, c.document_id, c.page_number, c.start_offset, c.end_offset, c.content,
         fused.score::double precision, fused.l_rank::integer, fused.n_rank::integer
  from fused
  cross join lateral (select * from public.document_chunks c where c.id = fused.id) c
  order by fused.score desc, c.id;
$_$;

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.search_conversation_chunks(p_conversation_id uuid, p_query text, p_query_embedding extensions.vector, p_match_count integer, p_embedding_model text) FROM PUBLIC;
GRANT ALL ON FUNCTION private.search_conversation_chunks(p_conversation_id uuid, p_query text, p_query_embedding extensions.vector, p_match_count integer, p_embedding_model text) TO authenticated;
