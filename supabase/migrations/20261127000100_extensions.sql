-- The extensions the PDF features build on, created the way hosted Supabase has them, so
-- these migrations run unchanged on a hosted project:
--   pg_cron  schedules background work (its control file fixes schema pg_catalog; its
--            objects live in schema `cron`), as Supabase's dashboard creates it;
--   pg_net   asynchronous HTTP from SQL (objects in schema `net`);
--   vector   pgvector, embeddings and their nearest-neighbour indexes.
-- pg_cron and pg_net need `shared_preload_libraries` (hosted projects have it; the local
-- stack sets it).
create extension if not exists pg_cron with schema pg_catalog;
create extension if not exists pg_net with schema extensions;
create extension if not exists vector with schema extensions;

-- pg_net grants its schema and queue tables to PUBLIC, and functions are executable by
-- PUBLIC by default: any signed-in user could make the database send HTTP requests
-- anywhere. Only the owner and the service role may.
revoke all on schema net from public, anon, authenticated;
revoke all on all tables in schema net from public, anon, authenticated;
revoke all on all sequences in schema net from public, anon, authenticated;
revoke execute on all functions in schema net from public, anon, authenticated;
grant usage on schema net to service_role;
grant execute on all functions in schema net to service_role;

-- Scheduling is for the project's owner (migrations), never for API roles.
revoke all on schema cron from public, anon, authenticated;
revoke execute on all functions in schema cron from public, anon, authenticated;
