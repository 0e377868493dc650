-- Sign-up and account deletion as the Auth server does them (role supabase_auth_admin,
-- which has no rights on public): the profile appears, and deleting the user removes
-- every row of theirs and nobody else's.
begin;
create extension if not exists pgtap with schema extensions;
select plan(12);

-- Only so pgTAP's functions can be called while acting as that role; rolled back with the rest.
grant usage on schema extensions to supabase_auth_admin;

set local role supabase_auth_admin;
select lives_ok(
  $$ insert into auth.users (id, aud, role, email, raw_user_meta_data)
     values ('00000000-0000-4000-8000-0000000000aa', 'authenticated', 'authenticated', 'carol@example.test',
             '{"username": "carol"}') $$,
  'the Auth server''s role can sign a user up');
select throws_ok(
  $$ insert into auth.users (id, aud, role, email, raw_user_meta_data)
     values ('00000000-0000-4000-8000-0000000000ab', 'authenticated', 'authenticated', 'carol2@example.test',
             '{"username": "Carol"}') $$,
  '23505', 'username "Carol" is already taken',
  'and is refused a taken username');
reset role;
select is((select username from public.profiles where id = '00000000-0000-4000-8000-0000000000aa'), 'carol',
  'the profile exists after a sign-up by the Auth server');

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

-- private.record_usage is called only by the security definer functions that settle a call; its own
-- ownership checks are tested here by calling it as the user, so it is granted for this transaction.
grant execute on function private.record_usage(uuid, uuid, uuid, text, text, integer, integer, integer, text, integer, text, text) to authenticated;
-- Give both users one of everything.
select tests.authenticate_as('alice');
select private.register_api_key('k', 'openai', 'c', 'h', 'fp') as akey \gset
insert into public.conversations (api_key_id) values (:'akey') returning id as aconv \gset
select (private.begin_exchange(:'aconv', :'akey', 'hi', 'gpt-4o-mini', 10, 10, 600)).id as amsg \gset
select private.record_usage(:'akey', :'aconv', :'amsg', 'openai', 'gpt-4o', 10, 0, 10, 'provider', 5, 'ok', null) is not null as recorded \gset
select tests.authenticate_as('bob');
select private.register_api_key('k', 'openai', 'c', 'h', 'fp') as bkey \gset
insert into public.conversations (api_key_id) values (:'bkey') returning id as bconv \gset
select (private.begin_exchange(:'bconv', :'bkey', 'hi', 'gpt-4o-mini', 10, 10, 600)).id as bmsg \gset
select private.record_usage(:'bkey', :'bconv', :'bmsg', 'openai', 'gpt-4o', 10, 0, 10, 'provider', 5, 'ok', null) is not null as recorded \gset
select tests.as_postgres();
insert into auth.sessions (id, user_id, created_at) values (gen_random_uuid(), :'alice', now());

set local role supabase_auth_admin;
select lives_ok(format($$ delete from auth.users where id = %L $$, :'alice'),
  'the Auth server''s role can delete a user with data in every table');
reset role;

select is((select count(*)::int from public.profiles where id = :'alice'), 0, 'the profile is gone');
select is((select count(*)::int from public.api_keys where user_id = :'alice'), 0, 'the keys are gone');
select is((select count(*)::int from public.conversations where user_id = :'alice'), 0, 'the conversations are gone');
select is((select count(*)::int from public.messages where user_id = :'alice'), 0, 'the messages are gone');
select is((select count(*)::int from public.usage_events where user_id = :'alice'), 0, 'the usage events are gone');
select is((select count(*)::int from auth.sessions where user_id = :'alice'), 0, 'the sessions are gone');
select results_eq(
  format($$ select (select count(*)::int from public.profiles where id = %1$L),
                   (select count(*)::int from public.api_keys where user_id = %1$L),
                   (select count(*)::int from public.conversations where user_id = %1$L and api_key_id is not null),
                   (select count(*)::int from public.messages where user_id = %1$L and api_key_id is not null),
                   (select count(*)::int from public.usage_events where user_id = %1$L and api_key_id is not null
                      and conversation_id is not null and message_id is not null) $$, :'bob'),
  $$ values (1, 1, 1, 1, 1) $$,
  'the other user keeps all their rows and links');

select tests.authenticate_as('bob');
select is((select count(*)::int from public.conversation_list), 1, 'and still sees their conversation');

select * from finish();
rollback;
