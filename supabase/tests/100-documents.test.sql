-- Documents: the trigger on storage.objects, row-level security on documents, pages, chunks and
-- attachments, the worker's claim with its lease, retrieval limited to attached documents, and
-- citations of a deleted document.
begin;
create extension if not exists pgtap with schema extensions;
select plan(34);

select tests.create_user('dalice') as alice \gset
select tests.create_user('dbob') as bob \gset
select gen_random_uuid() as doc \gset

-- Storage writes objects as the uploading user; the trigger runs with the rights it needs.
select tests.authenticate_as('dalice');
select lives_ok(
  format($$ insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata)
            values ('documents', %L, %L, %L, '{"size": 1234, "mimetype": "application/pdf"}', '{"filename": "report.pdf"}') $$,
         :'alice' || '/' || :'doc' || '.pdf', :'alice', :'alice'),
  'a user uploads into their own folder of bucket documents');
select results_eq(
  format($$ select id, user_id, filename, size_bytes, status, pages_done from public.documents where object_path = %L $$, :'alice' || '/' || :'doc' || '.pdf'),
  format($$ values (%L::uuid, %L::uuid, 'report.pdf', 1234::bigint, 'queued', 0) $$, :'doc', :'alice'),
  'the trigger makes the document: id from the path, filename from the metadata, queued');

select tests.as_postgres();
select results_eq(
  format($$ select status, next_page, failures from private.ingest_jobs where document_id = %L $$, :'doc'),
  $$ values ('queued', 1, 0) $$,
  'and queues its ingestion');
select ok(
  exists (select 1 from net.http_request_queue where url = private.setting('ingest_url')
          and headers ? 'x-ingest-secret'),
  'and kicks the ingest function through pg_net, with the secret header');

select tests.authenticate_as('dalice');
insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
values ('documents', :'alice' || '/notes/My Scan.pdf', :'alice', :'alice', '{"size": 10}');
select results_eq(
  format($$ select filename, id <> %L from public.documents where object_path = %L $$, :'doc', :'alice' || '/notes/My Scan.pdf'),
  $$ values ('My Scan.pdf', true) $$,
  'any other name gets a fresh id and the file name as its filename');

select throws_ok(
  format($$ insert into storage.objects (bucket_id, name, owner, owner_id) values ('documents', %L, %L, %L) $$,
         :'bob' || '/planted.pdf', :'alice', :'alice'),
  '42501', null,
  'nobody writes into another user''s folder (so nobody makes documents for them)');

-- The API's hash claim is kept only when it is a hash and not another document's.
insert into storage.objects (bucket_id, name, owner, owner_id, user_metadata)
values ('documents', :'alice' || '/hashed.pdf', :'alice', :'alice', jsonb_build_object('sha256', repeat('ab', 32)));
insert into storage.objects (bucket_id, name, owner, owner_id, user_metadata)
values ('documents', :'alice' || '/hashed-again.pdf', :'alice', :'alice', jsonb_build_object('sha256', repeat('ab', 32)));
select results_eq(
  format($$ select object_path, content_sha256 from public.documents where object_path like %L order by 1 $$, :'alice' || '/hashed%'),
  format($$ values (%L, null), (%L, %L) $$, :'alice' || '/hashed-again.pdf', :'alice' || '/hashed.pdf', repeat('ab', 32)),
  'a claimed content hash is kept once per user (the worker checks it against the bytes)');

-- Row-level security.
select results_eq($$ select count(*)::int from public.documents $$, $$ values (4) $$, 'the owner sees their documents');
select throws_ok($$ update public.documents set status = 'ready' $$, '42501', null, 'clients cannot change a document');
select throws_ok($$ delete from public.documents $$, '42501', null, 'clients cannot delete a document row (they remove the object)');
select throws_ok(format($$ insert into public.documents (user_id, object_path, filename) values (%L, 'x', 'x') $$, :'alice'),
  '42501', null, 'clients cannot make documents');
select throws_ok(format($$ insert into public.document_pages (document_id, user_id, page_number, text, has_text) values (%L, %L, 1, 'x', true) $$, :'doc', :'alice'),
  '42501', null, 'clients cannot write pages');
select throws_ok(format($$ insert into public.document_chunks (document_id, user_id, page_number, start_offset, end_offset, content) values (%L, %L, 1, 0, 1, 'x') $$, :'doc', :'alice'),
  '42501', null, 'clients cannot write chunks');

