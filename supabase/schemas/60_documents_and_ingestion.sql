-- Documents and their ingestion
--
-- The Storage object is the source of truth: a trigger on storage.objects (bucket
-- `documents`) makes the documents row and queues an ingest job; pg_net calls the `ingest`
-- function, which extracts pages, chunks and embeddings. pg_cron picks up what a kick missed.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Tables
-- ==============================================================================================

-- One uploaded PDF, made by the trigger on storage.objects; the ingest worker fills in the rest.
CREATE TABLE public.documents (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    object_path text NOT NULL,
    filename text NOT NULL,
    size_bytes bigint,
    content_sha256 text,
    status text DEFAULT 'queued'::text NOT NULL,
    failure_reason text,
    duplicate_of uuid,
    pages_total integer,
    pages_done integer DEFAULT 0 NOT NULL,
    pages_without_text integer DEFAULT 0 NOT NULL,
    chunk_count integer DEFAULT 0 NOT NULL,
    embedding_model text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    ready_at timestamp with time zone,
    embeddings_skipped text,
    CONSTRAINT documents_content_sha256_check CHECK ((content_sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT documents_embeddings_skipped_check CHECK ((embeddings_skipped = 'budget'::text)),
    CONSTRAINT documents_failed_has_reason CHECK (((status <> 'failed'::text) OR (failure_reason IS NOT NULL))),
    CONSTRAINT documents_filename_length CHECK (((char_length(filename) >= 1) AND (char_length(filename) <= 255))),
    CONSTRAINT documents_pages_done_check CHECK (((pages_done >= 0) AND ((pages_total IS NULL) OR (pages_done <= pages_total)))),
    CONSTRAINT documents_pages_total_check CHECK ((pages_total >= 0)),
    CONSTRAINT documents_size_bytes_check CHECK ((size_bytes >= 0)),
    CONSTRAINT documents_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'processing'::text, 'ready'::text, 'failed'::text])))
);

COMMENT ON TABLE public.documents IS 'One uploaded PDF. Rows come from the trigger on storage.objects; the ingest worker fills in the rest.';

-- The text of each page, as extracted (has_text: any text was found on it).
CREATE TABLE public.document_pages (
    document_id uuid NOT NULL,
    user_id uuid NOT NULL,
    page_number integer NOT NULL,
    text text NOT NULL,
    has_text boolean NOT NULL,
    CONSTRAINT document_pages_page_number_check CHECK ((page_number >= 1))
);

-- The passages retrieval searches: a page's text in pieces (offsets into the page's text),
-- each with its embedding once a model has embedded it.
CREATE TABLE public.document_chunks (
    id bigint NOT NULL,
    document_id uuid NOT NULL,
    user_id uuid NOT NULL,
    page_number integer NOT NULL,
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    content text NOT NULL,
    embedding extensions.vector(1536),
    embedding_model text,
    CONSTRAINT document_chunks_embedding_has_model CHECK (((embedding IS NULL) = (embedding_model IS NULL))),
    CONSTRAINT document_chunks_offsets_check CHECK (((start_offset >= 0) AND (end_offset > start_offset)))
);

ALTER TABLE public.document_chunks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.document_chunks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- The documents attached to a conversation: the ones its questions are answered from.
CREATE TABLE public.conversation_documents (
    conversation_id uuid NOT NULL,
    document_id uuid NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

-- Ingestion jobs: one per document, claimed with `for update skip locked` and held by a lease,
-- so two workers never process one document and a worker that dies is replaced when its lease
-- runs out. next_page is the resume point: every batch commits its pages and moves it on.
CREATE TABLE private.ingest_jobs (
    document_id uuid NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    next_page integer DEFAULT 1 NOT NULL,
    failures integer DEFAULT 0 NOT NULL,
    last_error text,
    lease_token uuid,
    lease_until timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    kind text DEFAULT 'ingest'::text NOT NULL,
    embedding_model text,
    CONSTRAINT ingest_jobs_kind_check CHECK ((kind = ANY (ARRAY['ingest'::text, 'embed'::text]))),
    CONSTRAINT ingest_jobs_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'running'::text, 'done'::text, 'failed'::text])))
);

