-- The one-round-trip reads and create_conversation answer with the response's `data` as JSON
-- text that Postgres builds, as PostgREST answers supabase-js; the api function puts its text into
-- the envelope unparsed. Parsing rows into objects only to serialise them again was most of the
-- function's CPU on these routes.
--
-- The JSON is exactly what the function sent when it serialised rows itself (postgres.js, then
-- JSON.stringify): the same fields in the same order (row_to_json of a row with the route's
-- columns), compact (row_to_json and array_to_json put no spaces between fields or items, unlike
-- json_build_object and json_agg), strings escaped the same way, and timestamps as JavaScript's
-- Date.toJSON writes them: UTC, milliseconds (truncated, as Date parses them), a trailing Z.
-- `citations` is stored as jsonb and embedded as jsonb writes it: the same values, with a space
-- after each comma and colon. tests/api/bodies-built-in-sql.test.ts compares the bodies field by
-- field with those the function answered before.
--
-- A conversation's JSON is kept on its row (api_json, written by a trigger whenever the row is
-- written), so a page of the list is its rows' texts joined: building it field by field
-- (row_to_json) on every read cost Postgres about as much CPU as the function saved by not
-- serialising. Messages are built on each read. A write with triggers off (session_replication_role
-- = replica) would leave api_json behind its row; nothing here writes that way.
--
-- begin_request also sets request.jwt.claim.sub, which auth.uid() reads before it parses the
-- claims: every policy and check of the request called it, parsing the whole token's claims each
-- time.
--
-- Everything else is as before (20261127000600, 20261127000700, 20261127001000): plpgsql, the
-- session check of begin_request first, filtered by the caller's id, jit off, one generic plan
-- per connection for the reads, no grant to any API role. The return types change, so each
-- function is dropped and created again.

drop function private.list_conversations(text, integer, integer);
drop function private.list_messages(text, uuid, integer, integer);
drop function private.get_conversation(text, uuid, integer);
drop function private.create_conversation(text, text, uuid, text, text);

-- The conversation as the API shows it, as JSON text, kept on the row by the trigger below.
alter table public.conversations add column api_json text;
comment on column public.conversations.api_json is
  'The conversation as the API answers with it (JSON text), written by a trigger on every insert and update.';

-- Fires after conversations_set_updated_at (triggers of a kind fire in name order), so it sees
-- the updated_at that trigger sets. last_activity_at is a stored generated column, computed
-- only after BEFORE triggers: its expression is repeated here.
create function private.write_conversation_api_json()
returns trigger
language plpgsql
set search_path = ''
as $$
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
revoke all on function private.write_conversation_api_json() from public, anon, authenticated, service_role;

create trigger conversations_write_api_json
  before insert or update on public.conversations
  for each row execute function private.write_conversation_api_json();

-- The rows there are: the trigger writes each one's JSON (conversations_set_updated_at does not
-- fire: api_json is not a column it watches).
update public.conversations set api_json = '';
alter table public.conversations alter column api_json set not null;

create or replace function private.begin_request(p_claims text)
returns uuid
language plpgsql
set search_path = ''
as $$
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

-- A page of the caller's conversations, newest activity first: the total, the number on the page,
-- and the page as JSON text (an array; empty past the end).
create function private.list_conversations(p_claims text, p_limit integer, p_offset integer)
returns table (total bigint, items integer, data text)
language plpgsql
set search_path = ''
set jit = off
set plan_cache_mode = force_generic_plan
as $$
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
create function private.list_messages(p_claims text, p_conversation_id uuid, p_limit integer, p_offset integer)
returns table (total bigint, items integer, data text)
language plpgsql
set search_path = ''
set jit = off
set plan_cache_mode = force_generic_plan
as $$
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

-- GET /conversations/{id}: the conversation with its latest p_messages messages, oldest first,
-- as JSON text (its fields, then `messages`). No row: not the caller's conversation.
create function private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer)
returns table (data text)
language plpgsql
set search_path = ''
set jit = off
set plan_cache_mode = force_generic_plan
as $$
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

-- Creates a conversation in one round trip and answers with it as JSON text, as the list shows
-- it. A key that is not the caller's is refused by the foreign key (api_key_id, user_id).
create function private.create_conversation(
  p_claims text, p_title text, p_api_key_id uuid, p_model text, p_system_prompt text
)
returns table (data text)
language plpgsql
set search_path = ''
set jit = off
as $$
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

revoke all on function private.list_conversations(text, integer, integer), private.list_messages(text, uuid, integer, integer),
  private.get_conversation(text, uuid, integer), private.create_conversation(text, text, uuid, text, text)
  from public, anon, authenticated, service_role;
