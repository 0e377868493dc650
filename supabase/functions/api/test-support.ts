// For deno tests that run the api function in-process against the test stack's database
// (DB_URL, JWT_SECRET and FAKE_PROVIDER_URL come from `npm test`). Not part of the deployed function.
import postgres from "postgres";
import { SignJWT } from "jose";

export const DB_URL = Deno.env.get("DB_URL") ?? "postgresql://postgres:postgres@127.0.0.1:54422/postgres";
export const JWT_SECRET = Deno.env.get("JWT_SECRET") ?? "super-secret-jwt-token-with-at-least-32-characters-long";
export const FAKE_PROVIDER_URL = Deno.env.get("FAKE_PROVIDER_URL") ?? "http://127.0.0.1:54429";

/** Configures the function's environment, then loads it (env.ts reads the environment once, on import). */
export async function loadApi(overrides: Record<string, string> = {}) {
  const env: Record<string, string> = {
    SUPABASE_URL: "http://127.0.0.1:9", // nothing listens: these tests need no Auth server
    SUPABASE_ANON_KEY: Deno.env.get("ANON_KEY") || "anon",
    SUPABASE_DB_URL: DB_URL,
    JWT_SECRET,
    PROVIDER_KEY_ENCRYPTION_KEY: btoa("k".repeat(32)),
    OPENAI_BASE_URL: `${FAKE_PROVIDER_URL}/v1`,
    ANTHROPIC_BASE_URL: FAKE_PROVIDER_URL,
    ...overrides,
  };
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  const { app } = await import("./app.ts");
  const { sql } = await import("../_shared/db.ts");
  return { app, sql };
}

export const adminDb = () => postgres(DB_URL, { max: 2, onnotice: () => {} });

/** A user the way the Auth server makes one (auth.users + auth.sessions) and an HS256 token for it. */
export async function createUser(db: postgres.Sql, username = `u_${crypto.randomUUID().slice(0, 8)}`) {
  const id = crypto.randomUUID();
  await db`insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
           values (${id}, 'authenticated', 'authenticated', ${`${username.toLowerCase()}@example.com`},
                   ${db.json({ username })}, ${db.json({ provider: "email" })}, now(), now())`;
  const sessionId = crypto.randomUUID();
  await db`insert into auth.sessions (id, user_id, created_at, updated_at) values (${sessionId}, ${id}, now(), now())`;
  const token = await new SignJWT({ role: "authenticated", session_id: sessionId, aal: "aal1" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(id).setAudience("authenticated")
    .setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(JWT_SECRET));
  return { id, username, token };
}

export interface Call {
  body?: unknown;
  rawBody?: BodyInit;
  token?: string;
  headers?: Record<string, string>;
}

/** A request to the in-process app; returns status, headers, parsed body (or text) and time. */
export async function request(app: { fetch(req: Request): Response | Promise<Response> }, method: string, path: string, opts: Call = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: BodyInit | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(opts.body);
  }
  const started = performance.now();
  const res = await app.fetch(new Request(`http://api.local/api/v1${path}`, { method, headers, body, duplex: "half" } as RequestInit));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  // deno-lint-ignore no-explicit-any
  return { status: res.status, headers: res.headers, body: parsed as any, ms: performance.now() - started };
}

export const quietTest = (name: string, fn: () => Promise<void>) => Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

/** A key the fake provider accepts (scripts/fake-provider.ts: `sk-`, 20+ characters, switches as suffixes). */
export const fakeKey = (...switches: string[]) => `sk-test${crypto.randomUUID().replace(/-/g, "")}${switches.map((s) => `-${s}`).join("")}`;

const PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl";

/** Stops or starts the test stack's Postgres (PG_DATA and PG_LOG from npm test), as its owner. */
export async function postgresCtl(action: "stop" | "start") {
  const pgData = Deno.env.get("PG_DATA");
  if (!pgData) throw new Error("PG_DATA is not set; run the tests with npm test");
  const args = action === "stop" ? ["-D", pgData, "-m", "fast", "-w", "stop"] : ["-D", pgData, "-l", Deno.env.get("PG_LOG")!, "-w", "start"];
  const asRoot = Deno.uid() === 0;
  const { code, stderr } = await new Deno.Command(asRoot ? "runuser" : PG_CTL, { args: asRoot ? ["-u", "postgres", "--", PG_CTL, ...args] : args, stdout: "null", stderr: "piped" }).output();
  if (code !== 0) throw new Error(`pg_ctl ${action} failed: ${new TextDecoder().decode(stderr)}`);
}

export async function waitUntil(what: string, check: () => Promise<boolean>, ms = 15_000) {
  const giveUp = Date.now() + ms;
  while (Date.now() < giveUp) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting until ${what}`);
}
