-- One round trip per read.
-- The api function's reads are one statement each: a function that takes the verified token's
-- claims, becomes the caller as PostgREST does (role authenticated, request.jwt.claims), checks
-- the session still exists, and runs the query, filtered explicitly by the caller's id (RLS
-- stays the guarantee). plpgsql plans each query when it first runs, after the role is set, so
-- row-level security applies to it; a `language sql` body would be rewritten before.
--
-- They are not security definer (a security definer function may not change role): the
-- function's database user (postgres) calls them. Nobody else may: with EXECUTE, anyone could
-- pass claims of their choosing.
--
-- jit = off on each: these queries read a page through an index, and a table-wide estimate
-- (one heavy user) must not make Postgres compile them. plan_cache_mode = force_generic_plan:
-- once one user holds most rows, the generic plan's estimate (rows per user on average) stays
-- far from a small user's, so plpgsql kept planning each call anew (custom plans); the plan is
-- the same index read whatever the user, so it is planned once per connection (figures:
-- docs/performance.md).
-- Set on the function, they hold for every caller and connection (a pooler in transaction mode
-- does not pass startup options, and a role's settings do not apply after SET ROLE).

-- Becomes the caller for the rest of the transaction (p_claims: the verified token's claims as
-- JSON text, what request.jwt.claims holds); returns their id. Raises PT401 when the
-- token's session has ended (logout), which the api function answers with 401.
create or replace function private.begin_request(p_claims text)
returns uuid
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims', p_claims, true);
  if not coalesce(private.session_is_active((p_claims::jsonb ->> 'session_id')::uuid), false) then
    raise exception 'session ended' using errcode = 'PT401';
  end if;
  return (p_claims::jsonb ->> 'sub')::uuid;
end;
$$;

-- A page of the caller's conversations, newest activity first. `total` is on every row; an
-- empty page (offset past the end) is one row with only `total`.
create or replace function private.list_conversations(p_claims text, p_limit integer, p_offset integer)
returns table (
  total bigint, id uuid, title text, api_key_id uuid, model text, system_prompt text, created_at timestamptz,
  updated_at timestamptz, message_count bigint, last_message_at timestamptz, last_activity_at timestamptz, preview text
)
language plpgsql
set search_path = ''
set jit = off
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
  v_total bigint := private.my_conversation_count(); -- once, not on every row of the page
begin
  return query
    select v_total, c.id, c.title, c.api_key_id, c.model, c.system_prompt, c.created_at,
           c.updated_at, c.message_count, c.last_message_at, c.last_activity_at, c.preview
    from (select 1) one
    left join lateral (
      select * from public.conversations c
      where c.user_id = v_user
      order by c.last_activity_at desc, c.id desc
      limit p_limit offset p_offset
    ) c on true;
end;
$$;

revoke all on function private.begin_request(text), private.list_conversations(text, integer, integer)
  from public, anon, authenticated, service_role;
