// The /api/v1 Edge Function. Supabase routes /functions/v1/api/* here with the path /api/*;
// the local gateway also routes /api/v1/* here unchanged.
import { app } from "./app.ts";

Deno.serve(app.fetch);
