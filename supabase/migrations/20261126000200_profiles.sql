-- One profile per auth user, created by a trigger on sign-up and removed with the user.
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text not null
    constraint profiles_username_format check (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
  email text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.profiles is 'One row per auth user; created by private.handle_new_user on sign-up.';

-- Usernames are unique regardless of case: "Alice" and "alice" are the same login.
create unique index profiles_username_lower_key on public.profiles (lower(username));

create trigger profiles_set_updated_at
  before update on public.profiles
  for each row execute function private.set_updated_at();

alter table public.profiles enable row level security;

revoke all on table public.profiles from anon, authenticated, service_role;
grant select on table public.profiles to authenticated;
grant update (username) on table public.profiles to authenticated;

create policy "profiles: owner can select"
  on public.profiles for select to authenticated
  using ((select auth.uid()) = id);

create policy "profiles: owner can update"
  on public.profiles for update to authenticated
  using ((select auth.uid()) = id)
  with check ((select auth.uid()) = id);

-- Runs as the owner because the Auth server (supabase_auth_admin) inserts auth.users and
-- has no rights on public. An error here aborts the sign-up, which is the point: an invalid
-- or taken username must not leave an auth user without a profile.
create or replace function private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_requested text := nullif(new.raw_user_meta_data ->> 'username', '');
  v_username text;
  v_constraint text;
begin
  if v_requested is not null then
    if v_requested !~ '^[A-Za-z0-9_.-]{3,32}$' then
      raise exception 'invalid username "%"', v_requested
        using errcode = 'check_violation',
              constraint = 'profiles_username_format',
              hint = 'A username is 3 to 32 characters: letters, digits, "_", "-" or ".".';
    end if;
    v_username := v_requested;
  else
    v_username := 'user_' || left(replace(new.id::text, '-', ''), 12);
    -- Someone may have chosen exactly this name; the longer form is then as good as unique.
    if exists (select 1 from public.profiles p where lower(p.username) = lower(v_username)) then
      v_username := 'user_' || left(replace(new.id::text, '-', ''), 27);
    end if;
  end if;

  begin
    insert into public.profiles (id, username, email)
    values (new.id, v_username, new.email);
  exception when unique_violation then
    get stacked diagnostics v_constraint = constraint_name;
    if v_constraint = 'profiles_username_lower_key' then
      raise exception 'username "%" is already taken', v_username
        using errcode = 'unique_violation',
              constraint = 'profiles_username_lower_key';
    end if;
    raise;
  end;
  return new;
end;
$$;
revoke all on function private.handle_new_user() from public, anon, authenticated, service_role;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.handle_new_user();

-- Keeps profiles.email equal to the login email when the user changes it.
create or replace function private.sync_profile_email()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end;
$$;
revoke all on function private.sync_profile_email() from public, anon, authenticated, service_role;

create trigger on_auth_user_email_changed
  after update of email on auth.users
  for each row
  when (old.email is distinct from new.email)
  execute function private.sync_profile_email();
