-- One SQL API per lifecycle: the ingest worker and the api function call these functions and
-- write no private table themselves.
--
-- The ingest job: claimed by private.claim_ingest_job (unchanged); then under its lease token
-- the worker moves it on (progress), finishes it, hands it back to be retried after a failure
-- (retry) or untouched when its time is spent (release), or fails it (fail, which can fail the
-- document with it). A token that no longer holds the lease changes nothing.
--
-- The exchange: prepare (private.prepare_exchange, which now also returns the owner's OpenAI key
-- when documents are attached), ground (private.ground_question: settles the question's
-- embedding call and searches, one statement), begin (private.begin_exchange_as), store
-- (private.store_answer) and fail (private.fail_exchange).
--
-- The owner's OpenAI key (to embed with) is one query, private.owner_openai_key, used by both.

-- ---- the owner's OpenAI key ----------------------------------------------------------------

-- The key to embed with: the selected one if it is OpenAI's, else the most recently used valid
-- OpenAI key. The worker (the functions' own database user, postgres, with no other role set)
-- may ask for any owner; any other role (a caller as authenticated) only for themself.
create or replace function private.owner_openai_key(p_user_id uuid)
returns table (id uuid, ciphertext text)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  if pg_catalog.current_setting('role') not in ('none', 'postgres') and p_user_id is distinct from (select auth.uid()) then
    return;
  end if;
  return query
    select k.id, k.secret_ciphertext
    from public.api_keys k
    where k.user_id = p_user_id and k.provider = 'openai' and k.is_valid
    order by k.is_selected desc, k.last_used_at desc nulls last, k.created_at desc
    limit 1;
end;
$$;
revoke all on function private.owner_openai_key(uuid) from public, anon, authenticated, service_role;
grant execute on function private.owner_openai_key(uuid) to authenticated;

-- ---- the ingest job ------------------------------------------------------------------------

-- Progress under the lease: the lease is extended and (for an ingestion) the resume point moved.
-- Run first in the transaction that stores a batch: it locks the job, so the batch commits only
-- while its worker holds the lease. False (nothing changed) when the lease was lost.
create or replace function private.progress_ingest_job(
  p_document_id uuid, p_lease_token uuid, p_lease_seconds integer, p_next_page integer default null
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update private.ingest_jobs j
    set next_page = coalesce(p_next_page, j.next_page),
        lease_until = now() + pg_catalog.make_interval(secs => p_lease_seconds)
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- Done: every page stored (or every chunk embedded). False when the lease was lost.
create or replace function private.finish_ingest_job(p_document_id uuid, p_lease_token uuid)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update private.ingest_jobs j set status = 'done', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- Handed back untouched (the worker's time is spent), so the next call takes it at once.
create or replace function private.release_ingest_job(p_document_id uuid, p_lease_token uuid)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update private.ingest_jobs j set status = 'queued', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- A failure that may pass: counted, its reason kept, the job queued for a later call. Returns
-- the failures so far (the caller gives up at its limit); null when the lease was lost.
create or replace function private.retry_ingest_job(p_document_id uuid, p_lease_token uuid, p_reason text)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_failures integer;
begin
  update private.ingest_jobs j
    set failures = j.failures + 1, last_error = p_reason, status = 'queued', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token
  returning j.failures into v_failures;
  return v_failures;
end;
$$;

-- Given up: the job fails with its reason, whoever holds it (after the last retry the lease is
-- already gone). With p_document_failure the document fails too, showing that reason; with
-- p_duplicate_of it is named the duplicate of that document and takes its content hash.
create or replace function private.fail_ingest_job(
  p_document_id uuid, p_reason text, p_document_failure text default null, p_duplicate_of uuid default null
)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  update private.ingest_jobs j set status = 'failed', last_error = p_reason, lease_token = null, lease_until = null
  where j.document_id = p_document_id;
  if p_document_failure is not null then
    update public.documents d
      set status = 'failed', failure_reason = p_document_failure, duplicate_of = p_duplicate_of,
          content_sha256 = case when p_duplicate_of is null then d.content_sha256
                                else (select o.content_sha256 from public.documents o where o.id = p_duplicate_of) end
    where d.id = p_document_id;
  end if;
end;
$$;

revoke all on function private.progress_ingest_job(uuid, uuid, integer, integer), private.finish_ingest_job(uuid, uuid),
  private.release_ingest_job(uuid, uuid), private.retry_ingest_job(uuid, uuid, text),
  private.fail_ingest_job(uuid, text, text, uuid)
  from public, anon, authenticated, service_role;

-- ---- the exchange --------------------------------------------------------------------------

-- As 20261127004000, and with documents attached also the owner's OpenAI key to embed the
-- question with (private.owner_openai_key), so grounding needs no statement of its own for it.
drop function private.prepare_exchange(text, uuid, integer);
create function private.prepare_exchange(p_claims text, p_conversation_id uuid, p_history_limit integer)
returns table (
  api_key_id uuid, model text, system_prompt text, documents_attached boolean,
  key_id uuid, key_provider text, key_is_valid boolean, key_ciphertext text, history jsonb,
  embedding_key_id uuid, embedding_key_ciphertext text
)
language plpgsql
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
begin
  return query
    select c.api_key_id, c.model, c.system_prompt, c.documents_attached,
           k.id, k.provider, k.is_valid, case when k.id is not null then private.api_key_secret(k.id) end,
           coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('role', h.role, 'content', h.content)
                                                 order by h.created_at, h.id)
                     from (select m.role, m.content, m.created_at, m.id from public.messages m
                           -- (select v_user): an estimate that does not depend on the user, so a user
                           -- newer than the statistics still reads the conversation's index backwards
                           -- rather than all of their messages
                           where m.conversation_id = p_conversation_id and m.user_id = (select v_user)
                             and m.status = 'complete' and m.role <> 'system'
                           order by m.created_at desc, m.id desc limit p_history_limit) h),
                    '[]'::jsonb),
           e.id, e.ciphertext
    from (select c.id, c.api_key_id, c.model, c.system_prompt,
                 exists (select 1 from public.conversation_documents d where d.conversation_id = c.id and d.user_id = v_user)
                   as documents_attached
          from public.conversations c
          where c.id = p_conversation_id and c.user_id = v_user) c
    left join public.api_keys k
      on k.user_id = v_user
     and k.id = coalesce(c.api_key_id, (select s.id from public.api_keys s where s.user_id = v_user and s.is_selected))
    left join lateral private.owner_openai_key(case when c.documents_attached then v_user end) e on true;
