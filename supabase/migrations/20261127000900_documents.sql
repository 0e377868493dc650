-- PDFs: the Storage object is the source of truth. A trigger on storage.objects (bucket
-- `documents`) creates the `documents` row and queues its ingestion, so a supabase-js upload
-- and POST /api/v1/documents (which uploads to Storage as the caller) meet here. Removing the
-- object removes the document, its pages, chunks and job.
--
-- Extracted text lives in Postgres: one row per page (the text citations are checked against),
-- chunks of about 1,000 characters with their page and offsets into that text, a full-text
-- vector, trigram index and (when the owner has an OpenAI key) an embedding.
create extension if not exists pg_trgm with schema extensions;

-- Full-text configuration for any language: the `simple` parser and dictionary (no stemming,
-- so Korean and other languages keep their words) with English stop words dropped, so a
-- question's "the" and "is" do not match every chunk.
create text search dictionary private.simple_english_stop (template = pg_catalog.simple, stopwords = english);
create text search configuration private.document_text (copy = pg_catalog.simple);
alter text search configuration private.document_text
  alter mapping for asciiword, asciihword, hword_asciipart, word, hword, hword_part, numword, numhword, hword_numpart
  with private.simple_english_stop;

create table public.documents (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- The object's name in bucket `documents` (`<user id>/<document id>.pdf` when uploaded by the API).
  object_path text not null,
  filename text not null
    constraint documents_filename_length check (char_length(filename) between 1 and 255),
  size_bytes bigint constraint documents_size_bytes_check check (size_bytes >= 0),
  -- Set by the worker from the bytes it read (a hash a client claims is only a hint).
  content_sha256 text constraint documents_content_sha256_check check (content_sha256 ~ '^[0-9a-f]{64}$'),
  status text not null default 'queued'
    constraint documents_status_check check (status in ('queued', 'processing', 'ready', 'failed')),
  failure_reason text,
  -- A second upload of the same bytes through Storage directly: failed, pointing at the first.
  duplicate_of uuid references public.documents (id) on delete set null,
  pages_total integer constraint documents_pages_total_check check (pages_total >= 0),
  pages_done integer not null default 0,
  pages_without_text integer not null default 0,
  chunk_count integer not null default 0,
  -- The embedding model its chunks were embedded with; null: searchable lexically only.
  embedding_model text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  ready_at timestamptz,
  constraint documents_pages_done_check check (pages_done >= 0 and (pages_total is null or pages_done <= pages_total)),
  constraint documents_id_user_id_key unique (id, user_id),
  constraint documents_object_path_key unique (object_path),
  constraint documents_failed_has_reason check (status <> 'failed' or failure_reason is not null)
);
comment on table public.documents is 'One uploaded PDF. Rows come from the trigger on storage.objects; the ingest worker fills in the rest.';

create index documents_user_id_created_at_idx on public.documents (user_id, created_at desc, id);
create unique index documents_user_id_content_sha256_key on public.documents (user_id, content_sha256)
  where content_sha256 is not null and duplicate_of is null;
create index documents_duplicate_of_idx on public.documents (duplicate_of) where duplicate_of is not null;

create trigger documents_set_updated_at
  before update on public.documents
  for each row execute function private.set_updated_at();

alter table public.documents enable row level security;
revoke all on table public.documents from anon, authenticated, service_role;
-- Read only: rows are made by the Storage trigger, changed by the worker, removed with the object.
grant select on table public.documents to authenticated;

create policy "documents: owner can select"
  on public.documents for select to authenticated
  using ((select auth.uid()) = user_id);

create table public.document_pages (
  document_id uuid not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  page_number integer not null constraint document_pages_page_number_check check (page_number >= 1),
  text text not null,
  -- false: no text layer (a scanned page); there is no OCR, so it holds no chunks.
  has_text boolean not null,
  primary key (document_id, page_number),
  constraint document_pages_document_id_user_id_fkey foreign key (document_id, user_id)
    references public.documents (id, user_id) on delete cascade
);
create index document_pages_document_id_user_id_idx on public.document_pages (document_id, user_id);
create index document_pages_user_id_idx on public.document_pages (user_id);

alter table public.document_pages enable row level security;
revoke all on table public.document_pages from anon, authenticated, service_role;
grant select on table public.document_pages to authenticated;

create policy "document_pages: owner can select"
  on public.document_pages for select to authenticated
  using ((select auth.uid()) = user_id);

create table public.document_chunks (
  id bigint generated always as identity primary key,
  document_id uuid not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  page_number integer not null,
  -- [start_offset, end_offset) in document_pages.text of that page.
  start_offset integer not null,
  end_offset integer not null,
  content text not null,
  search_vector tsvector generated always as (to_tsvector('private.document_text'::regconfig, content)) stored,
  embedding extensions.vector(1536),
  constraint document_chunks_offsets_check check (start_offset >= 0 and end_offset > start_offset),
  constraint document_chunks_document_id_user_id_fkey foreign key (document_id, user_id)
    references public.documents (id, user_id) on delete cascade,
  constraint document_chunks_page_fkey foreign key (document_id, page_number)
    references public.document_pages (document_id, page_number) on delete cascade
);
create index document_chunks_document_id_page_number_idx on public.document_chunks (document_id, page_number);
create index document_chunks_document_id_user_id_idx on public.document_chunks (document_id, user_id);
create index document_chunks_user_id_idx on public.document_chunks (user_id);
create index document_chunks_search_vector_idx on public.document_chunks using gin (search_vector);
create index document_chunks_embedding_idx on public.document_chunks using hnsw (embedding extensions.vector_cosine_ops);

