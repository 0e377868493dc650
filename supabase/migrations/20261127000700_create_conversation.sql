-- Creating a conversation in one round trip, like the reads (20261127000600_read_functions.sql):
-- become the caller, check the session, insert, return the row. One statement also means the
-- lock the insert's trigger takes on the connection's slot of the caller's conversation count
-- (private.conversation_counts) is not held across a COMMIT round trip.
-- A key that is not the caller's is refused by the foreign key (api_key_id, user_id).
create or replace function private.create_conversation(
  p_claims text, p_title text, p_api_key_id uuid, p_model text, p_system_prompt text
)
returns table (
  id uuid, title text, api_key_id uuid, model text, system_prompt text, created_at timestamptz,
  updated_at timestamptz, message_count bigint, last_message_at timestamptz, last_activity_at timestamptz, preview text
)
language plpgsql
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
  v_id uuid;
begin
  insert into public.conversations (title, api_key_id, model, system_prompt)
  values (coalesce(p_title, 'Conversation ' || to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI')),
          p_api_key_id, p_model, p_system_prompt)
  returning conversations.id into v_id;
  return query
    select c.id, c.title, c.api_key_id, c.model, c.system_prompt, c.created_at, c.updated_at, c.message_count,
           c.last_message_at, c.last_activity_at, c.preview
    from public.conversations c
    where c.id = v_id and c.user_id = v_user;
end;
$$;

revoke all on function private.create_conversation(text, text, uuid, text, text) from public, anon, authenticated, service_role;
