// One postgres.js pool per function instance. `prepare: false` because the hosted pooler
// (Supavisor) runs in transaction mode, where prepared statements do not survive.
import postgres from "postgres";
import { env } from "./env.ts";
import { inlineStatement, type SqlValue } from "./one-round-trip.ts";

export const sql = postgres(env.dbUrl, {
  prepare: false,
  max: 10,
  idle_timeout: 20,
  // A database that is down must answer fast (503), not hang the request.
  connect_timeout: 2,
  connection: { application_name: "api-function" },
  // bigint counts and token sums as JSON numbers: they stay far below 2^53.
  types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
  transform: { undefined: null },
});

export type Tx = postgres.TransactionSql;
export type Sql = typeof sql;

/**
 * Sends the statement of a tagged template in one round trip, its values written in as literals
 * (one-round-trip.ts says why and how): what `statement` work and `call` are given.
 */
export type StatementSql = <T extends object[] = postgres.Row[]>(
  strings: TemplateStringsArray,
  ...values: SqlValue[]
) => postgres.PendingQuery<T>;

const rawDecoder = new TextDecoder();

/** A number in a raw row (postgres.js's `.raw()`: each value as the bytes Postgres sent). */
export function rawNumber(value: Uint8Array): number {
  return Number(rawDecoder.decode(value));
}

export const statementSql: StatementSql = <T extends object[] = postgres.Row[]>(
  strings: TemplateStringsArray,
  ...values: SqlValue[]
) => sql.unsafe<T>(inlineStatement(strings, ...values));

/**
 * The database as domain code reaches it for one verified caller whose session must still exist:
 * `transaction` runs work in one transaction as the caller (RLS applies); `statement` runs one
 * statement calling a private.* function with `claims`, which becomes the caller and checks the
 * session itself (one round trip).
 */
export interface CallerDb {
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  statement<T>(work: (sql: StatementSql, claims: string) => Promise<T>): Promise<T>;
}

export interface Claims {
  sub: string;
  role: string;
  session_id?: string;
  [claim: string]: unknown;
}

/**
 * Runs `work` in one transaction as PostgREST does for a request: `role` is set to the claims'
 * role and `request.jwt.claims` to the claims, so row-level security applies exactly as it does
 * to a supabase-js client.
 */
function withClaims<T>(claims: { role: string }, work: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', ${claims.role}, true), set_config('request.jwt.claims', ${
      JSON.stringify(claims)
    }, true)`;
    return work(tx);
  }) as Promise<T>;
}

/**
 * One statement as the user of `claims` (role authenticated, no session check: for what must be
 * recorded after a logout too). `work` sends one statement whose FROM starts with
 * `private.act_as(${claims})`, which sets role and claims for that statement's transaction.
 */
export function asUserStatement<T>(
  claims: Claims,
  work: (sql: StatementSql, claims: string) => Promise<T>,
): Promise<T> {
  return work(statementSql, JSON.stringify(claims));
}

/**
 * A transaction as the caller of a verified token whose session must still exist:
 * private.begin_request sets role and claims and checks the session in one statement.
 * `claims` comes from identity.ts's sessionClaims.
 */
export function asSessionUser<T>(claims: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx.unsafe(inlineStatement`select private.begin_request(${claims})`);
    return work(tx);
  }) as Promise<T>;
}

/** A transaction as service_role without a user, for the narrow lookups login needs. */
export function asServiceRole<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
  return withClaims({ role: "service_role" }, work);
}

// postgres.js's own codes for a connection that could not be made or was lost, the socket
// errors beneath them, and the server's "shutting down / starting up" classes.
const UNAVAILABLE = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "57P01",
  "57P02",
  "57P03",
]);

/** Did this error come from the database being unreachable (rather than from a query)? */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; errno?: string; name?: string } | null;
  if (!e) return false;
  const code = e.code ?? e.errno ?? "";
  return UNAVAILABLE.has(code) || code.startsWith("08") || e.name === "ConnectionRefused" ||
    e.name === "ConnectionReset";
}
