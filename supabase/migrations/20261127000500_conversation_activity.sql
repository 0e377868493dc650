-- Lists that stay flat as history grows. What a conversation list shows (message count, last
-- message, preview, last activity) is kept on the conversation, and a user's conversation count
-- in private.conversation_counts, by statement-level triggers: a page of the list is then the first rows of one
-- index, and the total is one row, whatever the size of the history.

-- updated_at moves when the conversation itself is edited or a message arrives, not when a
-- trigger below corrects its counters (deleting a message is not activity, as before).
drop trigger conversations_set_updated_at on public.conversations;
create trigger conversations_set_updated_at
  before update of title, api_key_id, model, system_prompt on public.conversations
  for each row execute function private.set_updated_at();

drop trigger profiles_set_updated_at on public.profiles;
create trigger profiles_set_updated_at
  before update of username, email on public.profiles
  for each row execute function private.set_updated_at();

-- Not in the column grants of authenticated: clients read these, only the triggers write them.
alter table public.conversations
  add column message_count bigint not null default 0,
  add column last_message_at timestamptz,
  add column preview text,
  add column last_activity_at timestamptz not null generated always as (coalesce(last_message_at, updated_at)) stored;

-- A user's conversation count, in slots: a new conversation is counted in the slot of the
-- connection that made it (its backend pid modulo 16), so one user's concurrent creates do not
-- queue on one row, whose lock each would hold until its commit was flushed (on one counter row,
-- one user's creates were capped at one per WAL flush). The count is the sum of the user's
-- slots: at most 16 rows, one range of the primary key. Not exposed: clients read their count
-- with private.my_conversation_count() and cannot write it.
create table private.conversation_counts (
  user_id uuid not null references auth.users (id) on delete cascade,
  slot smallint not null constraint conversation_counts_slot_check check (slot between 0 and 15),
  conversations bigint not null,
  primary key (user_id, slot)
);
alter table private.conversation_counts enable row level security;
revoke all on table private.conversation_counts from public, anon, authenticated, service_role;

insert into private.conversation_counts (user_id, slot, conversations)
select c.user_id, 0, count(*) from public.conversations c group by c.user_id;

-- The caller's conversation count (the list's X-Total-Count). plpgsql: its plan is kept per
-- connection (a `language sql` function that is not inlined is planned on every call).
create function private.my_conversation_count()
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (select coalesce(sum(t.conversations), 0)::bigint from private.conversation_counts t where t.user_id = (select auth.uid()));
end;
$$;
revoke all on function private.my_conversation_count() from public, anon, authenticated, service_role;
grant execute on function private.my_conversation_count() to authenticated;

update public.conversations c
set message_count = (select count(*) from public.messages m where m.conversation_id = c.id and m.user_id = c.user_id),
    (last_message_at, preview) = (
      select m.created_at, left(m.content, 120) from public.messages m
      where m.conversation_id = c.id and m.user_id = c.user_id
      order by m.created_at desc, m.id desc
      limit 1);


-- The list's order, newest activity first. Leading user_id: it also serves the owner filter of
-- the policies and the user_id foreign key, which the index it replaces did.
drop index public.conversations_user_id_updated_at_idx;
create index conversations_user_id_last_activity_at_id_idx
  on public.conversations (user_id, last_activity_at desc, id desc);

-- Security definer because clients may not write these columns themselves. One update per
-- statement and conversation (not per row), so a bulk insert is not a chain of updates of one row.
-- The last message is read back from the messages index, so ties and out-of-order created_at
-- give exactly what `order by created_at desc, id desc` gives.
create or replace function private.count_new_messages()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.conversations c
  set message_count = c.message_count + n.added,
      updated_at = now(),
      (last_message_at, preview) = (
        select m.created_at, left(m.content, 120) from public.messages m
        where m.conversation_id = c.id and m.user_id = c.user_id
        order by m.created_at desc, m.id desc
        limit 1)
  from (select conversation_id, user_id, count(*) as added from new_messages group by conversation_id, user_id) n
  where c.id = n.conversation_id and c.user_id = n.user_id;
  return null;
end;
$$;

create or replace function private.count_deleted_messages()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- When the conversation itself is being deleted (the cascade), it is already gone: no row to update.
  update public.conversations c
  set message_count = c.message_count - d.removed,
      (last_message_at, preview) = (
        select m.created_at, left(m.content, 120) from public.messages m
        where m.conversation_id = c.id and m.user_id = c.user_id
        order by m.created_at desc, m.id desc
        limit 1)
  from (select conversation_id, user_id, count(*) as removed from old_messages group by conversation_id, user_id) d
  where c.id = d.conversation_id and c.user_id = d.user_id;
  return null;
end;
$$;

create or replace function private.count_conversations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    insert into private.conversation_counts as t (user_id, slot, conversations)
    select n.user_id, pg_catalog.pg_backend_pid() % 16, count(*) from changed n group by n.user_id
    on conflict (user_id, slot) do update set conversations = t.conversations + excluded.conversations;
  else
    -- Deletes are rare: they take any one of the user's slots (there is one: the conversations
    -- were counted when made). A slot may go below zero; the sum is what counts.
    update private.conversation_counts t set conversations = t.conversations - d.removed
    from (select user_id, count(*) as removed from changed group by user_id) d
    where t.user_id = d.user_id
      and t.slot = (select min(o.slot) from private.conversation_counts o where o.user_id = d.user_id);
  end if;
  return null;
end;
$$;

revoke all on function private.count_new_messages(), private.count_deleted_messages(), private.count_conversations()
  from public, anon, authenticated, service_role;

-- Replaced by count_new_messages, which also moves updated_at.
drop trigger messages_touch_conversation on public.messages;
drop function private.touch_conversation();

create trigger messages_count_new
  after insert on public.messages
  referencing new table as new_messages
  for each statement execute function private.count_new_messages();

create trigger messages_count_deleted
  after delete on public.messages
  referencing old table as old_messages
  for each statement execute function private.count_deleted_messages();

create trigger conversations_count_new
  after insert on public.conversations
  referencing new table as changed
  for each statement execute function private.count_conversations();

create trigger conversations_count_deleted
  after delete on public.conversations
  referencing old table as changed
  for each statement execute function private.count_conversations();

-- Same columns as before, now read from the conversation row.
create or replace view public.conversation_list
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
  c.message_count,
  c.last_message_at,
  c.preview,
  c.last_activity_at
from public.conversations c;
