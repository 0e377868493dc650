-- The ingest job's lifecycle in SQL (progress, finish, retry, release, fail under the lease
-- token), the owner's OpenAI key, and the exchange's grounding statement.
begin;
create extension if not exists pgtap with schema extensions;
select plan(29);

select tests.create_user('lalice') as alice \gset
select tests.create_user('lbob') as bob \gset
insert into auth.sessions (id, user_id, created_at) values ('00000000-0000-4000-8000-0000000001a1', :'alice', now());
select json_build_object('sub', :'alice', 'role', 'authenticated', 'session_id', '00000000-0000-4000-8000-0000000001a1')::text
  as alice_claims \gset

select tests.as_postgres();
insert into public.documents (id, user_id, object_path, filename, size_bytes, status)
values ('00000000-0000-4000-8000-0000000001d1', :'alice', :'alice' || '/x.pdf', 'x.pdf', 10, 'processing'),
       ('00000000-0000-4000-8000-0000000001d2', :'alice', :'alice' || '/y.pdf', 'y.pdf', 10, 'ready');
update public.documents set content_sha256 = repeat('ab', 32) where id = '00000000-0000-4000-8000-0000000001d2';
insert into private.ingest_jobs (document_id) values ('00000000-0000-4000-8000-0000000001d1'), ('00000000-0000-4000-8000-0000000001d2')
on conflict do nothing;
-- only our documents' jobs are claimable here
update private.ingest_jobs set status = 'done'
where document_id not in ('00000000-0000-4000-8000-0000000001d1', '00000000-0000-4000-8000-0000000001d2');
update private.ingest_jobs set status = 'done' where document_id = '00000000-0000-4000-8000-0000000001d2';
select lease_token as token from private.claim_ingest_job(60) \gset

-- ---- the ingest job ----
select is(private.progress_ingest_job('00000000-0000-4000-8000-0000000001d1', gen_random_uuid(), 60, 5), false,
  'progress with a token that does not hold the lease is refused');
select results_eq($$ select next_page from private.ingest_jobs where document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values (1) $$, 'and moves nothing');
update private.ingest_jobs set lease_until = now() + interval '1 second' where document_id = '00000000-0000-4000-8000-0000000001d1';
select is(private.progress_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token', 600, 5), true,
  'progress under the lease');
select results_eq(
  $$ select next_page, lease_until > now() + interval '500 seconds' from private.ingest_jobs where document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values (5, true) $$, 'moves the resume point and extends the lease');