-- The worker (as postgres) stores pages and chunks.
select tests.as_postgres();
insert into public.document_pages (document_id, user_id, page_number, text, has_text) values
  (:'doc', :'alice', 1, 'The lighthouse keeper logs the weather every morning.', true),
  (:'doc', :'alice', 2, 'Pelicans nest on the northern cliffs in spring.', true),
  (:'doc', :'alice', 3, '', false),
  (:'doc', :'alice', 4, '각주를 달려면 다음 명령을 쓴다.', true),
  (:'doc', :'alice', 5, '등대지기가 매일 아침 기록한다.', true),
  (:'doc', :'alice', 6, '날씨가 좋은 날에는 날씨를 보고 날씨에 맞춰 날씨 이야기를 한다.', true),
  (:'doc', :'alice', 7, '오늘 날씨는 맑다.', true),
  (:'doc', :'alice', 8, '내일 날씨는 흐리다.', true),
  (:'doc', :'alice', 9, E'Seabird migration 10\nSeabird colonies 10\nSeabird feeding 11', true),
  (:'doc', :'alice', 10, 'Seabirds leave in autumn on their migration south.', true);
insert into public.document_chunks (document_id, user_id, page_number, start_offset, end_offset, content) values
  (:'doc', :'alice', 1, 0, 52, 'The lighthouse keeper logs the weather every morning.'),
  (:'doc', :'alice', 2, 0, 47, 'Pelicans nest on the northern cliffs in spring.'),
  (:'doc', :'alice', 4, 0, 18, '각주를 달려면 다음 명령을 쓴다.'),
  (:'doc', :'alice', 5, 0, 17, '등대지기가 매일 아침 기록한다.'),
  (:'doc', :'alice', 6, 0, 36, '날씨가 좋은 날에는 날씨를 보고 날씨에 맞춰 날씨 이야기를 한다.'),
  (:'doc', :'alice', 7, 0, 10, '오늘 날씨는 맑다.'),
  (:'doc', :'alice', 8, 0, 11, '내일 날씨는 흐리다.'),
  (:'doc', :'alice', 9, 0, 59, E'Seabird migration 10\nSeabird colonies 10\nSeabird feeding 11'),
  (:'doc', :'alice', 10, 0, 50, 'Seabirds leave in autumn on their migration south.');

select tests.authenticate_as('dbob');
select results_eq(
  format($$ select (select count(*) from public.documents)::int, (select count(*) from public.document_pages where document_id = %L)::int,
                   (select count(*) from public.document_chunks where document_id = %L)::int $$, :'doc', :'doc'),
  $$ values (0, 0, 0) $$,
  'another user sees none of the documents, pages or chunks');
insert into public.conversations (title) values ('bob conv') returning id as bobconv \gset
select throws_ok(
  format($$ insert into public.conversation_documents (conversation_id, document_id) values (%L, %L) $$, :'bobconv', :'doc'),
  '23503', null,
  'another user cannot attach the document to their conversation');

select tests.clear_authentication();
select throws_ok($$ select count(*) from public.documents $$, '42501', null, 'anon cannot read documents');
select throws_ok($$ select count(*) from public.document_chunks $$, '42501', null, 'anon cannot read chunks');

-- Attachments and retrieval.
select tests.authenticate_as('dalice');
insert into public.conversations (title) values ('alice conv') returning id as conv \gset
select results_eq(
  format($$ select count(*)::int from private.search_conversation_chunks(%L, 'pelicans nest') $$, :'conv'),
  $$ values (0) $$,
  'retrieval searches nothing before a document is attached');
select lives_ok(
  format($$ insert into public.conversation_documents (conversation_id, document_id) values (%L, %L) $$, :'conv', :'doc'),
  'the owner attaches their document to their conversation');
select results_eq(
  format($$ select page_number, lexical_rank, vector_rank
            from private.search_conversation_chunks(%L, 'Where do pelicans nest?') $$, :'conv'),
  $$ values (2, 1, null::int) $$,
  'retrieval finds the page lexically (no embedding given: no vector part)');
select results_eq(
  format($$ select page_number from private.search_conversation_chunks(%L, 'lighthouse keepers') limit 1 $$, :'conv'),
  $$ values (1) $$,
  'an English word in another form ("keepers") finds the form the text uses ("keeper")');
