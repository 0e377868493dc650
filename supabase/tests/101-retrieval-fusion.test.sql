-- How search_conversation_chunks fuses its two lists: by reciprocal rank, 1 / (2 + rank) from
-- each, so a passage first in one list outranks one fifth in both (with the common k = 60 it
-- would not: 1/61 against 2/65).
begin;
create extension if not exists pgtap with schema extensions;
select plan(3);

select tests.create_user('fusion') as owner \gset
select gen_random_uuid() as doc \gset
select tests.authenticate_as('fusion');
insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
values ('documents', :'owner' || '/' || :'doc' || '.pdf', :'owner', :'owner', '{"size": 10}');
insert into public.conversations (title) values ('fusion') returning id as conv \gset
insert into public.conversation_documents (conversation_id, document_id) values (:'conv', :'doc');

-- Lexically, for "osprey": first the page saying it four times, then three pages saying it less,
-- fifth a long page saying it once. By vector (the question is the first axis): four pages
-- without the word, then that long page, fifth again. The first page has no vector.
select tests.as_postgres();
create temporary table fusion_pages (page int, content text, toward double precision) on commit drop;
insert into fusion_pages values
  (1, 'Osprey osprey osprey osprey.', null),
  (2, 'Osprey osprey osprey over the bay.', null),
  (3, 'Osprey osprey fishing over the bay at dawn.', null),
  (4, 'An osprey was fishing over the bay at dawn and dusk, seen from the pier by the old harbour.', null),
  (5, 'The long report on coastal birds of prey mentions the osprey once among hawks, kites, falcons, eagles and '
      'harriers that hunt over the marshes, the dunes, the estuary and the river mouth in every season of the year.', 0.5),
  (6, 'Sea eagles.', 0.1), (7, 'Fish hawks.', 0.2), (8, 'Raptors of the coast.', 0.3), (9, 'Birds that dive for fish.', 0.4);
insert into public.document_pages (document_id, user_id, page_number, text, has_text)
select :'doc', :'owner', page, content, true from fusion_pages;
insert into public.document_chunks (document_id, user_id, page_number, start_offset, end_offset, content, embedding, embedding_model)
select :'doc', :'owner', page, 0, length(content), content,
       case when toward is null then null
            else (array[1, toward]::real[] || array_fill(0::real, array[1534]))::extensions.vector end,
       case when toward is null then null else 'test-embedding' end
from fusion_pages;

select tests.authenticate_as('fusion');
\set question_vector '(array[1]::real[] || array_fill(0::real, array[1535]))::extensions.vector'
select results_eq(
  format($$ select page_number, lexical_rank, vector_rank from private.search_conversation_chunks(%L, 'osprey', %s, 10, 'test-embedding')
            where page_number in (1, 5) order by page_number $$, :'conv', :'question_vector'),
  $$ values (1, 1, null::int), (5, 5, 5) $$,
  'the lists are as built: page 1 first lexically and without a vector, page 5 fifth in both');
select results_eq(
  format($$ select page_number from private.search_conversation_chunks(%L, 'osprey', %s, 10, 'test-embedding')
            where page_number in (1, 5) $$, :'conv', :'question_vector'),
  $$ values (1), (5) $$,
  'a passage first in one list outranks one fifth in both');
select results_eq(
  format($$ select page_number from private.search_conversation_chunks(%L, 'osprey', null, 10, 'test-embedding') $$, :'conv'),
  $$ values (1), (2), (3), (4), (5) $$,
  'without an embedding the order is the lexical list''s');

select * from finish();
rollback;