select is(private.progress_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token', 600), true, 'progress without a page');
select results_eq($$ select next_page from private.ingest_jobs where document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values (5) $$, 'keeps the resume point');

select is(private.retry_ingest_job('00000000-0000-4000-8000-0000000001d1', gen_random_uuid(), 'nope'), null,
  'retry with a token that does not hold the lease is refused (null)');
select is(private.retry_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token', 'Storage away'), 1,
  'retry counts the failure');
select results_eq(
  $$ select status, failures, last_error, lease_token is null from private.ingest_jobs where document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values ('queued', 1, 'Storage away', true) $$, 'and queues the job again without a lease, keeping the reason');
select is(private.retry_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token', 'again'), null,
  'the old token no longer holds the lease');
select lease_token as token2 from private.claim_ingest_job(60) \gset
select is(private.retry_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token2', 'again'), 2,
  'a second retry counts two');
select lease_token as token3 from private.claim_ingest_job(60) \gset

select is(private.release_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token2'), false,
  'release with an old token is refused');
select is(private.release_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token3'), true, 'release under the lease');
select results_eq(
  $$ select status, failures, lease_token is null from private.ingest_jobs where document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values ('queued', 2, true) $$, 'hands the job back queued, counting no failure');
select lease_token as token4 from private.claim_ingest_job(60) \gset
select is(private.finish_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token3'), false, 'finish with an old token is refused');
select is(private.finish_ingest_job('00000000-0000-4000-8000-0000000001d1', :'token4'), true, 'finish under the lease');
select results_eq(
  $$ select status, lease_token is null from private.ingest_jobs where document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values ('done', true) $$, 'the job is done');

select private.fail_ingest_job('00000000-0000-4000-8000-0000000001d1', 'the same file', 'the same file as y', '00000000-0000-4000-8000-0000000001d2');
select results_eq(
  $$ select j.status, j.last_error, d.status, d.failure_reason, d.duplicate_of, d.content_sha256
     from private.ingest_jobs j join public.documents d on d.id = j.document_id
     where j.document_id = '00000000-0000-4000-8000-0000000001d1' $$,
  $$ values ('failed', 'the same file', 'failed', 'the same file as y', '00000000-0000-4000-8000-0000000001d2'::uuid, repeat('ab', 32)) $$,
  'fail fails the job and, asked to, the document as the duplicate it is');
select private.fail_ingest_job('00000000-0000-4000-8000-0000000001d2', 'embedding failed');
select results_eq(
  $$ select j.status, d.status from private.ingest_jobs j join public.documents d on d.id = j.document_id
     where j.document_id = '00000000-0000-4000-8000-0000000001d2' $$,
  $$ values ('failed', 'ready') $$, 'without a document failure only the job fails (an embed job)');

-- ---- the owner's OpenAI key ----
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, is_selected)
values (:'alice', 'chat', 'anthropic', 'sealed-anthropic', 'h', 'fp-la1', true);
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, is_selected)
values (:'alice', 'embed', 'openai', 'sealed-openai', 'h', 'fp-la2', false) returning id as openaikey \gset
select results_eq(format($$ select id, ciphertext from private.owner_openai_key(%L) $$, :'alice'),
  format($$ values (%L::uuid, 'sealed-openai') $$, :'openaikey'),
  'the worker gets the owner''s OpenAI key, though another key is selected');
select tests.authenticate_as('lbob');
select is_empty(format($$ select * from private.owner_openai_key(%L) $$, :'alice'),
  'a caller cannot read another user''s OpenAI key');
select tests.authenticate_as('lalice');
select results_eq(format($$ select ciphertext from private.owner_openai_key(%L) $$, :'alice'),
  $$ values ('sealed-openai') $$, 'a caller reads their own');

-- ---- the exchange ----
select tests.as_postgres();
insert into public.conversations (id, user_id, title) values ('00000000-0000-4000-8000-0000000001c1', :'alice', 'c');
select is((select embedding_key_id from private.prepare_exchange(:'alice_claims', '00000000-0000-4000-8000-0000000001c1', 10)),
  null, 'prepare_exchange without documents attached returns no key to embed with');
select tests.as_postgres();
insert into public.conversation_documents (conversation_id, document_id, user_id)
values ('00000000-0000-4000-8000-0000000001c1', '00000000-0000-4000-8000-0000000001d2', :'alice');
select results_eq(
  format($$ select embedding_key_id, embedding_key_ciphertext, documents_attached
            from private.prepare_exchange(%L, '00000000-0000-4000-8000-0000000001c1', 10) $$, :'alice_claims'),
  format($$ values (%L::uuid, 'sealed-openai', true) $$, :'openaikey'),
  'with documents attached it returns the owner''s OpenAI key too');
select tests.as_postgres();

-- ---- one statement as a user ----
select is(private.act_as(json_build_object('sub', :'bob', 'role', 'authenticated')::text), :'bob'::uuid,
  'act_as returns the user of the claims');
select is(current_user::text, 'authenticated', 'and becomes them for the rest of the transaction');
select is(auth.uid(), :'bob'::uuid, 'with their claims (and no session needed)');
select tests.as_postgres();
select ok(
  not exists (
    select 1 from unnest(array['private.act_as(text)'::regprocedure, 'private.ground_question(text,uuid,text,extensions.vector,integer,text,uuid,uuid,integer,text,integer,text)'::regprocedure,
                               'private.progress_ingest_job(uuid,uuid,integer,integer)'::regprocedure, 'private.finish_ingest_job(uuid,uuid)'::regprocedure,
                               'private.release_ingest_job(uuid,uuid)'::regprocedure, 'private.retry_ingest_job(uuid,uuid,text)'::regprocedure,
                               'private.fail_ingest_job(uuid,text,text,uuid)'::regprocedure]) f(oid)
    cross join unnest(array['anon', 'authenticated', 'service_role']) r(role)
    where has_function_privilege(r.role, f.oid, 'execute')),
  'no API role can execute act_as, ground_question or the ingest job''s functions');
select is(
  array(select p.proname::text from pg_proc p
        where p.oid in ('private.ground_question(text,uuid,text,extensions.vector,integer,text,uuid,uuid,integer,text,integer,text)'::regprocedure,
                        'private.prepare_exchange(text,uuid,integer)'::regprocedure)
          and not p.prosecdef and 'jit=off' = any(p.proconfig)
        order by p.proname),
  array['ground_question', 'prepare_exchange'],
  'the exchange''s statements as the caller are not security definer and run with JIT off');

select * from finish();
rollback;
