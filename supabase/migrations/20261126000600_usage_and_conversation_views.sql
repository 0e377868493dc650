-- Read models for clients. security_invoker: each view shows exactly what the caller's
-- RLS policies on the underlying tables let them see.
-- Events of a deleted key keep their usage under api_key_id null.

create view public.api_key_usage_daily
with (security_invoker = true)
as
select
  e.api_key_id,
  e.user_id,
  (e.created_at at time zone 'utc')::date as day,
  count(*) as requests,
  count(*) filter (where e.outcome = 'error') as errors,
  coalesce(sum(e.prompt_tokens), 0)::bigint as prompt_tokens,
  coalesce(sum(e.cached_prompt_tokens), 0)::bigint as cached_prompt_tokens,
  coalesce(sum(e.completion_tokens), 0)::bigint as completion_tokens,
  coalesce(sum(e.prompt_tokens + e.completion_tokens), 0)::bigint as total_tokens,
  coalesce(sum(e.cost_usd), 0)::numeric(14, 8) as cost_usd,
  count(*) filter (where not e.priced) as unpriced_requests
from public.usage_events e
group by e.api_key_id, e.user_id, (e.created_at at time zone 'utc')::date;

create view public.api_key_usage_by_model
with (security_invoker = true)
as
select
  e.api_key_id,
  e.user_id,
  e.provider,
  e.model,
  count(*) as requests,
  count(*) filter (where e.outcome = 'error') as errors,
  coalesce(sum(e.prompt_tokens), 0)::bigint as prompt_tokens,
  coalesce(sum(e.cached_prompt_tokens), 0)::bigint as cached_prompt_tokens,
  coalesce(sum(e.completion_tokens), 0)::bigint as completion_tokens,
  coalesce(sum(e.prompt_tokens + e.completion_tokens), 0)::bigint as total_tokens,
  coalesce(sum(e.cost_usd), 0)::numeric(14, 8) as cost_usd,
  bool_and(e.priced) as priced
from public.usage_events e
group by e.api_key_id, e.user_id, e.provider, e.model;

-- One row per key, zeros for keys never used. The month is the current UTC calendar month.
-- budget_remaining_usd goes negative once the month's cost exceeds the budget.
create view public.api_key_usage_totals
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
    count(*) as requests,
    count(*) filter (where e.outcome = 'error') as errors,
    sum(e.prompt_tokens) as prompt_tokens,
    sum(e.cached_prompt_tokens) as cached_prompt_tokens,
    sum(e.completion_tokens) as completion_tokens,
    sum(e.prompt_tokens + e.completion_tokens) as total_tokens,
    sum(e.cost_usd) as cost_usd,
    count(*) filter (where not e.priced) as unpriced_requests,
    count(*) filter (where e.created_at >= m.month_start) as month_requests,
    sum(e.prompt_tokens + e.completion_tokens) filter (where e.created_at >= m.month_start) as month_tokens,
    sum(e.cost_usd) filter (where e.created_at >= m.month_start) as month_cost_usd
  from public.usage_events e
  cross join (select date_trunc('month', now() at time zone 'utc') at time zone 'utc' as month_start) m
  where e.api_key_id = k.id and e.user_id = k.user_id
) u on true;

-- A user's conversations with what a list needs. The lateral lookups walk the
-- (conversation_id, user_id, created_at, id) index of messages, one short scan per conversation.
create view public.conversation_list
with (security_invoker = true)
as
select
  c.id,
  c.user_id,
  c.title,
  c.api_key_id,
  c.model,
  c.system_prompt,
  c.created_at,
  c.updated_at,
  mc.message_count,
  lm.created_at as last_message_at,
  left(lm.content, 120) as preview,
  coalesce(lm.created_at, c.updated_at) as last_activity_at
from public.conversations c
cross join lateral (
  select count(*) as message_count
  from public.messages m
  where m.conversation_id = c.id and m.user_id = c.user_id
) mc
left join lateral (
  select m.created_at, m.content
  from public.messages m
  where m.conversation_id = c.id and m.user_id = c.user_id
  order by m.created_at desc, m.id desc
  limit 1
) lm on true;

revoke all on table public.api_key_usage_daily, public.api_key_usage_by_model, public.api_key_usage_totals,
  public.conversation_list from anon, authenticated, service_role;
grant select on table public.api_key_usage_daily, public.api_key_usage_by_model, public.api_key_usage_totals,
  public.conversation_list to authenticated;
