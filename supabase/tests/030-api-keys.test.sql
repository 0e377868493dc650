-- api_keys: owner-only rows, a write-only secret column, one selected key per user.
begin;
create extension if not exists pgtap with schema extensions;
select plan(46);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset

select tests.authenticate_as('alice');
select private.register_api_key('work', 'openai', 'cipher-alice-1', '…abcd', 'fp-alice-1') as key1 \gset
select private.register_api_key('home', 'anthropic', 'cipher-alice-2', '…efgh', 'fp-alice-2') as key2 \gset
update public.api_keys set monthly_budget_usd = 10 where id = :'key2';

select results_eq(
  $$ select name, is_selected, user_id from public.api_keys order by created_at, name $$,
  format($$ values ('home'::text, false, %1$L::uuid), ('work'::text, true, %1$L::uuid) $$, :'alice'),
  'private.register_api_key registers for the caller; the first key is selected, the next is not');

select tests.as_postgres();
select throws_ok(
  format($$ insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, is_selected)
            values (%L, 'third', 'openai', 'cipher-alice-3', '…ijkl', 'fp-alice-3', true) $$, :'alice'),
  '23505', null,
  'a second selected key for the same user is refused');
select tests.authenticate_as('alice');
select throws_ok(
  $$ update public.api_keys set is_selected = true where name = 'home' $$,
  '23505', null,
  'selecting a second key by update is refused too');
select is((select count(*)::int from public.api_keys where is_selected), 1, 'the user still has exactly one selected key');

-- The secret
select throws_ok($$ select secret_ciphertext from public.api_keys $$, '42501', null,
  'authenticated cannot read secret_ciphertext');
select throws_ok($$ select * from public.api_keys $$, '42501', null,
  'select * fails too, since it includes secret_ciphertext');
select throws_ok(format($$ update public.api_keys set secret_ciphertext = 'x' where id = %L $$, :'key1'), '42501', null,
  'authenticated cannot overwrite secret_ciphertext');
select is(private.api_key_secret(:'key1'), 'cipher-alice-1', 'private.api_key_secret returns the owner''s ciphertext');
select is(private.api_key_secret(gen_random_uuid()), null, 'private.api_key_secret returns null for an unknown key');
select lives_ok(
  $$ select id, user_id, name, provider, hint, fingerprint, is_valid, is_selected, monthly_budget_usd,
            created_at, updated_at, last_used_at, last_validated_at from public.api_keys $$,
  'authenticated can read every other column');

-- Owner updates
select results_eq(
  format($$ update public.api_keys set name = 'work (old)', monthly_budget_usd = 5.5 where id = %L
            returning name, monthly_budget_usd $$, :'key1'),
  $$ values ('work (old)'::text, 5.50::numeric(12,2)) $$,
  'api_keys: owner can rename a key and set its budget');
select throws_ok(format($$ update public.api_keys set is_valid = true where id = %L $$, :'key1'), '42501', null,
  'the owner cannot mark a key valid (only the provider''s answer does, through the api function)');
select throws_ok(format($$ update public.api_keys set last_used_at = now(), last_validated_at = now() where id = %L $$, :'key1'),
  '42501', null, 'the owner cannot forge when a key was used or validated');
select tests.as_postgres();
update public.api_keys set is_valid = false where id = :'key1';
select tests.authenticate_as('alice');
select throws_ok(format($$ update public.api_keys set provider = 'anthropic' where id = %L $$, :'key1'), '42501', null,
  'the provider of a key cannot be changed');
select throws_ok(format($$ update public.api_keys set user_id = %L where id = %L $$, :'bob', :'key1'), '42501', null,
  'a key cannot be given to another user');
select throws_ok(format($$ update public.api_keys set fingerprint = 'x' where id = %L $$, :'key1'), '42501', null,
  'the fingerprint cannot be changed');

-- Input rules (the api function registers keys through private.register_api_key)
select is(private.register_api_key('dup', 'openai', 'c', 'h', 'fp-alice-1'), null,
  'the same key (fingerprint) is not stored twice by one user: register_api_key answers null');
select throws_ok($$ select private.register_api_key('x', 'mistral', 'c', 'h', 'fp-x') $$,
  '23514', null, 'provider must be openai or anthropic');
select throws_ok($$ select private.register_api_key('', 'openai', 'c', 'h', 'fp-x') $$,
  '23514', null, 'name may not be empty');
select throws_ok($$ select private.register_api_key(repeat('n', 101), 'openai', 'c', 'h', 'fp-x') $$,
  '23514', null, 'name is at most 100 characters');
select throws_ok($$ select private.register_api_key('x', 'openai', 'c', '123456789', 'fp-x') $$,
  '23514', null, 'hint is at most 8 characters');
select throws_ok(format($$ update public.api_keys set monthly_budget_usd = -1 where id = %L $$, :'key1'),
  '23514', null, 'a budget cannot be negative');

