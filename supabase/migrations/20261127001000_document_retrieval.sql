-- Documents attached to conversations, hybrid retrieval over their chunks, and citations on
-- answers.

create table public.conversation_documents (
  conversation_id uuid not null,
  document_id uuid not null,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (conversation_id, document_id),
  -- Both must be the same user's: a client writing this table directly cannot attach another
  -- user's document or attach to another user's conversation.
  constraint conversation_documents_conversation_id_user_id_fkey foreign key (conversation_id, user_id)
    references public.conversations (id, user_id) on delete cascade,
  constraint conversation_documents_document_id_user_id_fkey foreign key (document_id, user_id)
    references public.documents (id, user_id) on delete cascade
);
create index conversation_documents_conversation_id_user_id_idx on public.conversation_documents (conversation_id, user_id);
create index conversation_documents_document_id_user_id_idx on public.conversation_documents (document_id, user_id);
create index conversation_documents_user_id_idx on public.conversation_documents (user_id);

alter table public.conversation_documents enable row level security;
revoke all on table public.conversation_documents from anon, authenticated, service_role;
grant select, delete on table public.conversation_documents to authenticated;
grant insert (conversation_id, document_id, user_id) on table public.conversation_documents to authenticated;

create policy "conversation_documents: owner can select"
  on public.conversation_documents for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "conversation_documents: owner can insert"
  on public.conversation_documents for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "conversation_documents: owner can delete"
  on public.conversation_documents for delete to authenticated
  using ((select auth.uid()) = user_id);

-- Citations of an answer: [{document_id, page, quote, chunk_id, filename}], every quote
-- verbatim from the stored page text (checked by the api function before storing).
alter table public.messages add column citations jsonb not null default '[]'::jsonb
  constraint messages_citations_is_array check (jsonb_typeof(citations) = 'array');
create index messages_citations_idx on public.messages using gin (citations jsonb_path_ops);

-- Whether every citation quotes, verbatim, the stored text of the page it names, of one of the
-- user's documents. The api function repairs or drops quotes before storing; this keeps it so.
create function private.citations_quote_their_pages(p_user_id uuid, p_citations jsonb)
returns boolean
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_typeof(p_citations) = 'array' and not exists (
    select 1 from pg_catalog.jsonb_array_elements(p_citations) c
    where not exists (
      select 1 from public.document_pages p
      where p.document_id = (c->>'document_id')::uuid and p.user_id = p_user_id
        and p.page_number = (c->>'page')::integer
        and pg_catalog.length(c->>'quote') > 0 and pg_catalog.strpos(p.text, c->>'quote') > 0));
$$;
revoke all on function private.citations_quote_their_pages(uuid, jsonb) from public, anon, authenticated, service_role;

-- Answers are stored only through private.store_answer (20261127004000), which takes their
-- citations and refuses one whose quote is not in its page (citations_quote_their_pages).

