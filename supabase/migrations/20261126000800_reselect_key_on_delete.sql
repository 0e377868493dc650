-- Like cards in a wallet: when the selected key is deleted, the most recently added valid key
-- that remains becomes the selected one, so a user with keys always has one to answer with.
-- Security definer: the trigger also fires when the Auth server's role deletes a user (the
-- cascade), a role with no rights on private or api_keys; it only touches old.user_id's keys.
create or replace function private.reselect_api_key_after_delete()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if old.is_selected then
    perform private.lock_user_api_keys(old.user_id);
    update public.api_keys set is_selected = true
    where id = (
      select k.id from public.api_keys k
      where k.user_id = old.user_id and k.is_valid
      order by k.created_at desc, k.id desc
      limit 1
    )
    and not exists (select 1 from public.api_keys s where s.user_id = old.user_id and s.is_selected);
  end if;
  return null;
end;
$$;
revoke all on function private.reselect_api_key_after_delete() from public, anon, authenticated, service_role;

create trigger api_keys_reselect_after_delete
  after delete on public.api_keys
  for each row execute function private.reselect_api_key_after_delete();