-- ==============================================================================================
-- Constraints
-- ==============================================================================================

ALTER TABLE ONLY private.ingest_jobs
    ADD CONSTRAINT ingest_jobs_pkey PRIMARY KEY (document_id);

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_pkey PRIMARY KEY (conversation_id, document_id);

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.document_pages
    ADD CONSTRAINT document_pages_pkey PRIMARY KEY (document_id, page_number);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_id_user_id_key UNIQUE (id, user_id);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_object_path_key UNIQUE (object_path);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY private.ingest_jobs
    ADD CONSTRAINT ingest_jobs_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_conversation_id_user_id_fkey FOREIGN KEY (conversation_id, user_id) REFERENCES public.conversations(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_document_id_user_id_fkey FOREIGN KEY (document_id, user_id) REFERENCES public.documents(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.conversation_documents
    ADD CONSTRAINT conversation_documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_user_id_fkey FOREIGN KEY (document_id, user_id) REFERENCES public.documents(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_page_fkey FOREIGN KEY (document_id, page_number) REFERENCES public.document_pages(document_id, page_number) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_pages
    ADD CONSTRAINT document_pages_document_id_user_id_fkey FOREIGN KEY (document_id, user_id) REFERENCES public.documents(id, user_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.document_pages
    ADD CONSTRAINT document_pages_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_duplicate_of_fkey FOREIGN KEY (duplicate_of) REFERENCES public.documents(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- ==============================================================================================
-- Indexes
-- ==============================================================================================

CREATE INDEX ingest_jobs_pending_idx ON private.ingest_jobs USING btree (created_at) WHERE (status = ANY (ARRAY['queued'::text, 'running'::text]));

CREATE INDEX conversation_documents_conversation_id_user_id_idx ON public.conversation_documents USING btree (conversation_id, user_id);

CREATE INDEX conversation_documents_document_id_user_id_idx ON public.conversation_documents USING btree (document_id, user_id);

CREATE INDEX conversation_documents_user_id_idx ON public.conversation_documents USING btree (user_id);

CREATE INDEX document_chunks_content_pgroonga_idx ON public.document_chunks USING pgroonga (content);

CREATE INDEX document_chunks_document_id_page_number_idx ON public.document_chunks USING btree (document_id, page_number);

CREATE INDEX document_chunks_document_id_user_id_idx ON public.document_chunks USING btree (document_id, user_id);

CREATE INDEX document_chunks_embedding_idx ON public.document_chunks USING hnsw (embedding extensions.vector_cosine_ops);

CREATE INDEX document_chunks_user_id_idx ON public.document_chunks USING btree (user_id);

CREATE INDEX document_pages_document_id_user_id_idx ON public.document_pages USING btree (document_id, user_id);

CREATE INDEX document_pages_user_id_idx ON public.document_pages USING btree (user_id);

CREATE INDEX documents_duplicate_of_idx ON public.documents USING btree (duplicate_of) WHERE (duplicate_of IS NOT NULL);

CREATE UNIQUE INDEX documents_user_id_content_sha256_key ON public.documents USING btree (user_id, content_sha256) WHERE ((content_sha256 IS NOT NULL) AND (duplicate_of IS NULL));

CREATE INDEX documents_user_id_created_at_idx ON public.documents USING btree (user_id, created_at DESC, id);

-- ==============================================================================================
-- Row level security and policies
-- ==============================================================================================

ALTER TABLE private.ingest_jobs ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.conversation_documents ENABLE ROW LEVEL SECURITY;

CREATE POLICY "conversation_documents: owner can delete" ON public.conversation_documents FOR DELETE TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversation_documents: owner can insert" ON public.conversation_documents FOR INSERT TO authenticated WITH CHECK ((( SELECT auth.uid() AS uid) = user_id));

CREATE POLICY "conversation_documents: owner can select" ON public.conversation_documents FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.document_chunks ENABLE ROW LEVEL SECURITY;

CREATE POLICY "document_chunks: owner can select" ON public.document_chunks FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.document_pages ENABLE ROW LEVEL SECURITY;

CREATE POLICY "document_pages: owner can select" ON public.document_pages FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY;

CREATE POLICY "documents: owner can select" ON public.documents FOR SELECT TO authenticated USING ((( SELECT auth.uid() AS uid) = user_id));

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- The worker's claim: the oldest job that is queued, or running under a lease that ran out
-- (its worker died: that counts as a failure). `skip locked`: concurrent workers take different jobs.
CREATE FUNCTION private.claim_ingest_job(p_lease_seconds integer) RETURNS TABLE(document_id uuid, kind text, next_page integer, failures integer, last_error text, lease_token uuid)
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  with candidate as (
    select j.document_id
    from private.ingest_jobs j
    where j.status = 'queued' or (j.status = 'running' and j.lease_until < now())
    order by j.created_at
    for update skip locked
    limit 1
  )
  update private.ingest_jobs j
    set status = 'running',
        lease_token = gen_random_uuid(),
        lease_until = now() + pg_catalog.make_interval(secs => p_lease_seconds),
        failures = j.failures + case when j.status = 'running' then 1 else 0 end,
        last_error = case when j.status = 'running' then 'the worker stopped before finishing a batch (killed or out of time)' else j.last_error end
  from candidate
  where j.document_id = candidate.document_id
  returning j.document_id, j.kind, j.next_page, j.failures, j.last_error, j.lease_token;
$$;

-- Removing the object (supabase-js remove(), or DELETE /api/v1/documents/{id}) removes the document.
CREATE FUNCTION private.document_object_removed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  delete from public.documents where object_path = old.name;
  return null;
end;
$$;

-- A new or replaced object in bucket `documents` becomes a queued document. Security definer:
-- Storage inserts as the uploading user, who may not write documents or jobs.
CREATE FUNCTION private.document_object_written() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_owner uuid := coalesce(new.owner, nullif(new.owner_id, '')::uuid);
  v_file text := pg_catalog.regexp_replace(new.name, '^.*/', '');
  v_id uuid;
  v_sha256 text;
begin
  if v_owner is null then
    return null; -- written with the service key outside any user's folder: not a user's document
  end if;
  -- `<user id>/<document id>.pdf` names the document; any other name gets a fresh id.
  if v_file ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.pdf$' then
    v_id := pg_catalog.left(v_file, 36)::uuid;
  end if;

  if tg_op = 'UPDATE' then
    -- Replaced (upsert): start over with the new bytes.
    update public.documents
      set status = 'queued', failure_reason = null, duplicate_of = null, content_sha256 = null,
          size_bytes = (new.metadata->>'size')::bigint, pages_total = null, pages_done = 0,
          pages_without_text = 0, chunk_count = 0, embedding_model = null, ready_at = null
      where object_path = new.name
      returning id into v_id;
    delete from public.document_pages where document_id = v_id;
  else
    if v_id is null or exists (select 1 from public.documents d where d.id = v_id) then
      v_id := gen_random_uuid();
    end if;
    -- The uploader's claimed hash (the API sends it) lets a second upload of the same bytes find
    -- this document before the worker has read it; the worker replaces it with the real hash.
    v_sha256 := new.user_metadata->>'sha256';
    if v_sha256 !~ '^[0-9a-f]{64}$' or exists (
      select 1 from public.documents d where d.user_id = v_owner and d.content_sha256 = v_sha256 and d.duplicate_of is null
    ) then
      v_sha256 := null;
    end if;
    insert into public.documents (id, user_id, object_path, filename, size_bytes, content_sha256)
    values (
      v_id, v_owner, new.name,
      pg_catalog.left(coalesce(nullif(pg_catalog.btrim(new.user_metadata->>'filename'), ''), v_file), 255),
      (new.metadata->>'size')::bigint,
      v_sha256
    );
  end if;

  if v_id is not null then
    insert into private.ingest_jobs (document_id) values (v_id)
    on conflict (document_id) do update
      set status = 'queued', next_page = 1, failures = 0, last_error = null, lease_token = null, lease_until = null;
    -- Start at once rather than at the next scheduled run (after commit: pg_net's queue is a table).
    perform private.kick_ingest();
  end if;
  return null;
end;
$_$;

-- Calls the ingest function through pg_net when there is work (a queued job, or a running one
-- whose worker's lease ran out). Asynchronous: the request goes out after this transaction
-- commits. Returns the pg_net request id, or null when nothing was sent.
CREATE FUNCTION private.kick_ingest() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_url text := private.setting('ingest_url');
  v_secret text := private.setting('ingest_secret');
begin
  if v_url is null or v_secret is null then
    return null;
  end if;
  if not exists (
    select 1 from private.ingest_jobs j
    where j.status = 'queued' or (j.status = 'running' and j.lease_until < now())
  ) then
    return null;
  end if;
  return net.http_post(
    url := v_url,
    body := '{}'::jsonb,
    headers := pg_catalog.jsonb_build_object('content-type', 'application/json', 'x-ingest-secret', v_secret),
    timeout_milliseconds := 60000
  );
end;
$$;

-- A deleted document's citations keep their quote and page and say the document is gone.
CREATE FUNCTION private.mark_citations_of_deleted_document() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

-- Queues an embed job for each of the caller's ready documents (or only p_document_id) that has
-- chunks without a vector of p_model, unless the caller has no valid OpenAI key (nothing to
-- embed with). A document still being ingested is left alone: its ingestion embeds what it
-- stores. Returns the ids queued. Security definer: the job queue is not the caller's to write.
CREATE FUNCTION private.queue_embedding(p_model text, p_document_id uuid DEFAULT NULL::uuid) RETURNS SETOF uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_user_id uuid := (select auth.uid());
begin
  if v_user_id is null then
    raise exception 'queue_embedding needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  if not exists (select 1 from public.api_keys k where k.user_id = v_user_id and k.provider = 'openai' and k.is_valid) then
    return;
  end if;
  return query
    with stale as (
      select d.id from public.documents d
      where d.user_id = v_user_id and d.status = 'ready'
        and (p_document_id is null or d.id = p_document_id)
        and exists (select 1 from public.document_chunks c
                    where c.document_id = d.id and c.embedding_model is distinct from p_model)
    )
    insert into private.ingest_jobs as j (document_id, kind, embedding_model)
    select s.id, 'embed', p_model from stale s
    on conflict (document_id) do update
      -- created_at: at the back of the queue (jobs are claimed oldest first), behind new uploads
      set kind = 'embed', embedding_model = p_model, status = 'queued', failures = 0, last_error = null,
          lease_token = null, lease_until = null, created_at = now()
      where j.status in ('done', 'failed')
    returning j.document_id;
  perform private.kick_ingest();
end;
$$;

-- Progress under the lease: the lease is extended and (for an ingestion) the resume point moved.
-- Run first in the transaction that stores a batch: it locks the job, so the batch commits only
-- while its worker holds the lease. False (nothing changed) when the lease was lost.
CREATE FUNCTION private.progress_ingest_job(p_document_id uuid, p_lease_token uuid, p_lease_seconds integer, p_next_page integer DEFAULT NULL::integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j
    set next_page = coalesce(p_next_page, j.next_page),
        lease_until = now() + pg_catalog.make_interval(secs => p_lease_seconds)
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- Done: every page stored (or every chunk embedded). False when the lease was lost.
CREATE FUNCTION private.finish_ingest_job(p_document_id uuid, p_lease_token uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j set status = 'done', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- Handed back untouched (the worker's time is spent), so the next call takes it at once.
CREATE FUNCTION private.release_ingest_job(p_document_id uuid, p_lease_token uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update private.ingest_jobs j set status = 'queued', lease_token = null, lease_until = null
  where j.document_id = p_document_id and j.lease_token = p_lease_token;
  return found;
end;
$$;

-- A failure that may pass: counted, its reason kept, the job queued for a later call. Returns
-- the failures so far (the caller gives up at its limit); null when the lease was lost.
CREATE FUNCTION private.retry_ingest_job(p_document_id uuid, p_lease_token uuid, p_reason text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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
CREATE FUNCTION private.fail_ingest_job(p_document_id uuid, p_reason text, p_document_failure text DEFAULT NULL::text, p_duplicate_of uuid DEFAULT NULL::uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- ==============================================================================================
-- Triggers
-- ==============================================================================================

CREATE TRIGGER ingest_jobs_set_updated_at BEFORE UPDATE ON private.ingest_jobs FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

CREATE TRIGGER documents_mark_citations AFTER DELETE ON public.documents FOR EACH ROW EXECUTE FUNCTION private.mark_citations_of_deleted_document();

CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON public.documents FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.claim_ingest_job(p_lease_seconds integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.document_object_removed() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.document_object_written() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.kick_ingest() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.mark_citations_of_deleted_document() FROM PUBLIC;

REVOKE ALL ON FUNCTION private.queue_embedding(p_model text, p_document_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.queue_embedding(p_model text, p_document_id uuid) TO authenticated;

GRANT SELECT,DELETE ON TABLE public.conversation_documents TO authenticated;

GRANT INSERT(conversation_id) ON TABLE public.conversation_documents TO authenticated;

GRANT INSERT(document_id) ON TABLE public.conversation_documents TO authenticated;

GRANT INSERT(user_id) ON TABLE public.conversation_documents TO authenticated;

GRANT SELECT ON TABLE public.document_chunks TO authenticated;

GRANT SELECT ON TABLE public.document_pages TO authenticated;

GRANT SELECT ON TABLE public.documents TO authenticated;

REVOKE ALL ON FUNCTION private.progress_ingest_job(p_document_id uuid, p_lease_token uuid, p_lease_seconds integer, p_next_page integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.finish_ingest_job(p_document_id uuid, p_lease_token uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.release_ingest_job(p_document_id uuid, p_lease_token uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.retry_ingest_job(p_document_id uuid, p_lease_token uuid, p_reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION private.fail_ingest_job(p_document_id uuid, p_reason text, p_document_failure text, p_duplicate_of uuid) FROM PUBLIC;

-- ==============================================================================================
-- Storage: the documents bucket, its policies and triggers; the ingest schedule
-- ==============================================================================================

-- Uploaded PDFs live in Supabase Storage, never in table columns: a private bucket, each
-- user's files under a folder named by their user id (`<user id>/<document id>.pdf`). Direct
-- supabase-js uploads obey the same size limit as POST /api/v1/documents (DOCUMENT_MAX_BYTES).
insert into storage.buckets (id, name, public, allowed_mime_types, file_size_limit)
values ('documents', 'documents', false, array['application/pdf'], 25 * 1024 * 1024)
on conflict (id) do nothing;

-- A signed-in user reads, writes and deletes only inside their own folder, whether through
-- supabase-js or through the API (which uploads as the caller).
create policy "documents: owner reads own folder" on storage.objects
  for select to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner uploads into own folder" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner replaces own files" on storage.objects
  for update to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner deletes own files" on storage.objects
  for delete to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- An upload (or a new version of a file) makes or refreshes the documents row and queues an
-- ingest job; removing the file removes the document.
create trigger documents_object_written
  after insert or update of version on storage.objects
  for each row when (new.bucket_id = 'documents')
  execute function private.document_object_written();

create trigger documents_object_removed
  after delete on storage.objects
  for each row when (old.bucket_id = 'documents')
  execute function private.document_object_removed();

-- Every few seconds, pick up what a kick missed: a worker that died or ran out of time.
select cron.schedule('ingest-documents', '3 seconds', 'select private.kick_ingest()');
-- pg_cron keeps a row per run; a week of history is plenty.
select cron.schedule('purge-cron-history', '17 3 * * *', $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);
