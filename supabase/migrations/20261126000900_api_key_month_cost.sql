-- What a key has cost this calendar month (UTC), read from the (api_key_id, created_at) index:
-- the budget check before every provider call needs only this month, not the key's whole history
-- that api_key_usage_totals aggregates. Invoker rights: RLS limits it to the caller's own events.
create or replace function public.api_key_month_cost(p_api_key_id uuid)
returns numeric
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(sum(e.cost_usd), 0)::numeric(14, 8)
  from public.usage_events e
  where e.api_key_id = p_api_key_id
    and e.created_at >= (pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc') at time zone 'utc')
$$;
revoke all on function public.api_key_month_cost(uuid) from public, anon, authenticated, service_role;
grant execute on function public.api_key_month_cost(uuid) to authenticated;
