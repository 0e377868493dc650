-- Uploaded PDFs live in Supabase Storage, never in table columns: a private bucket, each user's
-- files under a folder named by their user id (`<user id>/<document id>.pdf`). The policies
-- let a signed-in user read, write and delete only inside their own folder, whether they come
-- through supabase-js (`supabase.storage.from('documents')`) or through the API, which uploads
-- as the caller.
insert into storage.buckets (id, name, public, allowed_mime_types)
values ('documents', 'documents', false, array['application/pdf'])
on conflict (id) do nothing;

create policy "documents: owner reads own folder" on storage.objects
  for select to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner uploads into own folder" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner replaces own files" on storage.objects
  for update to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "documents: owner deletes own files" on storage.objects
  for delete to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);
