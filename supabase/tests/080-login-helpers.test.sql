-- private.resolve_login (username or email to login email) and private.session_is_active.
begin;
create extension if not exists pgtap with schema extensions;
select plan(19);

select tests.create_user('Alice.Smith', 'Alice@Example.test') as alice \gset
select tests.create_user('bob') as bob \gset

-- resolve_login is for the service role only.
set local role service_role;
select is(private.resolve_login('Alice.Smith'), 'Alice@Example.test', 'resolve_login finds a user by username');
select is(private.resolve_login('alice.smith'), 'Alice@Example.test', 'resolve_login ignores the username''s case');
select is(private.resolve_login('ALICE.SMITH'), 'Alice@Example.test', 'resolve_login ignores the username''s case (upper)');
select is(private.resolve_login('alice@example.test'), 'Alice@Example.test', 'resolve_login finds a user by email, any case');
select is(private.resolve_login('  bob@example.test '), 'bob@example.test', 'resolve_login ignores surrounding blanks');
select is(private.resolve_login('nobody'), null, 'resolve_login returns null for an unknown username');
select is(private.resolve_login('nobody@example.test'), null, 'resolve_login returns null for an unknown email');
select is(private.resolve_login(''), null, 'resolve_login returns null for an empty identifier');
select is(private.resolve_login(null), null, 'resolve_login returns null for null');
reset role;

select tests.authenticate_as('bob');
select throws_ok($$ select private.resolve_login('Alice.Smith') $$, '42501', null, 'authenticated cannot call resolve_login');
select tests.clear_authentication();
select throws_ok($$ select private.resolve_login('Alice.Smith') $$, '42501', null, 'anon cannot call resolve_login');

-- Sessions
select tests.as_postgres();
insert into auth.sessions (id, user_id, created_at, not_after)
values ('00000000-0000-4000-8000-0000000000a1', :'alice', now(), null),
       ('00000000-0000-4000-8000-0000000000a2', :'alice', now(), now() + interval '1 hour'),
       ('00000000-0000-4000-8000-0000000000a3', :'alice', now(), now() - interval '1 second'),
       ('00000000-0000-4000-8000-0000000000b1', :'bob', now(), null);

select tests.authenticate_as('Alice.Smith');
select is(private.session_is_active('00000000-0000-4000-8000-0000000000a1'), true, 'a session without not_after is active');
select is(private.session_is_active('00000000-0000-4000-8000-0000000000a2'), true, 'a session before its not_after is active');
select is(private.session_is_active('00000000-0000-4000-8000-0000000000a3'), false, 'a session past its not_after is not');
select is(private.session_is_active('00000000-0000-4000-8000-0000000000b1'), false, 'another user''s session does not count');
select is(private.session_is_active(gen_random_uuid()), false, 'an unknown session is not active');
select tests.as_postgres();
delete from auth.sessions where id = '00000000-0000-4000-8000-0000000000a1';
select tests.authenticate_as('Alice.Smith');
select is(private.session_is_active('00000000-0000-4000-8000-0000000000a1'), false, 'a deleted (logged out) session is not active');
select throws_ok($$ select id from auth.sessions $$, '42501', null, 'authenticated cannot read auth.sessions itself');

select tests.clear_authentication();
select throws_ok($$ select private.session_is_active('00000000-0000-4000-8000-0000000000b1') $$, '42501', null,
  'anon cannot call session_is_active');

select * from finish();
rollback;
