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
    api_json text DEFAULT ''::text NOT NULL, -- the trigger writes it; the default keeps it optional for clients that insert
    CONSTRAINT messages_citations_is_array CHECK ((jsonb_typeof(citations) = 'array'::text)),
    CONSTRAINT messages_completion_tokens_check CHECK ((completion_tokens >= 0)),
    CONSTRAINT messages_content_length CHECK ((char_length(content) <= 100000)),
    CONSTRAINT messages_prompt_tokens_check CHECK ((prompt_tokens >= 0)),
    CONSTRAINT messages_role_check CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text, 'system'::text]))),
    CONSTRAINT messages_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'complete'::text, 'failed'::text])))
);

COMMENT ON COLUMN public.messages.api_json IS 'The message as the API answers with it (JSON text), written by a trigger on every insert and update.';

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

-- A message as the API answers with it (the fields of MESSAGE_COLUMNS, the timestamp as
-- Date.toJSON writes it), kept on the row so that a page of messages is its rows' texts joined.
CREATE FUNCTION private.write_message_api_json() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE TRIGGER messages_write_api_json BEFORE INSERT OR UPDATE ON public.messages FOR EACH ROW EXECUTE FUNCTION private.write_message_api_json();

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

REVOKE ALL ON FUNCTION private.write_message_api_json() FROM PUBLIC;

GRANT SELECT,DELETE ON TABLE public.conversations TO authenticated;

GRANT INSERT(id) ON TABLE public.conversations TO authenticated;

GRANT INSERT(user_id) ON TABLE public.conversations TO authenticated;

GRANT INSERT(title),UPDATE(title) ON TABLE public.conversations TO authenticated;

GRANT INSERT(api_key_id),UPDATE(api_key_id) ON TABLE public.conversations TO authenticated;

GRANT INSERT(model),UPDATE(model) ON TABLE public.conversations TO authenticated;

GRANT INSERT(system_prompt),UPDATE(system_prompt) ON TABLE public.conversations TO authenticated;

GRANT SELECT ON TABLE public.conversation_list TO authenticated;
