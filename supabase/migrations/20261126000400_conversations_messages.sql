create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null default ('Conversation ' || to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI'))
    constraint conversations_title_length check (char_length(title) between 1 and 200 and btrim(title) <> ''),
  api_key_id uuid,
  model text,
  system_prompt text
    constraint conversations_system_prompt_length check (char_length(system_prompt) <= 20000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint conversations_id_user_id_key unique (id, user_id),
  -- Including user_id means a conversation can only use its owner's key; deleting the key
  -- clears api_key_id and keeps the conversation.
  constraint conversations_api_key_id_user_id_fkey foreign key (api_key_id, user_id)
    references public.api_keys (id, user_id) on delete set null (api_key_id)
);

-- Serves the owner filter of every policy, the user_id foreign key and the newest-first listing.
create index conversations_user_id_updated_at_idx on public.conversations (user_id, updated_at desc);
create index conversations_api_key_id_user_id_idx on public.conversations (api_key_id, user_id)
  where api_key_id is not null;

create trigger conversations_set_updated_at
  before update on public.conversations
  for each row execute function private.set_updated_at();

alter table public.conversations enable row level security;

revoke all on table public.conversations from anon, authenticated, service_role;
grant select on table public.conversations to authenticated;
grant insert (id, user_id, title, api_key_id, model, system_prompt) on table public.conversations to authenticated;
grant update (title, api_key_id, model, system_prompt) on table public.conversations to authenticated;
grant delete on table public.conversations to authenticated;

create policy "conversations: owner can select"
  on public.conversations for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "conversations: owner can insert"
  on public.conversations for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "conversations: owner can update"
  on public.conversations for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "conversations: owner can delete"
  on public.conversations for delete to authenticated
  using ((select auth.uid()) = user_id);

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  role text not null
    constraint messages_role_check check (role in ('user', 'assistant', 'system')),
  content text not null
    constraint messages_content_length check (char_length(content) <= 100000),
  model text,
  prompt_tokens integer constraint messages_prompt_tokens_check check (prompt_tokens >= 0),
  completion_tokens integer constraint messages_completion_tokens_check check (completion_tokens >= 0),
  api_key_id uuid,
  status text not null default 'complete'
    constraint messages_status_check check (status in ('complete', 'failed')),
  error_code text,
  -- clock_timestamp, not now(): a user message and its reply written in one transaction
  -- must still sort in the order they were written.
  created_at timestamptz not null default clock_timestamp(),
  -- A message lives in a conversation of the same user.
  constraint messages_conversation_id_user_id_fkey foreign key (conversation_id, user_id)
    references public.conversations (id, user_id) on delete cascade,
  constraint messages_api_key_id_user_id_fkey foreign key (api_key_id, user_id)
    references public.api_keys (id, user_id) on delete set null (api_key_id)
);

-- One conversation's messages in order. user_id is the second column so the index also
-- serves the (conversation_id, user_id) foreign key; every client read runs under RLS,
-- which pins user_id, so the scan still returns rows in (created_at, id) order.
create index messages_conversation_id_user_id_created_at_id_idx
  on public.messages (conversation_id, user_id, created_at, id);
create index messages_user_id_idx on public.messages (user_id);
create index messages_api_key_id_user_id_idx on public.messages (api_key_id, user_id)
  where api_key_id is not null;

-- A new message is activity in its conversation. Security definer because clients may not
-- write conversations.updated_at themselves.
create or replace function private.touch_conversation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.conversations
    set updated_at = now()
    where id = new.conversation_id and user_id = new.user_id;
  return null;
end;
$$;
revoke all on function private.touch_conversation() from public, anon, authenticated, service_role;

create trigger messages_touch_conversation
  after insert on public.messages
  for each row execute function private.touch_conversation();

alter table public.messages enable row level security;

revoke all on table public.messages from anon, authenticated, service_role;
grant select on table public.messages to authenticated;
grant insert (id, conversation_id, user_id, role, content, model, prompt_tokens, completion_tokens, api_key_id,
              status, error_code)
  on table public.messages to authenticated;
grant update (status, error_code) on table public.messages to authenticated;
grant delete on table public.messages to authenticated;

create policy "messages: owner can select"
  on public.messages for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "messages: owner can insert"
  on public.messages for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "messages: owner can update"
  on public.messages for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "messages: owner can delete"
  on public.messages for delete to authenticated
  using ((select auth.uid()) = user_id);
