// Test users. The Auth server cannot run on this machine (see README), so a test user is made the
// way the Auth server makes one at sign-up and sign-in: a row in auth.users (which fires the
// profile trigger), a row in auth.sessions, and an HS256 access token signed with the project's
// JWT secret carrying the same claims the Auth server puts in its tokens.
import { createHmac, randomUUID } from "node:crypto";
import postgres from "postgres";
import { API_URL, DB_URL, JWT_SECRET } from "./env.ts";

export const db = postgres(DB_URL, { max: 3, onnotice: () => {} });

export function signToken(claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const unsigned = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

export interface TestUser {
  id: string;
  username: string;
  sessionId: string;
  token: string;
}

let counter = 0;

export async function createUser(prefix = "user"): Promise<TestUser> {
  const id = randomUUID();
  const sessionId = randomUUID();
  const username = `${prefix}_${process.pid}_${Date.now() % 100000}_${counter++}`.slice(0, 32);
  const email = `${username}@example.com`;
  await db`insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
           values (${id}, 'authenticated', 'authenticated', ${email}, ${db.json({ username })}, ${db.json({ provider: "email" })}, now(), now())`;
  await db`insert into auth.sessions (id, user_id, created_at, updated_at) values (${sessionId}, ${id}, now(), now())`;
  return { id, username, sessionId, token: tokenFor(id, sessionId, email) };
}

export function tokenFor(sub: string, sessionId: string, email = "", expiresIn = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  return signToken({
    iss: `${API_URL}/auth/v1`, sub, aud: "authenticated", role: "authenticated", email,
    session_id: sessionId, aal: "aal1", iat: now, exp: now + expiresIn, is_anonymous: false,
  });
}

/** What logout does in the Auth server: the session row goes. */
export async function endSession(user: TestUser) {
  await db`delete from auth.sessions where id = ${user.sessionId}`;
}

export interface ApiReply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export async function api(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiReply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${API_URL}/api/v1${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}
