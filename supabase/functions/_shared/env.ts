// Configuration read once from the function's environment. Supabase sets the SUPABASE_* values;
// the rest are this project's (README, "Configuration").
function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
}

export const env = {
  supabaseUrl: required("SUPABASE_URL"),
  anonKey: required("SUPABASE_ANON_KEY"),
  dbUrl: required("SUPABASE_DB_URL"),
};