-- With no key at all, a question about a conversation's documents is answered extractively (the
-- best passages with their pages): the question and that answer are stored together, with no
-- provider and no usage. Clients cannot insert messages, so this is the way in for the api function.
create function private.store_extractive_exchange(p_conversation_id uuid, p_question text, p_answer text, p_citations jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_question public.messages;
  v_answer public.messages;
begin
  if v_user_id is null then
    raise exception 'store_extractive_exchange needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  if not exists (select 1 from public.conversations c where c.id = p_conversation_id and c.user_id = v_user_id) then
    raise exception 'conversation % not found', p_conversation_id using errcode = 'no_data_found';
  end if;
  if not private.citations_quote_their_pages(v_user_id, p_citations) then
    raise exception 'a citation does not quote its page' using errcode = 'check_violation';
  end if;
  insert into public.messages (conversation_id, user_id, role, content)
  values (p_conversation_id, v_user_id, 'user', p_question)
  returning * into v_question;
  insert into public.messages (conversation_id, user_id, role, content, model, citations)
  values (p_conversation_id, v_user_id, 'assistant', p_answer, 'extractive', p_citations)
  returning * into v_answer;
  return jsonb_build_object('user_message_id', v_question.id, 'assistant_message_id', v_answer.id);
end;
$$;
revoke all on function private.store_extractive_exchange(uuid, text, text, jsonb) from public, anon, authenticated, service_role;
grant execute on function private.store_extractive_exchange(uuid, text, text, jsonb) to authenticated;

-- The one-statement reads of messages, like those of 20261127000600_read_functions.sql (claims,
-- session check, filtered by the caller's id, jit off, one plan per connection), with citations.

-- A page of one conversation's messages, oldest first. No row: not the caller's conversation.
-- `total` is on every row; an empty page is one row with only `total`.
create function private.list_messages(p_claims text, p_conversation_id uuid, p_limit integer, p_offset integer)
returns table (
  total bigint, id uuid, conversation_id uuid, role text, content text, model text, prompt_tokens integer,
  completion_tokens integer, api_key_id uuid, status text, error_code text, citations jsonb, created_at timestamptz
)
language plpgsql
set search_path = ''
set jit = off
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
begin
  -- a message whose request died shows failed, not pending forever (the sweeper, for this caller)
  perform private.sweep_stale_exchanges(v_user);
  return query
    select c.message_count, m.id, m.conversation_id, m.role, m.content, m.model, m.prompt_tokens, m.completion_tokens,
           m.api_key_id, m.status, m.error_code, m.citations, m.created_at
    from public.conversations c
    left join lateral (
      select * from public.messages m
      where m.conversation_id = c.id and m.user_id = v_user
      order by m.created_at, m.id
      limit p_limit offset p_offset
    ) m on true
    where c.id = p_conversation_id and c.user_id = v_user;
end;
$$;
revoke all on function private.list_messages(text, uuid, integer, integer) from public, anon, authenticated, service_role;

-- GET /conversations/{id} in one round trip:
-- the conversation and its latest p_messages messages, oldest first, one row per message with the
-- conversation's columns on each (msg_* are the message's). An empty conversation is one row
-- with msg_id null; not the caller's conversation, no row.
create function private.get_conversation(p_claims text, p_conversation_id uuid, p_messages integer)
returns table (
  id uuid, title text, api_key_id uuid, model text, system_prompt text, created_at timestamptz,
  updated_at timestamptz, message_count bigint, last_message_at timestamptz, last_activity_at timestamptz, preview text,
  msg_id uuid, msg_conversation_id uuid, msg_role text, msg_content text, msg_model text, msg_prompt_tokens integer,
  msg_completion_tokens integer, msg_api_key_id uuid, msg_status text, msg_error_code text, msg_citations jsonb, msg_created_at timestamptz
)
language plpgsql
set search_path = ''
set jit = off
set plan_cache_mode = force_generic_plan
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
           m.status, m.error_code, m.citations, m.created_at
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

-- A deleted document's citations keep their quote and page and say the document is gone.
create or replace function private.mark_citations_of_deleted_document()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.messages m
    set citations = (
      select pg_catalog.jsonb_agg(
        case when c->>'document_id' = old.id::text
          then c || '{"document_deleted": true, "chunk_id": null}'::jsonb
          else c end order by ord)
      from pg_catalog.jsonb_array_elements(m.citations) with ordinality as e(c, ord))
    where m.user_id = old.user_id
      and m.citations @> pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('document_id', old.id));
  return null;
end;
$$;
revoke all on function private.mark_citations_of_deleted_document() from public, anon, authenticated, service_role;

create trigger documents_mark_citations
  after delete on public.documents
  for each row execute function private.mark_citations_of_deleted_document();

