// The app's supabase-js client, typed with the schema (database.types.ts, `npm run gen:types`).
// Auth and Storage go straight to Supabase; everything else goes through the API (api.ts).
import { createClient } from "@supabase/supabase-js";
import type { Database } from "./database.types.ts";

export const SUPABASE_URL = (import.meta.env.VITE_SUPABASE_URL as string | undefined) || location.origin;
export const API_URL = (import.meta.env.VITE_API_URL as string | undefined) || `${SUPABASE_URL}/api/v1`;
const ANON_KEY = import.meta.env.VITE_SUPABASE_ANON_KEY as string;

export const supabase = createClient<Database>(SUPABASE_URL, ANON_KEY, {
  auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
});

export type DocumentRow = Database["public"]["Tables"]["documents"]["Row"];
