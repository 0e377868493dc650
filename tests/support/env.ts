// Where the stack under test is. `npm test` sets these for the test profile; the defaults are the same.
export const API_URL = process.env.API_URL ?? "http://127.0.0.1:54421";
export const DB_URL = process.env.DB_URL ?? "postgresql://postgres:postgres@127.0.0.1:54422/postgres";
export const ANON_KEY = process.env.ANON_KEY ?? "";
export const SERVICE_ROLE_KEY = process.env.SERVICE_ROLE_KEY ?? "";
export const JWT_SECRET = process.env.JWT_SECRET ?? "super-secret-jwt-token-with-at-least-32-characters-long";
export const PG_DATA = process.env.PG_DATA ?? "";
export const PG_LOG = process.env.PG_LOG ?? "";
export const FAKE_PROVIDER_URL = process.env.FAKE_PROVIDER_URL ?? "http://127.0.0.1:54429";
export const STACK_SERVICES = process.env.STACK_SERVICES ?? "";
export const FUNCTION_USAGE_FILE = process.env.FUNCTION_USAGE_FILE ?? "";