-- Hybrid retrieval for one conversation, three ranked lists fused by reciprocal rank (k = 60):
--   full text   websearch syntax; all words first, and when that finds fewer than 40 chunks,
--               any of them (a natural question rarely has all its words in one passage);
--   trigram     the forms of the question's words that the documents use but the question
--               does not (pg_trgm similarity on the user's words: keepers -> keeper, Korean
--               words with other particles), then full text on those forms;
--   vector      cosine distance to the question's embedding, when there is one (HNSW).
-- Each list comes from its own index (GIN on search_vector, GIN trigram on the words, HNSW);
-- at most 500 matches of a list are ranked, so a question of common words stays fast.
-- Security definer, in private, checking ownership itself: only the caller's conversation, its
-- attached documents (which the foreign keys make the caller's) and the caller's words. Under
-- row-level security the planner may not use an index for `@@` or `%` (they are not leakproof,
-- so they run only after the policy's filter), which turns every search into a scan of all the
-- user's chunks; here they are index conditions.
create or replace function private.search_conversation_chunks(
  p_conversation_id uuid,
  p_query text,
  p_query_embedding extensions.vector(1536) default null,
  p_match_count integer default 8
)
returns table (
  chunk_id bigint,
  document_id uuid,
  page_number integer,
  start_offset integer,
  end_offset integer,
  content text,
  score double precision,
  fulltext_rank integer,
  trigram_rank integer,
  vector_rank integer
)
language sql
stable
security definer
set search_path = ''
set pg_trgm.similarity_threshold = 0.4
set hnsw.ef_search = 100
set hnsw.iterative_scan = relaxed_order
as $$
  with docs as (
    select cd.document_id
    from public.conversation_documents cd
    where cd.conversation_id = p_conversation_id and cd.user_id = (select auth.uid())
  ),
  q as (
    select tsq as tsq_all,
           pg_catalog.replace(tsq::text, ' & ', ' | ')::tsquery as tsq_any,
           pg_catalog.tsvector_to_array(pg_catalog.to_tsvector('private.document_text'::regconfig, p_query)) as words
    from (select pg_catalog.websearch_to_tsquery('private.document_text'::regconfig, p_query) as tsq) w
  ),
  -- Scalar subqueries (not joins) for the queries, so each is a parameter of an index condition.
  all_words as (
    select c.id, pg_catalog.ts_rank_cd(c.search_vector, (select tsq_all from q)) as rank
    from (select c.id, c.search_vector from public.document_chunks c
          where c.search_vector @@ (select tsq_all from q) and c.document_id in (select document_id from docs)
          limit 500) c
    order by 2 desc, 1
    limit 40
  ),
  any_word as (
    select c.id, pg_catalog.ts_rank_cd(c.search_vector, (select tsq_any from q)) as rank
    from (select c.id, c.search_vector from public.document_chunks c
          where (select count(*) from all_words) < 40
            and c.search_vector @@ (select tsq_any from q) and c.document_id in (select document_id from docs)
          limit 500) c
    order by 2 desc, 1
    limit 40
  ),
  fulltext as (
    select id, pg_catalog.row_number() over (order by tier, rank desc, id) as rank
    from (select id, 0 as tier, rank from all_words
          union all
          select id, 1, rank from any_word where id not in (select id from all_words)) f
    order by tier, rank desc, id
    limit 40
  ),
  variants as (
    select pg_catalog.to_tsquery('private.document_text'::regconfig,
             pg_catalog.string_agg(pg_catalog.quote_literal(v.term), ' | ')) as tsq
    from q, pg_catalog.unnest(q.words) as w(word),
    lateral (
      select t.term
      from public.user_search_terms t
      where t.user_id = (select auth.uid()) and t.term operator(extensions.%) w.word and t.term <> all (q.words)
      order by extensions.similarity(t.term, w.word) desc, t.term
      limit 3
    ) v
  ),
  trigram as (
    select c.id, pg_catalog.row_number() over (order by pg_catalog.ts_rank_cd(c.search_vector, (select tsq from variants)) desc, c.id) as rank
    from (select c.id, c.search_vector from public.document_chunks c
          where c.search_vector @@ (select tsq from variants) and c.document_id in (select document_id from docs)
          limit 500) c
    order by 2
    limit 40
  ),
  nearest as (
    select c.id, pg_catalog.row_number() over () as rank
    from (
      select c.id
      from public.document_chunks c
      where p_query_embedding is not null
        and c.embedding is not null
        and c.document_id in (select document_id from docs)
      order by c.embedding operator(extensions.<=>) p_query_embedding
      limit 40
    ) c
  ),
  fused as (
    select coalesce(f.id, t.id, n.id) as id, f.rank as f_rank, t.rank as t_rank, n.rank as n_rank,
           coalesce(1.0 / (60 + f.rank), 0) + coalesce(1.0 / (60 + t.rank), 0) + coalesce(1.0 / (60 + n.rank), 0) as score
    from fulltext f
    full join trigram t on t.id = f.id
    full join nearest n on n.id = coalesce(f.id, t.id)
    order by score desc, id
    limit least(greatest(p_match_count, 1), 50)
  )
  -- The winners' rows, each by its primary key.
  select c.id, c.document_id, c.page_number, c.start_offset, c.end_offset, c.content,
         fused.score::double precision, fused.f_rank::integer, fused.t_rank::integer, fused.n_rank::integer
  from fused
  cross join lateral (select * from public.document_chunks c where c.id = fused.id) c
  order by fused.score desc, c.id;
$$;
revoke all on function private.search_conversation_chunks(uuid, text, extensions.vector, integer) from public, anon, authenticated, service_role;
grant execute on function private.search_conversation_chunks(uuid, text, extensions.vector, integer) to authenticated;

-- Embeddings are billed like chat: input tokens only.
insert into public.model_prices (provider, model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, valid_from)
values ('openai', 'text-embedding-3-small', 0.02, 0, 0, '2025-01-01T00:00:00Z');

-- Direct supabase-js uploads obey the same size limit as POST /api/v1/documents (DOCUMENT_MAX_BYTES).
update storage.buckets set file_size_limit = 25 * 1024 * 1024 where id = 'documents';