select results_eq(
  format($$ select page_number from private.search_conversation_chunks(%L, '각주는 어떻게 다나요?') limit 1 $$, :'conv'),
  $$ values (4) $$,
  'a Korean word with another particle (각주는 / 각주를) is found through the two-syllable pieces they share');
select results_eq(
  format($$ select page_number from private.search_conversation_chunks(%L, '등대와 날씨') limit 1 $$, :'conv'),
  $$ values (5) $$,
  'the page with the rare word (등대) ranks first, above a page repeating a common one (날씨) four times: inverse document frequency');
select results_eq(
  format($$ select page_number from private.search_conversation_chunks(%L, 'seabird migration') limit 1 $$, :'conv'),
  $$ values (10) $$,
  'the page that answers ranks above a table of contents repeating the question''s words (its lines end in page numbers)');
select is_empty(
  format($$ select 1 from private.search_conversation_chunks(%L, 'submarine volcano') $$, :'conv'),
  'a question sharing nothing with the documents finds nothing');
select tests.authenticate_as('dbob');
select is_empty(
  format($$ select 1 from private.search_conversation_chunks(%L, 'pelicans nest') $$, :'conv'),
  'another user searching the owner''s conversation finds nothing');
select is_empty(
  format($$ select 1 from public.conversation_documents where conversation_id = %L $$, :'conv'),
  'another user sees no attachments of the owner''s conversation');

-- The worker's claim: one job to one worker, a lease, and a dead worker counted as a failure.
select tests.as_postgres();
update private.ingest_jobs set created_at = now() - interval '1 hour' where document_id = :'doc';
select results_eq(
  $$ select document_id, failures from private.claim_ingest_job(60) $$,
  format($$ values (%L::uuid, 0) $$, :'doc'),
  'the oldest queued job is claimed');
select results_eq(
  format($$ select status, lease_token is not null, lease_until > now() from private.ingest_jobs where document_id = %L $$, :'doc'),
  $$ values ('running', true, true) $$,
  'the claimed job is running under a lease');
update private.ingest_jobs set status = 'done' where document_id <> :'doc';
select is_empty($$ select * from private.claim_ingest_job(60) $$, 'a job under a live lease is not claimed again');
update private.ingest_jobs set lease_until = now() - interval '1 second' where document_id = :'doc';
select results_eq(
  $$ select document_id, failures, last_error like 'the worker stopped%' from private.claim_ingest_job(60) $$,
  format($$ values (%L::uuid, 1, true) $$, :'doc'),
  'after the lease runs out, another worker takes it over, counting the dead one as a failure');

select results_eq(
  $$ select schedule, command from cron.job where jobname = 'ingest-documents' $$,
  $$ values ('3 seconds', 'select private.kick_ingest()') $$,
  'pg_cron calls the worker every 3 seconds');

-- Removing the object removes the document, its pages, chunks, job and attachments; citations stay, marked.
insert into public.messages (conversation_id, user_id, role, content, citations)
values (:'conv', :'alice', 'assistant', 'Pelicans nest on cliffs [1].',
        jsonb_build_array(jsonb_build_object('document_id', :'doc', 'page', 2, 'quote', 'Pelicans nest', 'chunk_id', 1)))
returning id as msg \gset
set local storage.allow_delete_query = 'true';
delete from storage.objects where name = :'alice' || '/' || :'doc' || '.pdf';
select results_eq(
  format($$ select (select count(*) from public.documents where id = %1$L)::int, (select count(*) from public.document_pages where document_id = %1$L)::int,
                   (select count(*) from public.document_chunks where document_id = %1$L)::int, (select count(*) from private.ingest_jobs where document_id = %1$L)::int,
                   (select count(*) from public.conversation_documents where document_id = %1$L)::int $$, :'doc'),
  $$ values (0, 0, 0, 0, 0) $$,
  'removing the object removes the document and all that came from it');
select results_eq(
  format($$ select citations->0->>'quote', (citations->0->>'page')::int, (citations->0->>'document_deleted')::boolean, citations->0->'chunk_id'
            from public.messages where id = %L $$, :'msg'),
  $$ values ('Pelicans nest', 2, true, 'null'::jsonb) $$,
  'a citation of the deleted document keeps its quote and page and says it is gone');

select * from finish();
rollback;
