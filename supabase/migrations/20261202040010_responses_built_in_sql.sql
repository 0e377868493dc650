-- The one-round-trip reads and create_conversation answer with the response's `data` as one json
-- value that Postgres builds, as PostgREST answers supabase-js; the api function puts its text into
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
-- Everything else is as before (20261127000600, 20261127000700, 20261127001000): plpgsql, the
-- session check of begin_request first, filtered by the caller's id, jit off, one generic plan
-- per connection for the reads, no grant to any API role. The return types change, so each
-- function is dropped and created again.

drop function private.list_conversations(text, integer, integer);
drop function private.list_messages(text, uuid, integer, integer);
drop function private.get_conversation(text, uuid, integer);
drop function private.create_conversation(text, text, uuid, text, text);

-- A page of the caller's conversations, newest activity first: the total, the number on the page,
-- and the page as a json array (empty past the end).
create function private.list_conversations(p_claims text, p_limit integer, p_offset integer)
returns table (total bigint, items integer, data json)
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
           coalesce(array_to_json(array_agg(page.item order by page.last_activity_at desc, page.id desc)), '[]'::json)
    from (
      select c.last_activity_at, c.id, row_to_json(r) as item
      from public.conversations c
      cross join lateral (
        select c.id, c.title, c.api_key_id, c.model, c.system_prompt,
               to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
               to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at,
               c.message_count,
               to_char(c.last_message_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_message_at,
               to_char(c.last_activity_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_activity_at,
               c.preview
      ) r
      where c.user_id = v_user
      order by c.last_activity_at desc, c.id desc
      limit p_limit offset p_offset
    ) page;
end;
$$;

-- A page of one conversation's messages, oldest first: the conversation's message count, the
-- number on the page, and the page as a json array. No row: not the caller's conversation.
create function private.list_messages(p_claims text, p_conversation_id uuid, p_limit integer, p_offset integer)
returns table (total bigint, items integer, data json)
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
           coalesce(array_to_json(array_agg(page.item order by page.created_at, page.id) filter (where page.item is not null)),
                    '[]'::json)
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
-- as one json object (its fields, then `messages`). No row: not the caller's conversation.
create function private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer)
returns table (data json)
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
    select row_to_json(r)
    from public.conversations c
    cross join lateral (
      select c.id, c.title, c.api_key_id, c.model, c.system_prompt,
             to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
             to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at,
             c.message_count,
             to_char(c.last_message_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_message_at,
             to_char(c.last_activity_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_activity_at,
             c.preview,
             (select coalesce(array_to_json(array_agg(latest.item order by latest.created_at, latest.id)), '[]'::json)
              from (
                -- read from the index's newest end, whatever the length of the conversation
                select m.created_at, m.id, row_to_json(mr) as item
                from public.messages m
                cross join lateral (
                  select m.id, m.conversation_id, m.role, m.content, m.model, m.prompt_tokens, m.completion_tokens,
                         m.api_key_id, m.status, m.error_code, m.citations,
                         to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
                ) mr
                where m.conversation_id = c.id and m.user_id = v_user
                order by m.created_at desc, m.id desc
                limit p_messages
              ) latest) as messages
    ) r
    where c.id = p_conversation_id and c.user_id = v_user;
end;
$$;

-- Creates a conversation in one round trip and answers with it as one json object, as the list
-- shows it. A key that is not the caller's is refused by the foreign key (api_key_id, user_id).
create function private.create_conversation(
  p_claims text, p_title text, p_api_key_id uuid, p_model text, p_system_prompt text
)
returns table (data json)
language plpgsql
set search_path = ''
set jit = off
as $$
declare
  v_user uuid := private.begin_request(p_claims);
  v_id uuid;
begin
  insert into public.conversations (title, api_key_id, model, system_prompt)
  values (coalesce(p_title, 'Conversation ' || to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI')),
          p_api_key_id, p_model, p_system_prompt)
  returning conversations.id into v_id;
  return query
    select row_to_json(r)
    from public.conversations c
    cross join lateral (
      select c.id, c.title, c.api_key_id, c.model, c.system_prompt,
             to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
             to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at,
             c.message_count,
             to_char(c.last_message_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_message_at,
             to_char(c.last_activity_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_activity_at,
             c.preview
    ) r
    where c.id = v_id and c.user_id = v_user;
end;
$$;

revoke all on function private.list_conversations(text, integer, integer), private.list_messages(text, uuid, integer, integer),
  private.get_conversation(text, uuid, integer), private.create_conversation(text, text, uuid, text, text)
  from public, anon, authenticated, service_role;
