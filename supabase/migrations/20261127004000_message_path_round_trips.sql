-- Fewer round trips on the message path (POST /conversations/{id}/messages).
--
-- Before the provider call: one statement reads what the exchange needs (the conversation, its
-- key with the ciphertext, whether documents are attached, the answered history), and one
-- statement stores the pending message with its budget reservation. Each becomes the caller as
-- the read functions do (private.begin_request: role authenticated, the claims, the session
-- check), so each is its own short transaction: the key's row lock that begin_exchange takes is
-- held only for that one statement. Like the read functions they are not security definer and
-- only the function's database user may call them (with EXECUTE, anyone could pass claims of
-- their choosing); what they do as the caller is what the caller may do (RLS, and
-- begin_exchange's own checks).
--
-- After the provider call: store_answer also returns the question as it now stands, so the
-- settle transaction is one statement after the claims (the usage event and the answer were
-- already returned).

-- What an exchange in p_conversation_id needs before the provider call. No row: not the
-- caller's conversation. key_id is null when there is no key to answer with (neither the
-- conversation's nor a selected one). history: the latest p_history_limit answered turns,
-- oldest first, [{role, content}] (pending and failed messages are not part of it).
create function private.prepare_exchange(p_claims text, p_conversation_id uuid, p_history_limit integer)
returns table (
  api_key_id uuid, model text, system_prompt text, documents_attached boolean,
  key_id uuid, key_provider text, key_is_valid boolean, key_ciphertext text, history jsonb
)
language plpgsql
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  v_user uuid := private.begin_request(p_claims);
begin
  return query
    select c.api_key_id, c.model, c.system_prompt,
           exists (select 1 from public.conversation_documents d where d.conversation_id = c.id and d.user_id = v_user),
           k.id, k.provider, k.is_valid, case when k.id is not null then private.api_key_secret(k.id) end,
           coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('role', h.role, 'content', h.content)
                                                 order by h.created_at, h.id)
                     from (select m.role, m.content, m.created_at, m.id from public.messages m
                           -- (select v_user): an estimate that does not depend on the user, so a user
                           -- newer than the statistics still reads the conversation's index backwards
                           -- rather than all of their messages
                           where m.conversation_id = p_conversation_id and m.user_id = (select v_user)
                             and m.status = 'complete' and m.role <> 'system'
                           order by m.created_at desc, m.id desc limit p_history_limit) h),
                    '[]'::jsonb)
    from public.conversations c
    left join public.api_keys k
      on k.user_id = v_user
     and k.id = coalesce(c.api_key_id, (select s.id from public.api_keys s where s.user_id = v_user and s.is_selected))
    where c.id = p_conversation_id and c.user_id = v_user;
end;
$$;

-- private.begin_exchange as the caller of p_claims (session checked), in one statement.
create function private.begin_exchange_as(
  p_claims text,
  p_conversation_id uuid,
  p_api_key_id uuid,
  p_content text,
  p_model text,
  p_prompt_tokens integer,
  p_max_output_tokens integer,
  p_expires_in_seconds integer
)
returns public.messages
language plpgsql
volatile
set search_path = ''
set jit = off
as $$
begin
  perform private.begin_request(p_claims);
  return private.begin_exchange(p_conversation_id, p_api_key_id, p_content, p_model, p_prompt_tokens,
                                p_max_output_tokens, p_expires_in_seconds);
end;
$$;

revoke all on function private.prepare_exchange(text, uuid, integer),
  private.begin_exchange_as(text, uuid, uuid, text, text, integer, integer, integer)
  from public, anon, authenticated, service_role;

-- Settles the exchange with its answer: the answer (with its citations, each checked against its
-- page) and its usage are stored, the question is complete, the reservation goes; it returns the
-- answer, the question as it now stands ('user_message') and the usage event. Storing twice (a
-- retry whose first attempt did commit) stores nothing more and answers {"already_stored": true}. If the client deleted the pending message
-- (or its conversation) meanwhile, the answer has nowhere to go but the call is still billed,
-- from the reservation: {"answer_discarded": true}. A key deleted meanwhile bills without a key.
create function private.store_answer(
  p_user_message_id uuid,
  p_content text,
  p_model text,
  p_prompt_tokens integer,
  p_cached_prompt_tokens integer,
  p_completion_tokens integer,
  p_usage_source text,
  p_latency_ms integer,
  p_citations jsonb default '[]'::jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (select auth.uid());
  v_reservation private.budget_reservations;
  v_question public.messages;
  v_provider text;
  v_answer public.messages;
  v_event public.usage_events;
begin
  if v_user_id is null then
    raise exception 'store_answer needs an authenticated user' using errcode = 'insufficient_privilege';
  end if;
  perform private.lock_budgeted_key(private.exchange_key_id(p_user_message_id, v_user_id), v_user_id);
  select r.* into v_reservation from private.budget_reservations r
  where r.message_id = p_user_message_id and r.user_id = v_user_id for update;
  select m.* into v_question from public.messages m
  where m.id = p_user_message_id and m.user_id = v_user_id and m.role = 'user' for update;
  if v_question.id is not null and v_question.status = 'complete' then
    return jsonb_build_object('already_stored', true);
  end if;
  if v_question.id is null and v_reservation.message_id is null then
    raise exception 'message % not found', p_user_message_id using errcode = 'no_data_found';
  end if;
  v_provider := coalesce(v_reservation.provider,
    (select k.provider from public.api_keys k where k.id = v_question.api_key_id and k.user_id = v_user_id));
  if v_provider is null then
    raise exception 'the provider of message % is unknown', p_user_message_id using errcode = 'no_data_found';
  end if;
  if not private.citations_quote_their_pages(v_user_id, p_citations) then
    raise exception 'a citation does not quote its page' using errcode = 'check_violation';
  end if;
  delete from private.budget_reservations where message_id = p_user_message_id;

  if v_question.id is null then
    v_event := private.record_usage(v_reservation.api_key_id,
      (select c.id from public.conversations c where c.id = v_reservation.conversation_id and c.user_id = v_user_id),
      null, v_provider, p_model, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens, p_usage_source, p_latency_ms, 'ok', null);
    return jsonb_build_object('answer_discarded', true, 'usage_event', to_jsonb(v_event));
  end if;

  insert into public.messages (conversation_id, user_id, role, content, model, prompt_tokens, completion_tokens, api_key_id,
                               citations)
  values (v_question.conversation_id, v_user_id, 'assistant', p_content, p_model, p_prompt_tokens, p_completion_tokens,
          v_question.api_key_id, p_citations)
  returning * into v_answer;
  update public.messages set status = 'complete', error_code = null where id = v_question.id
  returning * into v_question;
  v_event := private.record_usage(v_question.api_key_id, v_question.conversation_id, v_answer.id, v_provider, p_model,
    p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens, p_usage_source, p_latency_ms, 'ok', null);
  return jsonb_build_object('assistant_message', to_jsonb(v_answer), 'user_message', to_jsonb(v_question),
                            'usage_event', to_jsonb(v_event));
end;
$$;
revoke all on function private.store_answer(uuid, text, text, integer, integer, integer, text, integer, jsonb)
  from public, anon, authenticated, service_role;
grant execute on function private.store_answer(uuid, text, text, integer, integer, integer, text, integer, jsonb) to authenticated;
