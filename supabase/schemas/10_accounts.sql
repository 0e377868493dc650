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
