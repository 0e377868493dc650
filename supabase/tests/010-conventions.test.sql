-- The database conventions of docs/architecture.md, checked on the catalog so a later migration
-- that breaks one fails here (the Supabase advisors' rules among them).
begin;
create extension if not exists pgtap with schema extensions;
select plan(24);

select tables_are('public', array['profiles', 'api_keys', 'conversations', 'messages', 'model_prices', 'usage_events',
                          'documents', 'document_pages', 'document_chunks', 'conversation_documents'],
  'public has exactly the expected tables');
select views_are('public', array['api_key_usage_daily', 'api_key_usage_by_model', 'api_key_usage_totals', 'conversation_list'],
  'public has exactly the expected views');

select is(
  array(select c.relname::text from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity
        order by 1),
  array[]::text[],
  'every table in public has row level security enabled');

select is(
  array(select c.relname::text from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
          and not coalesce(c.reloptions @> array['security_invoker=true'], false)
        order by 1),
  array[]::text[],
  'every view in public is security_invoker');

select is(
  array(select format('%s.%s', tablename, policyname) from pg_policies
        where schemaname = 'public' and cmd = 'ALL' order by 1),
  array[]::text[],
  'no policy is FOR ALL');

select is(
  array(select format('%s.%s', tablename, policyname) from pg_policies
        where schemaname = 'public' and roles <> array['authenticated']::name[] order by 1),
  array[]::text[],
  'every policy is TO authenticated');

-- Advisor 0003 (auth_rls_initplan): auth.<fn>() must be wrapped in a select.
select is(
  array(select format('%s.%s', tablename, policyname) from pg_policies
        where schemaname = 'public'
          and ((qual ~ 'auth\.(uid|jwt|role|email)\(\)' and lower(qual) !~ 'select\s+auth\.(uid|jwt|role|email)\(\)')
            or (with_check ~ 'auth\.(uid|jwt|role|email)\(\)' and lower(with_check) !~ 'select\s+auth\.(uid|jwt|role|email)\(\)'))
        order by 1),
  array[]::text[],
  'policies call auth functions through (select ...), once per statement');

-- Advisor 0015: user metadata is user-editable and has no place in a policy.
select is(
  array(select format('%s.%s', tablename, policyname) from pg_policies
        where schemaname = 'public' and (coalesce(qual, '') || coalesce(with_check, '')) ~ 'user_metadata'
        order by 1),
  array[]::text[],
  'no policy reads user_metadata');

-- Advisor 0006: one permissive policy per table, role and command.
select is(
  array(select format('%s %s', tablename, cmd) from pg_policies
        where schemaname = 'public' and permissive = 'PERMISSIVE'
        group by tablename, cmd having count(*) > 1 order by 1),
  array[]::text[],
  'at most one permissive policy per table and command');

-- Advisor 0001: every foreign key has an index whose leading columns are the key's columns.
select is(
  array(
    select format('%s.%s', c.conrelid::regclass, c.conname)
    from pg_constraint c
    where c.contype = 'f' and c.connamespace = 'public'::regnamespace
      and not exists (
        select 1 from pg_index i
        where i.indrelid = c.conrelid and i.indisvalid
          and (string_to_array(i.indkey::text, ' ')::smallint[])[1:array_length(c.conkey, 1)] = c.conkey)
    order by 1),
  array[]::text[],
  'every foreign key in public is covered by an index');

-- A policy's columns are recorded as its dependencies.
select is(
  array(
    select distinct format('%s.%s', p.polrelid::regclass, a.attname)
    from pg_policy p
    join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
      and d.refclassid = 'pg_class'::regclass and d.refobjid = p.polrelid and d.refobjsubid > 0
    join pg_attribute a on a.attrelid = p.polrelid and a.attnum = d.refobjsubid
    join pg_class c on c.oid = p.polrelid
    where c.relnamespace = 'public'::regnamespace
      and not exists (select 1 from pg_index i where i.indrelid = p.polrelid and i.indkey[0] = d.refobjsubid)
    order by 1),
  array[]::text[],
  'every column a policy compares is the leading column of an index');

-- Advisor 0011 (function_search_path_mutable), for our schemas.
select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
          and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search_path=%')
        order by 1),
  array[]::text[],
  'every function in public and private sets search_path');

select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.prosecdef order by 1),
  array[]::text[],
  'no security definer function in the exposed public schema');

-- Advisor 0028: nothing runs with elevated rights for anon.
select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
          and has_function_privilege('anon', p.oid, 'execute')
        order by 1),
  array[]::text[],
  'anon can execute no function in public or private');

