-- profiles: created on sign-up, readable and renamable by the owner only.
begin;
create extension if not exists pgtap with schema extensions;
select plan(29);

select tests.create_user('Alice') as alice \gset
select tests.create_user('bob') as bob \gset

-- Sign-up
select results_eq(
  format($$ select username, email from public.profiles where id = %L $$, :'alice'),
  $$ values ('Alice'::text, 'alice@example.test'::text) $$,
  'sign-up creates the profile with the username from the user metadata and the email');

insert into auth.users (id, email, raw_user_meta_data) values ('00000000-0000-4000-8000-00000000abcd', 'nameless@example.test', '{}');
select is(
  (select username from public.profiles where id = '00000000-0000-4000-8000-00000000abcd'),
  'user_000000000000',
  'sign-up without a username derives one from the user id');
insert into auth.users (id, email, raw_user_meta_data) values ('10000000-0000-4000-8000-00000000abcd', 'blank@example.test', '{"username": ""}');
select is(
  (select username from public.profiles where id = '10000000-0000-4000-8000-00000000abcd'),
  'user_100000000000',
  'an empty username counts as none');
insert into auth.users (id, email, raw_user_meta_data) values ('20000000-0000-4000-8000-00000000abcd', 'squatted@example.test', '{"username": "user_200000000000"}');
insert into auth.users (id, email, raw_user_meta_data) values ('20000000-0000-4000-8000-00000000dcba', 'derived@example.test', null);
select is(
  (select username from public.profiles where id = '20000000-0000-4000-8000-00000000dcba'),
  'user_200000000000400080000000000',
  'a derived username someone already chose falls back to a longer one');

select throws_ok(
  $$ select tests.create_user('ab') $$,
  '23514', 'invalid username "ab"',
  'sign-up with a username shorter than 3 characters fails');
select throws_ok(
  $$ select tests.create_user(repeat('a', 33)) $$,
  '23514', null,
  'sign-up with a username longer than 32 characters fails');
select throws_ok(
  $$ select tests.create_user('bad name!', 'bad@example.test') $$,
  '23514', null,
  'sign-up with characters outside letters, digits, _ - . fails');
select lives_ok(
  $$ select tests.create_user('Ok_name-1.2', 'ok@example.test') $$,
  'letters, digits, _ - and . are accepted');
select throws_ok(
  $$ select tests.create_user('ALICE', 'other-alice@example.test') $$,
  '23505', 'username "ALICE" is already taken',
  'sign-up with a taken username fails, whatever its case');
select is(
  (select count(*)::int from auth.users where email in ('other-alice@example.test', 'bad@example.test')),
  0,
  'a refused sign-up leaves no auth user behind');

-- The login email stays in step with auth.users.
update auth.users set email = 'alice@new.example.test' where id = :'alice';
select is((select email from public.profiles where id = :'alice'), 'alice@new.example.test',
  'changing the auth email updates the profile');

-- Owner
select tests.authenticate_as('Alice');
select results_eq(
  $$ select id from public.profiles $$,
  format($$ values (%L::uuid) $$, :'alice'),
  'profiles: owner can select their own profile, and only it');
select results_eq(
  $$ update public.profiles set username = 'alice_renamed' returning username $$,
  $$ values ('alice_renamed'::text) $$,
  'profiles: owner can update their username');
select throws_ok(
  $$ update public.profiles set username = 'x' $$,
  '23514', null,
  'the owner cannot rename to an invalid username');
select throws_ok(
  $$ update public.profiles set username = 'BOB' $$,
  '23505', null,
  'the owner cannot take a username in use, whatever its case');
select throws_ok(
  $$ update public.profiles set email = 'spoof@example.test' $$,
  '42501', null,
  'the owner cannot change the email column (only username is updatable)');
select throws_ok(
  format($$ insert into public.profiles (id, username) values (%L, 'second') $$, :'alice'),
  '42501', null,
  'profiles: clients cannot insert profiles');
select throws_ok(
  $$ delete from public.profiles $$,
  '42501', null,
  'profiles: clients cannot delete profiles');

-- Another user
select tests.authenticate_as('bob');
select is_empty(
  format($$ select 1 from public.profiles where id = %L $$, :'alice'),
  'profiles: another user cannot select the profile');
select is_empty(
  format($$ update public.profiles set username = 'stolen' where id = %L returning 1 $$, :'alice'),
  'profiles: another user cannot update the profile');
select throws_ok(
  format($$ insert into public.profiles (id, username) values (%L, 'fake') $$, :'alice'),
  '42501', null,
  'profiles: another user cannot insert a profile for the user');
select throws_ok(
  format($$ delete from public.profiles where id = %L $$, :'alice'),
  '42501', null,
  'profiles: another user cannot delete the profile');
select results_eq(
  $$ select count(*)::int from public.profiles $$,
  $$ values (1) $$,
  'another user sees only their own profile');

-- Visitor
select tests.clear_authentication();
select throws_ok($$ select * from public.profiles $$, '42501', null, 'profiles: anon cannot select');
select throws_ok(
  format($$ update public.profiles set username = 'anon_was_here' where id = %L $$, :'alice'),
  '42501', null, 'profiles: anon cannot update');

-- Without insert and delete policies, even a grant would not let clients in.
select tests.as_postgres();
grant insert, delete on public.profiles to authenticated;
select tests.authenticate_as('bob');
select throws_ok(
  $$ insert into public.profiles (id, username) values (gen_random_uuid(), 'ghost') $$,
  '42501', 'new row violates row-level security policy for table "profiles"',
  'profiles: with no insert policy, inserts are refused even with a grant');
select is_empty($$ delete from public.profiles returning 1 $$,
  'profiles: with no delete policy, deletes reach no row even with a grant');
select tests.as_postgres();
revoke insert, delete on public.profiles from authenticated;

select tests.as_postgres();
select is((select username from public.profiles where id = :'alice'), 'alice_renamed',
  'only the owner''s change reached the profile');

delete from auth.users where id = :'alice';
select is_empty(format($$ select 1 from public.profiles where id = %L $$, :'alice'),
  'deleting the auth user deletes the profile');

select * from finish();
rollback;
