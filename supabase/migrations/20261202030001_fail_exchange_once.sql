-- Recording a failed provider call is retried in the background while the database is away
-- (the api function, like storing an answer), so fail_exchange must record an attempt once
-- however often it runs: a retry whose earlier attempt did commit finds the exchange settled
-- (its reservation gone, its message no longer pending) and changes nothing. So does a call
-- after the sweeper failed the message as interrupted. Otherwise as in 20261127000400.
create or replace function private.fail_exchange(
  p_user_message_id uuid,
  p_error_code text,
  p_key_refused boolean,
  p_model text,
  p_prompt_tokens integer,
  p_cached_prompt_tokens integer,
  p_completion_tokens integer,
  p_usage_source text,
  p_latency_ms integer
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_reservation private.budget_reservations;
  v_question public.messages;
  v_key_id uuid;
  v_provider text;
begin
  if v_user_id is null then
    raise exception 'fail_exchange needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  perform private.lock_budgeted_key(private.exchange_key_id(p_user_message_id, v_user_id), v_user_id);
  select r.* into v_reservation from private.budget_reservations r
  where r.message_id = p_user_message_id and r.user_id = v_user_id for update;
  select m.* into v_question from public.messages m
  where m.id = p_user_message_id and m.user_id = v_user_id and m.role = 'user' for update;
  if v_question.id is null and v_reservation.message_id is null then
    raise exception 'message % not found', p_user_message_id using errcode = 'no_data_found';
  end if;
  if v_question.id is not null and v_question.status = 'complete' then
    return;
  end if;
  if v_reservation.message_id is null and v_question.status <> 'pending' then
    return; -- settled already: recorded by an earlier attempt, or failed by the sweeper
  end if;
  delete from private.budget_reservations where message_id = p_user_message_id;
  if v_question.id is not null then
    update public.messages set status = 'failed', error_code = p_error_code where id = v_question.id;
  end if;
  v_key_id := coalesce(v_question.api_key_id, v_reservation.api_key_id);
  v_provider := coalesce(v_reservation.provider,
    (select k.provider from public.api_keys k where k.id = v_key_id and k.user_id = v_user_id));
  if v_provider is null then
    return; -- nothing known to bill it to
  end if;
  if p_key_refused and v_key_id is not null then
    update public.api_keys set is_valid = false where id = v_key_id and user_id = v_user_id;
  end if;
  perform private.record_usage(v_key_id,
    (select c.id from public.conversations c
     where c.id = coalesce(v_question.conversation_id, v_reservation.conversation_id) and c.user_id = v_user_id),
    null, v_provider, p_model, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens, p_usage_source, p_latency_ms,
    'error', p_error_code);
end;
$$;