select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
          and has_function_privilege('authenticated', p.oid, 'execute')
        order by 1),
  array[
    'api_key_month_cost(uuid)',
    'private.api_key_secret(uuid)',
    'private.begin_exchange(uuid,uuid,text,text,integer,integer,integer)',
    'private.fail_exchange(uuid,text,boolean,text,integer,integer,integer,text,integer)',
    'private.lock_user_api_keys(uuid)',
    'private.my_conversation_count()',
    'private.owner_openai_key(uuid)',
    'private.queue_embedding(text,uuid)',
    'private.register_api_key(text,text,text,text,text)',
    'private.reserve_embedding(uuid,uuid,text,integer,integer)',
    'private.search_conversation_chunks(uuid,text,vector,integer,text)',
    'private.session_is_active(uuid)',
    'private.settle_embedding(uuid,uuid,text,integer,text,integer,text)',
    'private.store_answer(uuid,text,text,integer,integer,integer,text,integer,jsonb)',
    'private.store_extractive_exchange(uuid,text,text,jsonb)',
    'private.sweep_stale_exchanges(uuid)',
    'select_api_key(uuid)'
  ],
  'authenticated can execute exactly the functions granted to it on purpose');

select is(
  array(select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
          and has_function_privilege('service_role', p.oid, 'execute')
        order by 1),
  array['private.resolve_login(text)'],
  'service_role can execute only private.resolve_login');

select ok(not has_schema_privilege('anon', 'private', 'usage'), 'anon cannot use schema private');
select ok(not has_schema_privilege('anon', 'private', 'create')
          and not has_schema_privilege('authenticated', 'private', 'create')
          and not has_schema_privilege('service_role', 'private', 'create'),
  'no API role can create objects in schema private');

select is(
  array(select format('%s %s', c.relname, pr.p) from pg_class c
        cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) pr(p)
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v')
          and has_table_privilege('anon', c.oid, pr.p)
        order by 1),
  array[]::text[],
  'anon has no privilege on any table or view in public');

select is(
  array(select format('%s %s', c.relname, pr.p) from pg_class c
        cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) pr(p)
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v')
          and (has_table_privilege('authenticated', c.oid, pr.p)
               or (pr.p in ('select', 'insert', 'update', 'references')
                   and has_any_column_privilege('authenticated', c.oid, pr.p)))
        order by 1),
  array[
    'api_key_usage_by_model select', 'api_key_usage_daily select', 'api_key_usage_totals select',
    'api_keys delete', 'api_keys select', 'api_keys update',
    'conversation_documents delete', 'conversation_documents insert', 'conversation_documents select',
    'conversation_list select',
    'conversations delete', 'conversations insert', 'conversations select', 'conversations update',
    'document_chunks select', 'document_pages select', 'documents select',
    'messages delete', 'messages select',
    'model_prices select',
    'profiles select', 'profiles update',
    'usage_events select'
  ],
  'authenticated has exactly the expected table privileges');

-- What a supabase-js client may write directly (issue 11): every other write goes through private.
select is(
  array(select format('%s.%s %s', c.relname, a.attname, pr.p) from pg_class c
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        cross join unnest(array['insert', 'update']) pr(p)
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
          and has_column_privilege('authenticated', c.oid, a.attnum, pr.p)
        order by 1),
  array[
    'api_keys.is_selected update', 'api_keys.monthly_budget_usd update', 'api_keys.name update',
    -- attaching a document: both foreign keys carry the user id, so only one's own pair attaches
    'conversation_documents.conversation_id insert', 'conversation_documents.document_id insert',
    'conversation_documents.user_id insert',
    'conversations.api_key_id insert', 'conversations.api_key_id update', 'conversations.id insert',
    'conversations.model insert', 'conversations.model update', 'conversations.system_prompt insert',
    'conversations.system_prompt update', 'conversations.title insert', 'conversations.title update',
    'conversations.user_id insert',
    'profiles.username update'
  ],
  'authenticated may insert and update exactly these columns directly');

select is(
  array(select format('%s %s', c.relname, pr.p) from pg_class c
        cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) pr(p)
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'S')
          and has_table_privilege('service_role', c.oid, pr.p)
        order by 1),
  array[]::text[],
  'service_role has no table privileges: work that bypasses RLS goes through private functions');

-- Objects a later migration creates in public are not opened to the API roles by default.
create table public.zz_default_privileges_probe (id int);
create function public.zz_default_privileges_probe_fn() returns int language sql set search_path = '' as 'select 1';
select ok(
  not has_table_privilege('anon', 'public.zz_default_privileges_probe', 'select')
  and not has_table_privilege('authenticated', 'public.zz_default_privileges_probe', 'select')
  and not has_table_privilege('service_role', 'public.zz_default_privileges_probe', 'select'),
  'new tables in public get no grants to anon, authenticated or service_role by default');
select ok(
  not exists (
    select 1 from pg_proc p cross join lateral aclexplode(p.proacl) a
    where p.oid = 'public.zz_default_privileges_probe_fn()'::regprocedure
      and a.grantee in ('anon'::regrole, 'authenticated'::regrole, 'service_role'::regrole)),
  'new functions in public are not granted to anon, authenticated or service_role by default');

select * from finish();
rollback;
