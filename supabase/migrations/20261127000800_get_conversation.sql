-- GET /conversations/{id} in one round trip, like the other reads (20261127000200_read_functions.sql):
-- the conversation and its latest p_messages messages, oldest first, one row per message with the
-- conversation's columns on each (msg_* are the message's). An empty conversation is one row
-- with msg_id null; not the caller's conversation, no row.
create or replace function private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer)
returns table (
  id uuid, title text, api_key_id uuid, model text, system_prompt text, created_at timestamptz,
  updated_at timestamptz, message_count bigint, last_message_at timestamptz, last_activity_at timestamptz, preview text,
  msg_id uuid, msg_conversation_id uuid, msg_role text, msg_content text, msg_model text, msg_prompt_tokens integer,
  msg_completion_tokens integer, msg_api_key_id uuid, msg_status text, msg_error_code text, msg_created_at timestamptz
)
language plpgsql
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
begin
  -- a message whose request died shows failed, not pending forever (the sweeper, for this caller)
  perform private.sweep_stale_exchanges(v_user);
  return query
    select c.id, c.title, c.api_key_id, c.model, c.system_prompt, c.created_at, c.updated_at, c.message_count,
           c.last_message_at, c.last_activity_at, c.preview,
           m.id, m.conversation_id, m.role, m.content, m.model, m.prompt_tokens, m.completion_tokens, m.api_key_id,
           m.status, m.error_code, m.created_at
    from public.conversations c
    left join lateral (
      -- read from the index's newest end, whatever the length of the conversation
      select * from public.messages m
      where m.conversation_id = c.id and m.user_id = v_user
      order by m.created_at desc, m.id desc
      limit p_messages
    ) m on true
    where c.id = p_conversation_id and c.user_id = v_user
    order by m.created_at, m.id;
end;
$$;

revoke all on function private.get_conversation(text, uuid, integer) from public, anon, authenticated, service_role;
