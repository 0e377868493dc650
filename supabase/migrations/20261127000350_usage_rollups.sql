-- Key statistics that cost the same whatever the history. The usage views aggregated every event
-- of a key on each read, so GET /keys/{id}/statistics grew with the key's history
-- (docs/performance.md). Now statement triggers on usage_events keep a daily rollup per key,
-- provider and model, and the views (same names, same columns) aggregate the rollup: one row per
-- day, model and slot.
--
-- The budget check reads a key's month from it too (private.key_month_commitments).
--
-- In slots: a connection adds to slot pg_backend_pid() % 16, so answers on one key do not queue
-- on one row until their commits. Events are not edited (usage_events_keep_as_billed); an event
-- deleted (with its user) is taken off; when a key is deleted, its rollup rows move to "no key"
-- (api_key_id null), as its events do.

create table private.usage_daily (
  api_key_id uuid, -- null: a deleted key, or a call billed without a key
  user_id uuid not null references auth.users (id) on delete cascade,
  day date not null, -- UTC
  provider text not null,
  model text not null,
  slot smallint not null constraint usage_daily_slot_check check (slot between 0 and 15),
  requests bigint not null,
  errors bigint not null,
  prompt_tokens bigint not null,
  cached_prompt_tokens bigint not null,
  completion_tokens bigint not null,
  cost_usd numeric(16, 8) not null,
  unpriced_requests bigint not null,
  constraint usage_daily_key unique nulls not distinct (api_key_id, user_id, day, provider, model, slot)
);
create index usage_daily_user_id_idx on private.usage_daily (user_id);
alter table private.usage_daily enable row level security;
revoke all on table private.usage_daily from public, anon, authenticated, service_role;
-- The views run with the caller's rights (security_invoker): clients read their own rows, and
-- `private` is not exposed by PostgREST, so the views are the way in.
grant select on table private.usage_daily to authenticated;
create policy "usage_daily: owner can select" on private.usage_daily
  for select to authenticated using (user_id = (select auth.uid()));

insert into private.usage_daily (api_key_id, user_id, day, provider, model, slot, requests, errors, prompt_tokens,
                                 cached_prompt_tokens, completion_tokens, cost_usd, unpriced_requests)
select e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date, e.provider, e.model, 0,
       count(*), count(*) filter (where e.outcome = 'error'), sum(e.prompt_tokens), sum(e.cached_prompt_tokens),
       sum(e.completion_tokens), sum(e.cost_usd), count(*) filter (where not e.priced)
from public.usage_events e
group by 1, 2, 3, 4, 5;

-- Keeps the rollup with the events: inserted events are added (to the connection's slot), deleted
-- ones (only ever with their user) taken off any one slot of their group, and an event whose key
-- was deleted (the foreign key's `set null`, the only edit usage_events_keep_as_billed lets
-- through) is taken off its key and added under "no key". A user being deleted (the cascade
-- also unlinks their events from their keys) keeps no rollup: their rows go with them.
create function private.roll_up_usage()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    update private.usage_daily d set
      requests = d.requests - o.requests,
      errors = d.errors - o.errors,
      prompt_tokens = d.prompt_tokens - o.prompt_tokens,
      cached_prompt_tokens = d.cached_prompt_tokens - o.cached_prompt_tokens,
      completion_tokens = d.completion_tokens - o.completion_tokens,
      cost_usd = d.cost_usd - o.cost_usd,
      unpriced_requests = d.unpriced_requests - o.unpriced_requests
    from (select e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date as day, e.provider, e.model,
                 count(*) as requests, count(*) filter (where e.outcome = 'error') as errors, sum(e.prompt_tokens) as prompt_tokens,
                 sum(e.cached_prompt_tokens) as cached_prompt_tokens, sum(e.completion_tokens) as completion_tokens,
                 sum(e.cost_usd) as cost_usd, count(*) filter (where not e.priced) as unpriced_requests
          from old_events e group by 1, 2, 3, 4, 5) o
    where d.api_key_id is not distinct from o.api_key_id and d.user_id = o.user_id and d.day = o.day
      and d.provider = o.provider and d.model = o.model
      and d.slot = (select min(s.slot) from private.usage_daily s
                    where s.api_key_id is not distinct from o.api_key_id and s.user_id = o.user_id and s.day = o.day
                      and s.provider = o.provider and s.model = o.model);
    -- A row taken down to nothing goes: a deleted key leaves no rows of zeros under its id.
    delete from private.usage_daily d
    where (d.api_key_id, d.user_id) in (select o.api_key_id, o.user_id from old_events o)
      and d.requests = 0 and d.errors = 0 and d.prompt_tokens = 0 and d.cached_prompt_tokens = 0
      and d.completion_tokens = 0 and d.cost_usd = 0 and d.unpriced_requests = 0;
  end if;
  if tg_op in ('UPDATE', 'INSERT') then
    insert into private.usage_daily as d (api_key_id, user_id, day, provider, model, slot, requests, errors, prompt_tokens,
                                          cached_prompt_tokens, completion_tokens, cost_usd, unpriced_requests)
    select e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date, e.provider, e.model, pg_catalog.pg_backend_pid() % 16,
           count(*), count(*) filter (where e.outcome = 'error'), sum(e.prompt_tokens), sum(e.cached_prompt_tokens),
           sum(e.completion_tokens), sum(e.cost_usd), count(*) filter (where not e.priced)
    from new_events e
    where exists (select 1 from auth.users u where u.id = e.user_id)
    group by 1, 2, 3, 4, 5
    on conflict on constraint usage_daily_key do update set
      requests = d.requests + excluded.requests,
      errors = d.errors + excluded.errors,
      prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
      cached_prompt_tokens = d.cached_prompt_tokens + excluded.cached_prompt_tokens,
      completion_tokens = d.completion_tokens + excluded.completion_tokens,
      cost_usd = d.cost_usd + excluded.cost_usd,
      unpriced_requests = d.unpriced_requests + excluded.unpriced_requests;
  end if;
  return null;
end;
$$;

-- What was billed stays as billed: an event's cost, time, user and model do not change. Its key
-- may only go (the key was deleted).
create function private.keep_usage_events_as_billed()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.cost_usd, new.created_at, new.user_id, new.provider, new.model) is distinct from
     (old.cost_usd, old.created_at, old.user_id, old.provider, old.model)
     or (new.api_key_id is not null and new.api_key_id is distinct from old.api_key_id) then
    raise exception 'usage events are not edited: what was billed stays as billed' using errcode = 'check_violation';
  end if;
  return new;
