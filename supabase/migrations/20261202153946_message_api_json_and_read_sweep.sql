-- Made by npm run db:diff from supabase/schemas/; reviewed by hand.
alter table "public"."messages" add column "api_json" text not null default ''::text;

set check_function_bodies = off;

CREATE OR REPLACE FUNCTION private.write_message_api_json()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.api_json := (
    select row_to_json(r)::text
    from (select new.id as id, new.conversation_id as conversation_id, new.role as role, new.content as content,
                 new.model as model, new.prompt_tokens as prompt_tokens, new.completion_tokens as completion_tokens,
                 new.api_key_id as api_key_id, new.status as status, new.error_code as error_code,
                 new.citations as citations,
                 to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at) r);
  return new;
end;
$function$
;

CREATE OR REPLACE FUNCTION private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer)
 RETURNS TABLE(data text)
 LANGUAGE plpgsql
 SET search_path TO ''
 SET jit TO 'off'
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  v_user uuid := private.begin_request(p_claims);
begin
  -- a message whose request died shows failed, not pending forever (the sweeper, for this caller);
  -- only when the caller has a pending message: the sweep is two writing statements, which cost
  -- about what the rest of the read does (expired reservations count for no budget and cron
  -- removes them)
  if exists (select 1 from public.messages m where m.status = 'pending' and m.user_id = v_user) then
    perform private.sweep_stale_exchanges(v_user);
  end if;
  return query
    -- api_json is one object: its closing brace gives way to the messages
    select left(c.api_json, -1) || ',"messages":' || (
             select '[' || coalesce(string_agg(latest.api_json, ',' order by latest.created_at, latest.id), '') || ']'
             from (
               -- read from the index's newest end, whatever the length of the conversation
               select m.created_at, m.id, m.api_json
               from public.messages m
               where m.conversation_id = c.id and m.user_id = v_user
               order by m.created_at desc, m.id desc
               limit p_messages
             ) latest) || '}'
    from public.conversations c
    where c.id = p_conversation_id and c.user_id = v_user;
end;
$function$
;

CREATE OR REPLACE FUNCTION private.list_messages(p_claims text, p_conversation_id uuid, p_limit integer, p_offset integer)
 RETURNS TABLE(total bigint, items integer, data text)
 LANGUAGE plpgsql
 SET search_path TO ''
 SET jit TO 'off'
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  v_user uuid := private.begin_request(p_claims);
begin
  -- the caller's dead exchanges show failed: as in get_conversation
  if exists (select 1 from public.messages m where m.status = 'pending' and m.user_id = v_user) then
    perform private.sweep_stale_exchanges(v_user);
  end if;
  return query
    select c.message_count, count(page.api_json)::integer,
           '[' || coalesce(string_agg(page.api_json, ',' order by page.created_at, page.id), '') || ']'
    from public.conversations c
    left join lateral (
      select m.created_at, m.id, m.api_json
      from public.messages m
      where m.conversation_id = c.id and m.user_id = v_user
      order by m.created_at, m.id
      limit p_limit offset p_offset
    ) page on true
    where c.id = p_conversation_id and c.user_id = v_user
    group by c.id, c.message_count;
end;
$function$
;

CREATE TRIGGER messages_write_api_json BEFORE INSERT OR UPDATE ON public.messages FOR EACH ROW EXECUTE FUNCTION private.write_message_api_json();

COMMENT ON COLUMN public.messages.api_json IS 'The message as the API answers with it (JSON text), written by a trigger on every insert and update.';

REVOKE ALL ON FUNCTION private.write_message_api_json() FROM PUBLIC;

-- Messages stored before this migration: the trigger writes their api_json (on a large table,
-- run this in batches of ids instead).
UPDATE public.messages SET api_json = '' WHERE api_json = '';
