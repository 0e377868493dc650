-- What a list shows is kept on the conversation (and the count on the profile) by triggers, and
-- a page of the list or of a conversation's messages is read from an index in order, also
-- beside a user with a large history.
begin;
create extension if not exists pgtap with schema extensions;
select plan(17);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

-- ---- counters kept by triggers ----
select tests.authenticate_as('alice');
insert into public.conversations (id, title) values ('00000000-0000-4000-8000-00000000000a', 'first');
insert into public.conversations (id, title) values ('00000000-0000-4000-8000-00000000000b', 'second');
select is(private.my_conversation_count(), 2::bigint, 'creating conversations counts them');
-- Another connection counts in its own slot; the count is the sum of the slots, and only the caller's.
select tests.as_postgres();
insert into private.conversation_counts (user_id, slot, conversations) values (:'alice', (pg_backend_pid() + 1) % 16, 3);
select tests.authenticate_as('alice');
select is(private.my_conversation_count(), 5::bigint, 'the count is the sum of the user''s slots');
select tests.authenticate_as('bob');
select is(private.my_conversation_count(), 0::bigint, 'another user''s slots are not counted');
select tests.as_postgres();
delete from private.conversation_counts where user_id = :'alice' and slot = (pg_backend_pid() + 1) % 16;
select tests.authenticate_as('alice');
select results_eq(
  $$ select message_count, last_message_at, preview, last_activity_at = updated_at from public.conversations
     where id = '00000000-0000-4000-8000-00000000000a' $$,
  $$ values (0::bigint, null::timestamptz, null::text, true) $$,
  'a new conversation has no messages and its last activity is its own update time');

-- created_at is not a client column: set up the messages as postgres.
select tests.as_postgres();
update public.conversations set updated_at = '2000-01-01' where id = '00000000-0000-4000-8000-00000000000a';
insert into public.messages (conversation_id, user_id, role, content, created_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'question', '2026-01-01 10:00:00+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'assistant', repeat('0123456789', 20), '2026-01-01 10:00:05+00');
select results_eq(
  $$ select message_count, last_message_at, preview, last_activity_at from public.conversations
     where id = '00000000-0000-4000-8000-00000000000a' $$,
  $$ values (2::bigint, '2026-01-01 10:00:05+00'::timestamptz, repeat('0123456789', 12), '2026-01-01 10:00:05+00'::timestamptz) $$,
  'inserting messages counts them and keeps the last one, its 120-character preview and the last activity');
select is((select updated_at from public.conversations where id = '00000000-0000-4000-8000-00000000000a'), now(),
  'a new message moves updated_at');

insert into public.messages (conversation_id, user_id, role, content, created_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'older, written late', '2025-12-31 00:00:00+00');
select results_eq(
  $$ select message_count, preview from public.conversations where id = '00000000-0000-4000-8000-00000000000a' $$,
  $$ values (3::bigint, repeat('0123456789', 12)) $$,
  'a message dated earlier counts but does not become the last message');

update public.conversations set updated_at = '2000-01-01' where id = '00000000-0000-4000-8000-00000000000b';
select tests.authenticate_as('alice');
delete from public.messages where conversation_id = '00000000-0000-4000-8000-00000000000a' and role = 'assistant';
select results_eq(
  $$ select message_count, last_message_at, preview from public.conversations where id = '00000000-0000-4000-8000-00000000000a' $$,
  $$ values (2::bigint, '2026-01-01 10:00:00+00'::timestamptz, 'question'::text) $$,
  'deleting a message uncounts it and the previous message becomes the last');

select throws_ok(
  $$ update public.conversations set message_count = 100 where id = '00000000-0000-4000-8000-00000000000a' $$,
  '42501', null, 'clients cannot write the message count');
select throws_ok($$ update public.conversations set preview = 'forged' $$, '42501', null, 'clients cannot write the preview');
select throws_ok($$ update private.conversation_counts set conversations = 0 $$, '42501', null,
  'clients cannot write their conversation count');

insert into public.conversations (id, title) values ('00000000-0000-4000-8000-00000000000c', 'short-lived');
-- messages are written through private.begin_exchange / store_answer, never directly by a client
select tests.as_postgres();
insert into public.messages (conversation_id, user_id, role, content) values ('00000000-0000-4000-8000-00000000000c', :'alice', 'user', 'bye');
select tests.authenticate_as('alice');
delete from public.conversations where id = '00000000-0000-4000-8000-00000000000c';
select is(private.my_conversation_count(), 2::bigint,
  'deleting a conversation (and with it its messages) uncounts it');

-- ---- plans: one user's page, read in order from the index, while another user has thousands ----
select tests.as_postgres();
insert into public.conversations (user_id, title) select :'bob', 'bob ' || g from generate_series(1, 5000) g;
insert into public.messages (conversation_id, user_id, role, content)
select c.id, :'bob', 'user', 'hi' from public.conversations c where c.user_id = :'bob';
analyze public.conversations;
analyze public.messages;
select is((select sum(conversations)::bigint from private.conversation_counts where user_id = :'bob'), 5000::bigint,
  'a bulk insert counts every conversation');
select is((select sum(message_count)::int from public.conversations where user_id = :'bob'), 5000,
  'a bulk insert of messages counts each conversation''s');

select tests.authenticate_as('alice');
select ok(
  exists (select 1 from tests.explain(format(
            $$ select * from public.conversations c where c.user_id = %L order by c.last_activity_at desc, c.id desc limit 20 $$,
            :'alice')) l
          where l ~ 'Index Scan using conversations_user_id_last_activity_at_id_idx')
  and not exists (select 1 from tests.explain(format(
            $$ select * from public.conversations c where c.user_id = %L order by c.last_activity_at desc, c.id desc limit 20 $$,
            :'alice')) l
          where l ~ 'Sort|Seq Scan'),
  'under RLS, a page of the list reads the caller''s rows from the index in order, with no sort, beside a heavy user');
select tests.authenticate_as('bob');
select ok(
  exists (select 1 from tests.explain(format(
            $$ select * from public.conversations c where c.user_id = %L order by c.last_activity_at desc, c.id desc limit 20 offset 20 $$,
            :'bob')) l
          where l ~ 'Index Scan using conversations_user_id_last_activity_at_id_idx')
  and not exists (select 1 from tests.explain(format(
            $$ select * from public.conversations c where c.user_id = %L order by c.last_activity_at desc, c.id desc limit 20 offset 20 $$,
            :'bob')) l
          where l ~ 'Sort|Seq Scan'),
  'the heavy user''s page too: the first rows of the index, not the whole history sorted');
select ok(
  exists (select 1 from tests.explain(format(
            $$ select * from public.messages m where m.conversation_id = %L and m.user_id = %L order by m.created_at, m.id limit 20 $$,
            (select id from public.conversations where user_id = :'bob' limit 1), :'bob')) l
          where l ~ 'Index Scan using messages_conversation_id_user_id_created_at_id_idx')
  and not exists (select 1 from tests.explain(format(
            $$ select * from public.messages m where m.conversation_id = %L and m.user_id = %L order by m.created_at, m.id limit 20 $$,
            (select id from public.conversations where user_id = :'bob' limit 1), :'bob')) l
          where l ~ 'Sort|Seq Scan'),
  'under RLS, a page of a conversation''s messages with the explicit owner filter reads the index in order');

select * from finish();
rollback;
