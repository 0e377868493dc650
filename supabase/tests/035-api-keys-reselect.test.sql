-- Deleting the selected key selects the newest remaining valid key.
begin;
create extension if not exists pgtap with schema extensions;
select plan(5);

select tests.create_user('carol') as carol \gset
select tests.create_user('dave') as dave \gset

select tests.authenticate_as('carol');
select private.register_api_key('first', 'openai', 'c1', 'aaaa', 'fp-c1') as k1 \gset
select private.register_api_key('invalid', 'openai', 'c2', 'bbbb', 'fp-c2') as k2 \gset
select tests.as_postgres();
update public.api_keys set is_valid = false where id = :'k2';
select tests.authenticate_as('carol');
select private.register_api_key('second', 'anthropic', 'c3', 'cccc', 'fp-c3') as k3 \gset

delete from public.api_keys where id = :'k1';
select is((select name from public.api_keys where is_selected), 'second',
  'deleting the selected key selects the newest remaining valid key (not the invalid one)');

delete from public.api_keys where id = :'k2';
select is((select name from public.api_keys where is_selected), 'second',
  'deleting an unselected key leaves the selection alone');

delete from public.api_keys where id = :'k3';
select is((select count(*)::int from public.api_keys), 0, 'the last key can be deleted');

select tests.authenticate_as('dave');
select private.register_api_key('only', 'openai', 'd1', 'dddd', 'fp-d1');
select tests.authenticate_as('carol');
select private.register_api_key('again', 'openai', 'c4', 'eeee', 'fp-c4') as k4 \gset
select private.register_api_key('later', 'openai', 'c5', 'ffff', 'fp-c5');
delete from public.api_keys where id = :'k4';
select is((select name from public.api_keys where is_selected), 'later', 'the selection moves within the caller''s own keys');

select tests.clear_authentication();
reset role;
select is((select count(*)::int from public.api_keys where user_id = :'dave' and is_selected), 1,
  'another user''s selected key is untouched');

select * from finish();
rollback;
