-- The message path's one-statement calls: private.prepare_exchange (what an exchange needs before
-- the provider call) and private.begin_exchange_as (the pending message and its reservation)
-- become the caller and check the session like the read functions; store_answer returns what
-- the response shows. Only the function's database user may call the first two.
begin;
create extension if not exists pgtap with schema extensions;
select plan(20);

select tests.create_user('alice') as alice \gset
select tests.create_user('bob') as bob \gset
insert into auth.sessions (id, user_id, created_at) values ('00000000-0000-4000-8000-0000000000a1', :'alice', now());
insert into auth.sessions (id, user_id, created_at) values ('00000000-0000-4000-8000-0000000000b1', :'bob', now());
select json_build_object('sub', :'alice', 'role', 'authenticated', 'session_id', '00000000-0000-4000-8000-0000000000a1')::text
  as alice_claims \gset
select json_build_object('sub', :'bob', 'role', 'authenticated', 'session_id', '00000000-0000-4000-8000-0000000000b1')::text
  as bob_claims \gset

select tests.as_postgres();
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, is_selected)
values (:'alice', 'alice key', 'openai', 'sealed-alice', 'h', 'fp-alice', true) returning id as alicekey \gset
insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint, is_selected)
values (:'bob', 'bob key', 'openai', 'sealed-bob', 'h', 'fp-bob', true) returning id as bobkey \gset
insert into public.conversations (id, user_id, title, system_prompt)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'first', 'be brief'),
       ('00000000-0000-4000-8000-00000000000b', :'bob', 'bob''s', null);
insert into public.messages (conversation_id, user_id, role, content, status, created_at)
values ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'one', 'complete', '2026-01-01 10:00:00+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'assistant', 'two', 'complete', '2026-01-01 10:00:01+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'three', 'complete', '2026-01-01 10:00:02+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'still pending', 'pending', '2026-01-01 10:00:03+00'),
       ('00000000-0000-4000-8000-00000000000a', :'alice', 'user', 'it failed', 'failed', '2026-01-01 10:00:04+00');

-- ---- prepare_exchange ----
select tests.as_postgres();
select results_eq(
  format($$ select system_prompt, documents_attached, key_id, key_provider, key_is_valid, key_ciphertext
            from private.prepare_exchange(%L, '00000000-0000-4000-8000-00000000000a', 10) $$, :'alice_claims'),
  format($$ values ('be brief'::text, false, %L::uuid, 'openai'::text, true, 'sealed-alice'::text) $$, :'alicekey'),
  'prepare_exchange: the conversation with the caller''s selected key and its ciphertext');
select is(current_user::text, 'authenticated', 'prepare_exchange became the caller for the rest of the transaction');
select tests.as_postgres();
select is(
  (select history from private.prepare_exchange(:'alice_claims', '00000000-0000-4000-8000-00000000000a', 2)),
  '[{"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]'::jsonb,
  'prepare_exchange: the latest answered turns, oldest first (not pending, not failed)');
select tests.as_postgres();
select is_empty(
  format($$ select 1 from private.prepare_exchange(%L, '00000000-0000-4000-8000-00000000000a', 10) $$, :'bob_claims'),
  'prepare_exchange: another user''s conversation is no row at all (not found)');
select tests.as_postgres();
update public.conversations set api_key_id = :'bobkey' where id = '00000000-0000-4000-8000-00000000000b';
select tests.as_postgres();
select is(
  (select key_id from private.prepare_exchange(:'bob_claims', '00000000-0000-4000-8000-00000000000b', 10)), :'bobkey'::uuid,
  'prepare_exchange: the conversation''s own key');
select tests.as_postgres();
update public.api_keys set is_selected = false where id = :'alicekey';
select tests.as_postgres();
select results_eq(
  format($$ select key_id, key_ciphertext from private.prepare_exchange(%L, '00000000-0000-4000-8000-00000000000a', 10) $$, :'alice_claims'),
  $$ values (null::uuid, null::text) $$,
  'prepare_exchange: no key to answer with is a row without a key');
select tests.as_postgres();
update public.api_keys set is_selected = true where id = :'alicekey';

