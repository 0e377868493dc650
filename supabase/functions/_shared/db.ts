// One postgres.js pool per function instance. `prepare: false` because the hosted pooler
// (Supavisor) runs in transaction mode, where prepared statements do not survive.
import postgres from "postgres";
import { env } from "./env.ts";

export const sql = postgres(env.dbUrl, {
  prepare: false,
  max: 10,
  idle_timeout: 20,
  connect_timeout: 5,
  connection: { application_name: "api-function" },
  // bigint counts and token sums as JSON numbers: they stay far below 2^53.
  types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
  transform: { undefined: null },
});

export type Tx = postgres.TransactionSql;

export interface Claims {
  sub: string;
  role: string;
  session_id?: string;
  [claim: string]: unknown;
}

/**
 * Runs `work` in one transaction as PostgREST does for a request: `role` is set to the token's
 * role (authenticated) and `request.jwt.claims` to its claims, so row-level security applies
 * exactly as it does to a supabase-js client.
 */
export function asUser<T>(claims: Claims, work: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', ${claims.role}, true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
    return work(tx);
  }) as Promise<T>;
}

/** A transaction as one of the API roles without a user (anon, or service_role for the narrow lookups login needs). */
export function asRole<T>(role: "anon" | "service_role", work: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${JSON.stringify({ role })}, true)`;
    return work(tx);
  }) as Promise<T>;
}