-- select_api_key
select lives_ok(format($$ select public.select_api_key(%L) $$, :'key2'), 'select_api_key runs for the owner''s key');
select results_eq(
  $$ select name, is_selected from public.api_keys order by name $$,
  $$ values ('home'::text, true), ('work (old)'::text, false) $$,
  'select_api_key selects that key and unselects the other in one call');
select lives_ok(format($$ select public.select_api_key(%L) $$, :'key2'), 'selecting the selected key again is harmless');
select is((select count(*)::int from public.api_keys where is_selected), 1, 'still exactly one selected key');
select throws_ok(format($$ select public.select_api_key(%L) $$, gen_random_uuid()), 'P0002', null,
  'select_api_key of an unknown key raises no_data_found');

-- Another user
select tests.authenticate_as('bob');
select private.register_api_key('bob key', 'openai', 'cipher-bob-1', '…wxyz', 'fp-alice-1') as bobkey \gset
select results_eq(
  $$ select name, is_selected from public.api_keys $$,
  $$ values ('bob key'::text, true) $$,
  'another user sees only their own key, selected as their first; fingerprints are unique per user only');
select is_empty(format($$ select 1 from public.api_keys where id = %L $$, :'key1'),
  'api_keys: another user cannot select the key');
select is_empty(format($$ update public.api_keys set name = 'mine now', monthly_budget_usd = 0 where id = %L returning 1 $$, :'key1'),
  'api_keys: another user cannot update the key');
select is_empty(format($$ delete from public.api_keys where id = %L returning 1 $$, :'key1'),
  'api_keys: another user cannot delete the key');
select throws_ok(
  format($$ insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
            values (%L, 'planted', 'openai', 'c', 'h', 'fp-planted') $$, :'alice'),
  '42501', null,
  'api_keys: another user cannot insert a key for the user');
select is(private.api_key_secret(:'key1'), null, 'private.api_key_secret returns null for another user''s key');
select throws_ok(format($$ select public.select_api_key(%L) $$, :'key1'), 'P0002', null,
  'select_api_key of another user''s key raises no_data_found');

-- Visitor
select tests.clear_authentication();
select throws_ok($$ select id from public.api_keys $$, '42501', null, 'api_keys: anon cannot select');
select throws_ok($$ insert into public.api_keys (name, provider, secret_ciphertext, hint, fingerprint)
                    values ('anon', 'openai', 'c', 'h', 'fp-anon') $$, '42501', null, 'api_keys: anon cannot insert');
select throws_ok($$ update public.api_keys set name = 'anon' $$, '42501', null, 'api_keys: anon cannot update');
select throws_ok($$ delete from public.api_keys $$, '42501', null, 'api_keys: anon cannot delete');
select throws_ok(format($$ select private.api_key_secret(%L) $$, :'key1'), '42501', null,
  'anon cannot call private.api_key_secret');
select throws_ok(format($$ select public.select_api_key(%L) $$, :'key1'), '42501', null,
  'anon cannot call select_api_key');

-- The missing grant already stops that; with no insert policy, RLS stops it on its own too.
select tests.as_postgres();
grant insert on public.api_keys to authenticated;
select tests.authenticate_as('bob');
select throws_ok(
  format($$ insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
            values (%L, 'planted', 'openai', 'c', 'h', 'fp-planted') $$, :'alice'),
  '42501', null,
  'api_keys: a direct insert for another user is refused even if a grant came back (no insert policy; the key lock checks the owner)');
select tests.as_postgres();
revoke insert on public.api_keys from authenticated;

select tests.as_postgres();
select results_eq(
  format($$ select name, is_valid, is_selected from public.api_keys where user_id = %L order by name $$, :'alice'),
  $$ values ('home'::text, true, true), ('work (old)'::text, false, false) $$,
  'nothing the other user or anon tried changed the owner''s keys');

-- Owner deletes
select tests.authenticate_as('alice');
select results_eq(
  format($$ delete from public.api_keys where id = %L returning name $$, :'key1'),
  $$ values ('work (old)'::text) $$,
  'api_keys: owner can delete their key');
select tests.as_postgres();
select is((select count(*)::int from public.api_keys where user_id = :'alice'), 1, 'the owner has one key left');

-- Bookkeeping does not count as editing the key
update public.api_keys set updated_at = '2000-01-01' where id = :'key2';
update public.api_keys set last_used_at = now(), last_validated_at = now() where id = :'key2';
select is((select updated_at from public.api_keys where id = :'key2'), '2000-01-01'::timestamptz,
  'recording use or validation leaves updated_at alone');
update public.api_keys set name = 'home 2' where id = :'key2';
select is((select updated_at from public.api_keys where id = :'key2'), now(), 'renaming a key moves updated_at');

select * from finish();
rollback;
