-- Functions run on every request are plpgsql, not SQL, so their plans are cached.
--
-- A LANGUAGE sql function that Postgres cannot inline into its caller (one that is security
-- definer, or has a SET clause such as our `set search_path = ''`) is parsed, analysed and planned
-- again on every call: there is no plan cache for SQL function bodies in Postgres 15. The
-- session check below runs in every authenticated request, and its re-planning was a large share
-- of Postgres's CPU when creating a conversation; plpgsql keeps one plan per connection
-- (figures: docs/performance.md). The others run once or twice per message or key read.
--
-- Bodies and signatures are unchanged; each is still one statement, so one snapshot
-- (key_month_commitments relies on that). pgTAP 076 keeps the rule: no SQL function in public or
-- private that cannot be inlined, except the two listed there.

create or replace function private.session_is_active(p_session_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1
    from auth.sessions s
    where s.id = p_session_id
      and s.user_id = (select auth.uid())
      and (s.not_after is null or s.not_after > now())
  );
end;
$$;

create or replace function private.resolve_login(p_identifier text)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (
    select u.email::text
    from auth.users u
    where strpos(p_identifier, '@') > 0
      and lower(u.email) = lower(btrim(p_identifier))
    union all
    select u.email::text
    from public.profiles p
    join auth.users u on u.id = p.id
    where strpos(p_identifier, '@') = 0
      and lower(p.username) = lower(btrim(p_identifier))
    limit 1);
end;
$$;

create or replace function private.api_key_secret(p_key_id uuid)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (
    select k.secret_ciphertext
    from public.api_keys k
    where k.id = p_key_id and k.user_id = (select auth.uid()));
end;
$$;

create or replace function public.api_key_month_cost(p_api_key_id uuid)
returns numeric
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  return (
    select coalesce(sum(d.cost_usd), 0)::numeric(14, 8)
    from private.usage_daily d
    where d.api_key_id = p_api_key_id
      and d.day >= pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc')::date);
end;
$$;

create or replace function private.key_month_commitments(p_api_key_id uuid, p_user_id uuid, out spent_usd numeric, out reserved_usd numeric)
language plpgsql
stable
set search_path = ''
as $$
begin
  select (select coalesce(sum(d.cost_usd), 0) from private.usage_daily d
          where d.api_key_id = p_api_key_id and d.user_id = p_user_id
            and d.day >= pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc')::date),
         (select coalesce(sum(r.amount_usd), 0) from private.budget_reservations r
          where r.api_key_id = p_api_key_id and r.user_id = p_user_id and r.expires_at > pg_catalog.now())
    into spent_usd, reserved_usd;
end;
$$;

create or replace function private.exchange_key_id(p_user_message_id uuid, p_user_id uuid)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
begin
  return coalesce(
    (select r.api_key_id from private.budget_reservations r where r.message_id = p_user_message_id and r.user_id = p_user_id),
    (select m.api_key_id from public.messages m where m.id = p_user_message_id and m.user_id = p_user_id));
end;
$$;

create or replace function private.citations_quote_their_pages(p_user_id uuid, p_citations jsonb)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  return pg_catalog.jsonb_typeof(p_citations) = 'array' and not exists (
    select 1 from pg_catalog.jsonb_array_elements(p_citations) c
    where not exists (
      select 1 from public.document_pages p
      where p.document_id = (c->>'document_id')::uuid and p.user_id = p_user_id
        and p.page_number = (c->>'page')::integer
        and pg_catalog.length(c->>'quote') > 0 and pg_catalog.strpos(p.text, c->>'quote') > 0));
end;
$$;
