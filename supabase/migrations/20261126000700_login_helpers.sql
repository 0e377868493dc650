-- Lets the api function accept a username where Supabase Auth wants an email. Only the
-- service role may ask: it reveals whether a login exists.
create or replace function private.resolve_login(p_identifier text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
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
  limit 1;
$$;
revoke all on function private.resolve_login(text) from public, anon, authenticated, service_role;
grant execute on function private.resolve_login(text) to service_role;

-- Access tokens outlive logout; the api function asks this on every request so a signed-out
-- session stops working at once. Answers only for the caller's own sessions.
create or replace function private.session_is_active(p_session_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from auth.sessions s
    where s.id = p_session_id
      and s.user_id = (select auth.uid())
      and (s.not_after is null or s.not_after > now())
  );
$$;
revoke all on function private.session_is_active(uuid) from public, anon, authenticated, service_role;
grant execute on function private.session_is_active(uuid) to authenticated;
