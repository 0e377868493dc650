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