alter table public.document_chunks enable row level security;
revoke all on table public.document_chunks from anon, authenticated, service_role;
grant select on table public.document_chunks to authenticated;

create policy "document_chunks: owner can select"
  on public.document_chunks for select to authenticated
  using ((select auth.uid()) = user_id);

-- Every word of a user's chunks, once: trigram similarity on these short words (not on
-- 1,000-character chunks, which is slow and matches nearly everything) finds the forms of a
-- question's words that the text uses (keeper / keepers, 대한민국 / 대한민국의), and
-- full-text search then looks for those. Kept by a statement trigger on document_chunks.
create table public.user_search_terms (
  user_id uuid not null references auth.users (id) on delete cascade,
  term text not null,
  primary key (user_id, term)
);
create index user_search_terms_term_trgm_idx on public.user_search_terms using gin (term extensions.gin_trgm_ops);

alter table public.user_search_terms enable row level security;
revoke all on table public.user_search_terms from anon, authenticated, service_role;
grant select on table public.user_search_terms to authenticated;

create policy "user_search_terms: owner can select"
  on public.user_search_terms for select to authenticated
  using ((select auth.uid()) = user_id);

create or replace function private.collect_search_terms()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.user_search_terms (user_id, term)
  select distinct n.user_id, t.term
  from inserted n, pg_catalog.unnest(pg_catalog.tsvector_to_array(n.search_vector)) as t(term)
  where pg_catalog.char_length(t.term) between 2 and 40
  on conflict do nothing;
  return null;
end;
$$;
revoke all on function private.collect_search_terms() from public, anon, authenticated, service_role;

create trigger document_chunks_collect_search_terms
  after insert on public.document_chunks
  referencing new table as inserted
  for each statement execute function private.collect_search_terms();

-- Ingestion jobs: one per document, claimed with `for update skip locked` and held by a lease,
-- so two workers never process one document and a worker that dies is replaced when its lease
-- runs out. next_page is the resume point: every batch commits its pages and moves it on.
create table private.ingest_jobs (
  document_id uuid primary key references public.documents (id) on delete cascade,
  status text not null default 'queued'
    constraint ingest_jobs_status_check check (status in ('queued', 'running', 'done', 'failed')),
  next_page integer not null default 1,
  failures integer not null default 0,
  last_error text,
  lease_token uuid,
  lease_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index ingest_jobs_pending_idx on private.ingest_jobs (created_at) where status in ('queued', 'running');
alter table private.ingest_jobs enable row level security; -- no policies: no API role reads it
revoke all on table private.ingest_jobs from public, anon, authenticated, service_role;

create trigger ingest_jobs_set_updated_at
  before update on private.ingest_jobs
  for each row execute function private.set_updated_at();

-- Where the worker is and the secret it wants. On hosted Supabase these are Vault secrets
-- (`ingest_url`, `ingest_secret`: vault.create_secret); where there is no Vault (the local
-- stack) they are rows here, written by the stack after the migrations. No API role can read it.
create table private.settings (
  name text primary key,
  value text not null
);
alter table private.settings enable row level security; -- no policies: no API role reads it
revoke all on table private.settings from public, anon, authenticated, service_role;

create or replace function private.setting(p_name text)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_value text;
begin
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    -- Built with format() so it is checked where it runs: the local database has no vault schema.
    execute pg_catalog.format('select decrypted_secret from %I.%I where name = $1', 'vault', 'decrypted_secrets')
      into v_value using p_name;
    if v_value is not null then
      return v_value;
    end if;
  end if;
  select s.value into v_value from private.settings s where s.name = p_name;
  return v_value;
end;
$$;
revoke all on function private.setting(text) from public, anon, authenticated, service_role;

-- Calls the ingest function through pg_net when there is work (a queued job, or a running one
-- whose worker's lease ran out). Asynchronous: the request goes out after this transaction
-- commits. Returns the pg_net request id, or null when nothing was sent.
create or replace function private.kick_ingest()
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
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
revoke all on function private.kick_ingest() from public, anon, authenticated, service_role;

-- Every few seconds, pick up what a kick missed: a worker that died or ran out of time.
select cron.schedule('ingest-documents', '3 seconds', 'select private.kick_ingest()');
-- pg_cron keeps a row per run; a week of history is plenty.
select cron.schedule('purge-cron-history', '17 3 * * *', $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);

-- A new or replaced object in bucket `documents` becomes a queued document. Security definer:
-- Storage inserts as the uploading user, who may not write documents or jobs.
create or replace function private.document_object_written()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
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
$$;
revoke all on function private.document_object_written() from public, anon, authenticated, service_role;

create trigger documents_object_written
  after insert or update of version on storage.objects
  for each row when (new.bucket_id = 'documents')
  execute function private.document_object_written();

-- Removing the object (supabase-js remove(), or DELETE /api/v1/documents/{id}) removes the document.
create or replace function private.document_object_removed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.documents where object_path = old.name;
  return null;
end;
$$;
revoke all on function private.document_object_removed() from public, anon, authenticated, service_role;

create trigger documents_object_removed
  after delete on storage.objects
  for each row when (old.bucket_id = 'documents')
  execute function private.document_object_removed();

-- The worker's claim: the oldest job that is queued, or running under a lease that ran out
-- (its worker died: that counts as a failure). `skip locked`: concurrent workers take different jobs.
create or replace function private.claim_ingest_job(p_lease_seconds integer)
returns table (document_id uuid, next_page integer, failures integer, last_error text, lease_token uuid)
language sql
volatile
set search_path = ''
as $$
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
  returning j.document_id, j.next_page, j.failures, j.last_error, j.lease_token;
$$;
revoke all on function private.claim_ingest_job(integer) from public, anon, authenticated, service_role;