end;
$$;
revoke all on function private.roll_up_usage(), private.keep_usage_events_as_billed()
  from public, anon, authenticated, service_role;

create trigger usage_events_roll_up_new
  after insert on public.usage_events
  referencing new table as new_events
  for each statement execute function private.roll_up_usage();
create trigger usage_events_roll_up_deleted
  after delete on public.usage_events
  referencing old table as old_events
  for each statement execute function private.roll_up_usage();
create trigger usage_events_roll_up_unlinked
  after update on public.usage_events
  referencing old table as old_events new table as new_events
  for each statement execute function private.roll_up_usage();
create trigger usage_events_keep_as_billed
  before update on public.usage_events
  for each row execute function private.keep_usage_events_as_billed();

-- The views, same columns as before, now over the rollup.
create or replace view public.api_key_usage_daily
with (security_invoker = true)
as
select
  d.api_key_id,
  d.user_id,
  d.day,
  sum(d.requests)::bigint as requests,
  sum(d.errors)::bigint as errors,
  sum(d.prompt_tokens)::bigint as prompt_tokens,
  sum(d.cached_prompt_tokens)::bigint as cached_prompt_tokens,
  sum(d.completion_tokens)::bigint as completion_tokens,
  sum(d.prompt_tokens + d.completion_tokens)::bigint as total_tokens,
  sum(d.cost_usd)::numeric(14, 8) as cost_usd,
  sum(d.unpriced_requests)::bigint as unpriced_requests
from private.usage_daily d
group by d.api_key_id, d.user_id, d.day;

create or replace view public.api_key_usage_by_model
with (security_invoker = true)
as
select
  d.api_key_id,
  d.user_id,
  d.provider,
  d.model,
  sum(d.requests)::bigint as requests,
  sum(d.errors)::bigint as errors,
  sum(d.prompt_tokens)::bigint as prompt_tokens,
  sum(d.cached_prompt_tokens)::bigint as cached_prompt_tokens,
  sum(d.completion_tokens)::bigint as completion_tokens,
  sum(d.prompt_tokens + d.completion_tokens)::bigint as total_tokens,
  sum(d.cost_usd)::numeric(14, 8) as cost_usd,
  sum(d.unpriced_requests) = 0 as priced
from private.usage_daily d
group by d.api_key_id, d.user_id, d.provider, d.model;

create or replace view public.api_key_usage_totals
with (security_invoker = true)
as
select
  k.id as api_key_id,
  k.user_id,
  coalesce(u.requests, 0)::bigint as requests,
  coalesce(u.errors, 0)::bigint as errors,
  coalesce(u.prompt_tokens, 0)::bigint as prompt_tokens,
  coalesce(u.cached_prompt_tokens, 0)::bigint as cached_prompt_tokens,
  coalesce(u.completion_tokens, 0)::bigint as completion_tokens,
  coalesce(u.total_tokens, 0)::bigint as total_tokens,
  coalesce(u.cost_usd, 0)::numeric(14, 8) as cost_usd,
  coalesce(u.unpriced_requests, 0)::bigint as unpriced_requests,
  coalesce(u.month_requests, 0)::bigint as month_requests,
  coalesce(u.month_tokens, 0)::bigint as month_tokens,
  coalesce(u.month_cost_usd, 0)::numeric(14, 8) as month_cost_usd,
  k.monthly_budget_usd,
  (k.monthly_budget_usd - coalesce(u.month_cost_usd, 0))::numeric(14, 8) as budget_remaining_usd
from public.api_keys k
left join lateral (
  select
    sum(d.requests) as requests,
    sum(d.errors) as errors,
    sum(d.prompt_tokens) as prompt_tokens,
    sum(d.cached_prompt_tokens) as cached_prompt_tokens,
    sum(d.completion_tokens) as completion_tokens,
    sum(d.prompt_tokens + d.completion_tokens) as total_tokens,
    sum(d.cost_usd) as cost_usd,
    sum(d.unpriced_requests) as unpriced_requests,
    sum(d.requests) filter (where d.day >= m.month_start) as month_requests,
    sum(d.prompt_tokens + d.completion_tokens) filter (where d.day >= m.month_start) as month_tokens,
    sum(d.cost_usd) filter (where d.day >= m.month_start) as month_cost_usd
  from private.usage_daily d
  cross join (select date_trunc('month', now() at time zone 'utc')::date as month_start) m
  where d.api_key_id = k.id and d.user_id = k.user_id
) u on true;

-- What a key has cost this calendar month (UTC), from the rollup: at most a month of days, models
-- and slots. Invoker rights: RLS limits it to the caller's own rows.
create or replace function public.api_key_month_cost(p_api_key_id uuid)
returns numeric
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(sum(d.cost_usd), 0)::numeric(14, 8)
  from private.usage_daily d
  where d.api_key_id = p_api_key_id
    and d.day >= pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc')::date
$$;
