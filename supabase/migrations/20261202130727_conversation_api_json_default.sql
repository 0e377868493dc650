-- Made by npm run db:diff from supabase/schemas/: conversations.api_json is written by its trigger;
-- a default keeps it out of what a supabase-js client must give when it inserts a conversation.
alter table "public"."conversations" alter column "api_json" set default ''::text;