-- ---- begin_exchange_as ----
select tests.as_postgres();
select throws_ok(
  format($$ select * from private.begin_exchange_as(%L, '00000000-0000-4000-8000-00000000000a', %L, 'stolen', 'gpt-4o-mini', 10, 10, 600) $$,
         :'alice_claims', :'bobkey'),
  'P0002', null, 'begin_exchange_as: another user''s key is refused');
select tests.as_postgres();
select throws_ok(
  format($$ select * from private.begin_exchange_as(%L, '00000000-0000-4000-8000-00000000000b', %L, 'intruder', 'gpt-4o-mini', 10, 10, 600) $$,
         :'alice_claims', :'alicekey'),
  'P0002', null, 'begin_exchange_as: another user''s conversation is refused');
select tests.as_postgres();
select (private.begin_exchange_as(:'alice_claims', '00000000-0000-4000-8000-00000000000a', :'alicekey', 'question', 'gpt-4o-mini',
  10, 10, 600)).id as question \gset
select is(current_user::text, 'authenticated', 'begin_exchange_as became the caller');
select tests.as_postgres();
select results_eq(
  format($$ select user_id, status, api_key_id from public.messages where id = %L $$, :'question'),
  format($$ values (%L::uuid, 'pending'::text, %L::uuid) $$, :'alice', :'alicekey'),
  'begin_exchange_as: the caller''s message, pending, on the key');
select is((select count(*)::int from private.budget_reservations where message_id = :'question'), 1,
  'begin_exchange_as: with its reservation');

-- ---- store_answer returns what the response shows ----
select tests.authenticate_as('alice');
select private.store_answer(:'question', 'the answer', 'gpt-4o-mini', 10, 0, 20, 'provider', 7) as stored \gset
select tests.as_postgres();
select is((:'stored'::jsonb -> 'user_message' ->> 'id')::uuid, :'question'::uuid, 'store_answer returns the question');
select is(:'stored'::jsonb -> 'user_message' ->> 'status', 'complete', 'as it now stands: complete');
select is(:'stored'::jsonb -> 'assistant_message' ->> 'content', 'the answer', 'and the answer');
select is((:'stored'::jsonb -> 'usage_event' ->> 'completion_tokens')::int, 20, 'and the usage event');

-- ---- the session, and who may call them ----
select tests.as_postgres();
delete from auth.sessions where id = '00000000-0000-4000-8000-0000000000a1';
select throws_ok(format($$ select * from private.prepare_exchange(%L, '00000000-0000-4000-8000-00000000000a', 10) $$, :'alice_claims'),
  'PT401', 'session ended', 'after logout prepare_exchange is refused');
select throws_ok(
  format($$ select * from private.begin_exchange_as(%L, '00000000-0000-4000-8000-00000000000a', %L, 'late', 'gpt-4o-mini', 10, 10, 600) $$,
         :'alice_claims', :'alicekey'),
  'PT401', 'session ended', 'after logout begin_exchange_as is refused');
select tests.as_postgres();
select is((select count(*)::int from public.messages where content = 'late'), 0, 'and stores nothing');

select ok(
  not exists (
    select 1 from unnest(array['private.prepare_exchange(text,uuid,integer)'::regprocedure,
                               'private.begin_exchange_as(text,uuid,uuid,text,text,integer,integer,integer)'::regprocedure]) f(oid)
    cross join unnest(array['anon', 'authenticated', 'service_role', 'public']) r(role)
    where (r.role = 'public' and exists (select 1 from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                                         where p.oid = f.oid and a.grantee = 0 and a.privilege_type = 'EXECUTE'))
       or (r.role <> 'public' and has_function_privilege(r.role, f.oid, 'execute'))),
  'no API role (nor public) can execute prepare_exchange or begin_exchange_as');
select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.oid in ('private.prepare_exchange(text,uuid,integer)'::regprocedure,
                        'private.begin_exchange_as(text,uuid,uuid,text,text,integer,integer,integer)'::regprocedure)
          and not p.prosecdef and 'jit=off' = any(p.proconfig)
        order by 1),
  array['private.begin_exchange_as(text,uuid,uuid,text,text,integer,integer,integer)',
        'private.prepare_exchange(text,uuid,integer)'],
  'both are not security definer and run with JIT off');

select * from finish();
rollback;