end;
$$;
revoke all on function private.prepare_exchange(text, uuid, integer) from public, anon, authenticated, service_role;

-- Grounding a question, one statement as the caller of p_claims (session checked): the
-- settlement of its embedding call when there was one (private.settle_embedding, with
-- p_reservation_id), then the passages of the conversation's documents that answer it best,
-- with their documents' filenames and their whole pages' text (private.search_conversation_chunks:
-- lexical, and by vector too with p_embedding).
create or replace function private.ground_question(
  p_claims text,
  p_conversation_id uuid,
  p_question text,
  p_embedding extensions.vector,
  p_match_count integer,
  p_embedding_model text,
  p_reservation_id uuid default null,
  p_api_key_id uuid default null,
  p_prompt_tokens integer default null,
  p_usage_source text default null,
  p_latency_ms integer default null,
  p_error_code text default null
)
returns table (
  chunk_id bigint, document_id uuid, filename text, page integer, start_offset integer, end_offset integer,
  content text, page_text text
)
language plpgsql
volatile
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
begin
  perform private.begin_request(p_claims);
  if p_reservation_id is not null then
    perform private.settle_embedding(p_reservation_id, p_api_key_id, p_embedding_model, p_prompt_tokens, p_usage_source,
                                     p_latency_ms, p_error_code);
  end if;
  return query
    select s.chunk_id, s.document_id, d.filename, s.page_number, s.start_offset, s.end_offset, s.content, p.text
    from private.search_conversation_chunks(p_conversation_id, p_question, p_embedding, p_match_count, p_embedding_model) s
    join public.documents d on d.id = s.document_id
    join public.document_pages p on p.document_id = s.document_id and p.page_number = s.page_number
    order by s.score desc, s.chunk_id;
end;
$$;
revoke all on function private.ground_question(text, uuid, text, extensions.vector, integer, text, uuid, uuid, integer, text, integer, text)
  from public, anon, authenticated, service_role;

-- ---- one statement as a user, without the session check -------------------------------------

-- What asUser in _shared/db.ts does in a transaction of its own (role authenticated and the
-- claims, for the statement's own transaction), as the first item of one statement's FROM:
-- `select private.store_answer(...) from private.act_as($claims)`. For the calls that must work
-- after the session ended (an answer or a failure to record, an embedding call to reserve or
-- settle, the worker acting for a document's owner); only the functions' database user may call it.
create or replace function private.act_as(p_claims text)
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_user uuid := (p_claims::jsonb ->> 'sub')::uuid;
begin
  perform set_config('role', 'authenticated', true), set_config('request.jwt.claims', p_claims, true),
          set_config('request.jwt.claim.sub', v_user::text, true);
  return v_user;
end;
$$;
revoke all on function private.act_as(text) from public, anon, authenticated, service_role;
