-- The database's own refusal of a citation that does not quote its page
-- (private.citations_quote_their_pages, checked by store_answer and store_extractive_exchange):
-- whatever the api function's citation check lets through, an answer is stored only with quotes
-- that are on the cited page of one of the caller's own documents.
begin;
create extension if not exists pgtap with schema extensions;
select plan(14);

select tests.create_user('qalice') as alice \gset
select tests.create_user('qbob') as bob \gset
select gen_random_uuid() as doc \gset
select gen_random_uuid() as bobdoc \gset

-- Pages as the worker stores them (as postgres).
insert into public.documents (id, user_id, object_path, filename, status)
values (:'doc', :'alice', :'alice' || '/' || :'doc' || '.pdf', 'harbour.pdf', 'ready'),
       (:'bobdoc', :'bob', :'bob' || '/' || :'bobdoc' || '.pdf', 'bob.pdf', 'ready');
insert into public.document_pages (document_id, user_id, page_number, text, has_text) values
  (:'doc', :'alice', 1, 'The harbour master rings the bell at noon.', true),
  (:'doc', :'alice', 2, 'Fishing boats leave before dawn in winter.', true),
  (:'bobdoc', :'bob', 1, 'Bob''s secret ledger lists every debt.', true);

select tests.authenticate_as('qalice');
select private.register_api_key('k', 'openai', 'c', 'h', 'fp-quotes') as key \gset
insert into public.conversations (title) values ('harbour') returning id as conv \gset

-- Citations, each a quote claimed for a page of a document.
select jsonb_build_array(jsonb_build_object('document_id', :'doc', 'page', 1, 'quote', 'rings the bell at noon')) as good \gset
select jsonb_build_array(jsonb_build_object('document_id', :'doc', 'page', 1, 'quote', 'the bell rings at midnight')) as forged \gset
select jsonb_build_array(jsonb_build_object('document_id', :'doc', 'page', 1, 'quote', 'Fishing boats leave before dawn')) as other_page \gset
select jsonb_build_array(jsonb_build_object('document_id', :'bobdoc', 'page', 1, 'quote', 'secret ledger')) as other_user \gset
select jsonb_build_array(jsonb_build_object('document_id', :'doc', 'page', 1, 'quote', '')) as empty_quote \gset

-- store_answer (an exchange with a provider's answer).
select (private.begin_exchange(:'conv', :'key', 'when is the bell?', 'gpt-4o-mini', 10, 10, 600)).id as q \gset
select throws_ok(format($$ select private.store_answer(%L, 'At midnight.', 'gpt-4o-mini', 1, 0, 1, 'provider', 1, %L) $$, :'q', :'forged'),
  '23514', 'a citation does not quote its page', 'store_answer refuses a forged quote');
select throws_ok(format($$ select private.store_answer(%L, 'Before dawn.', 'gpt-4o-mini', 1, 0, 1, 'provider', 1, %L) $$, :'q', :'other_page'),
  '23514', 'a citation does not quote its page', 'store_answer refuses a quote from another page of the document');
select throws_ok(format($$ select private.store_answer(%L, 'Debts.', 'gpt-4o-mini', 1, 0, 1, 'provider', 1, %L) $$, :'q', :'other_user'),
  '23514', 'a citation does not quote its page', 'store_answer refuses a quote from another user''s document');
select throws_ok(format($$ select private.store_answer(%L, 'Nothing.', 'gpt-4o-mini', 1, 0, 1, 'provider', 1, %L) $$, :'q', :'empty_quote'),
  '23514', 'a citation does not quote its page', 'store_answer refuses an empty quote');
select is((select status from public.messages where id = :'q'), 'pending', 'after the refusals the question still waits');
select is((select count(*)::int from public.messages where conversation_id = :'conv' and role = 'assistant'), 0, 'and no answer was stored');
select lives_ok(format($$ select private.store_answer(%L, 'At noon.', 'gpt-4o-mini', 1, 0, 1, 'provider', 1, %L) $$, :'q', :'good'),
  'store_answer takes a quote that is on its page');
select is((select citations from public.messages where conversation_id = :'conv' and role = 'assistant'), :'good'::jsonb,
  'and stores it with the answer');

-- store_extractive_exchange (no key: the passages themselves).
select throws_ok(format($$ select private.store_extractive_exchange(%L, 'q', 'a', %L) $$, :'conv', :'forged'),
  '23514', 'a citation does not quote its page', 'store_extractive_exchange refuses a forged quote');
select throws_ok(format($$ select private.store_extractive_exchange(%L, 'q', 'a', %L) $$, :'conv', :'other_page'),
  '23514', 'a citation does not quote its page', 'store_extractive_exchange refuses a quote from another page');
select throws_ok(format($$ select private.store_extractive_exchange(%L, 'q', 'a', %L) $$, :'conv', :'other_user'),
  '23514', 'a citation does not quote its page', 'store_extractive_exchange refuses a quote from another user''s document');
select is((select count(*)::int from public.messages where conversation_id = :'conv'), 2, 'no refused exchange left a message');
select lives_ok(format($$ select private.store_extractive_exchange(%L, 'q', 'a', %L) $$, :'conv', :'good'),
  'store_extractive_exchange takes a quote that is on its page');

-- Bob quoting his own page in his own conversation is fine: the refusal above was about whose page it is.
select tests.authenticate_as('qbob');
insert into public.conversations (title) values ('mine') returning id as bobconv \gset
select lives_ok(format($$ select private.store_extractive_exchange(%L, 'q', 'a', %L) $$, :'bobconv', :'other_user'),
  'the owner of that document may quote it');

select * from finish();
rollback;
