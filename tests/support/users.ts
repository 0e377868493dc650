// Test users, made by the real Auth server through the gateway: a sign-up (autoconfirmed on the
// local stack) returns the user and a session. Tokens for forged, expired or foreign-session cases
// are signed here with the project's JWT secret (signToken / tokenFor).
import { createHmac } from "node:crypto";
import postgres from "postgres";
import { ANON_KEY, API_URL, DB_URL, JWT_SECRET, SERVICE_ROLE_KEY } from "./env.ts";

export const db = postgres(DB_URL, { max: 3, onnotice: () => {} });

export function signToken(claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const unsigned = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  sessionId: string;
  token: string;
  refreshToken: string;
}

let counter = 0;

/** Calls the Auth server through the gateway, as supabase-js does (`admin`: with the service-role key). */
export async function authCall(
  path: string,
  init: { method?: string; body?: unknown; token?: string; admin?: boolean } = {},
) {
  const key = init.admin ? SERVICE_ROLE_KEY : ANON_KEY;
  const headers: Record<string, string> = { apikey: key, "content-type": "application/json" };
  const bearer = init.token ?? (init.admin ? key : undefined);
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(`${API_URL}/auth/v1${path}`, {
    method: init.method ?? "POST",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function createUser(prefix = "user"): Promise<TestUser> {
  const username = `${prefix}_${process.pid}_${Date.now() % 100000}_${counter++}`.slice(0, 32);
  const email = `${username.toLowerCase()}@users.invalid`;
  const password = `pw-${username}-${Math.random().toString(36).slice(2)}`;
  const res = await authCall("/signup", { body: { email, password, data: { username } } });
  if (res.status !== 200 || !res.body?.access_token) {
    throw new Error(`sign-up of a test user failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const token = res.body.access_token as string;
  return {
    id: res.body.user.id,
    username,
    email,
    password,
    sessionId: claimsOf(token).session_id as string,
    token,
    refreshToken: res.body.refresh_token,
  };
}

export function tokenFor(sub: string, sessionId: string, email = "", expiresIn = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  return signToken({
    iss: `${API_URL}/auth/v1`,
    sub,
    aud: "authenticated",
    role: "authenticated",
    email,
    session_id: sessionId,
    aal: "aal1",
    iat: now,
    exp: now + expiresIn,
    is_anonymous: false,
  });
}

/** Deletes the user with Auth's admin API, as a project's backend would. */
export async function deleteUser(user: TestUser) {
  const res = await authCall(`/admin/users/${user.id}`, { method: "DELETE", admin: true });
  if (res.status !== 200) throw new Error(`deleting a user failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Logs the user out at the Auth server: their session ends. */
export async function endSession(user: TestUser) {
  const res = await authCall("/logout?scope=local", { token: user.token });
  if (res.status !== 204) throw new Error(`logout failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export interface ApiReply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export async function api(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiReply> {
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
