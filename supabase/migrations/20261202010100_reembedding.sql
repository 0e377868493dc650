-- Re-embedding: a document whose chunks lack vectors of the current embedding model (ingested
-- without an OpenAI key, or the budget skipped them, or embedded with another model) gets them
-- when its owner asks (POST /documents/{id}/reindex) or adds a valid OpenAI key. The ingest
-- worker does it, as an `embed` job on the same queue, lease and retries as ingestion, a batch
-- of chunks at a time, reserved against the owner's key and billed to it like any embedding.
alter table private.ingest_jobs add column kind text not null default 'ingest'
  constraint ingest_jobs_kind_check check (kind in ('ingest', 'embed'));
-- The model an embed job embeds with (the worker's current one, named by the caller).
alter table private.ingest_jobs add column embedding_model text;

drop function private.claim_ingest_job(integer);
create function private.claim_ingest_job(p_lease_seconds integer)
returns table (document_id uuid, kind text, next_page integer, failures integer, last_error text, lease_token uuid)
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
  returning j.document_id, j.kind, j.next_page, j.failures, j.last_error, j.lease_token;
$$;
revoke all on function private.claim_ingest_job(integer) from public, anon, authenticated, service_role;

-- Queues an embed job for each of the caller's ready documents (or only p_document_id) that has
-- chunks without a vector of p_model, unless the caller has no valid OpenAI key (nothing to
-- embed with). A document still being ingested is left alone: its ingestion embeds what it
-- stores. Returns the ids queued. Security definer: the job queue is not the caller's to write.
create function private.queue_embedding(p_model text, p_document_id uuid default null)
returns setof uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
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
revoke all on function private.queue_embedding(text, uuid) from public, anon, authenticated, service_role;
grant execute on function private.queue_embedding(text, uuid) to authenticated;
