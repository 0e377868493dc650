// For deno tests that run the api function in-process against the test stack (API_URL, ANON_KEY,
// DB_URL, JWT_SECRET and FAKE_PROVIDER_URL come from `npm test`). Not part of the deployed function.
import postgres from "postgres";

export const API_URL = Deno.env.get("API_URL") ?? "http://127.0.0.1:54421";
export const DB_URL = Deno.env.get("DB_URL") ?? "postgresql://postgres:postgres@127.0.0.1:54422/postgres";
export const JWT_SECRET = Deno.env.get("JWT_SECRET") ?? "super-secret-jwt-token-with-at-least-32-characters-long";
export const FAKE_PROVIDER_URL = Deno.env.get("FAKE_PROVIDER_URL") ?? "http://127.0.0.1:54429";
const ANON_KEY = Deno.env.get("ANON_KEY") ?? "";

/**
 * Configures the function's environment, then loads it (env.ts reads the environment once, on
 * import). The test modules of one `deno test` share the process environment, so it is put back
 * as it was once the function is loaded.
 */
export async function loadApi(overrides: Record<string, string> = {}) {
  const env: Record<string, string | undefined> = {
    SUPABASE_URL: API_URL, // the test stack: its gateway, and behind it the real Auth server
    AUTH_URL: undefined, // Auth through the gateway, unless a test points the function elsewhere
    SUPABASE_ANON_KEY: ANON_KEY,
    SUPABASE_DB_URL: DB_URL,
    JWT_SECRET,
    PROVIDER_KEY_ENCRYPTION_KEY: btoa("k".repeat(32)),
    OPENAI_BASE_URL: `${FAKE_PROVIDER_URL}/v1`,
    ANTHROPIC_BASE_URL: FAKE_PROVIDER_URL,
    ...overrides,
  };
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, Deno.env.get(k)]));
  setEnv(env);
  try {
    const { app } = await import("./app.ts");
    const { sql } = await import("../_shared/db.ts");
    return { app, sql };
  } finally {
    setEnv(before);
  }
}

function setEnv(vars: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
}

export const adminDb = () => postgres(DB_URL, { max: 2, onnotice: () => {} });

/** A user signed up through the test stack's Auth server (autoconfirmed there), with the session it returns. */
export async function createUser(prefix = "u") {
  const username = `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
  const res = await fetch(`${API_URL}/auth/v1/signup`, {
    method: "POST",
    headers: { apikey: ANON_KEY, "content-type": "application/json" },
    body: JSON.stringify({
      email: `${username.toLowerCase()}@users.invalid`,
      password: `pw-${crypto.randomUUID()}`,
      data: { username },
    }),
  });
  const body = await res.json().catch(() => null);
  if (res.status !== 200 || !body?.access_token) {
    throw new Error(`sign-up of a test user failed: ${res.status} ${body?.msg ?? ""}`);
  }
  return {
    id: body.user.id as string,
    username,
    token: body.access_token as string,
    refreshToken: body.refresh_token as string,
  };
}

export interface Call {
  body?: unknown;
  rawBody?: BodyInit;
  token?: string;
  headers?: Record<string, string>;
}

/** A request to the in-process app; returns status, headers, parsed body (or text) and time. */
export async function request(
  app: { fetch(req: Request): Response | Promise<Response> },
  method: string,
  path: string,
  opts: Call = {},
) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: BodyInit | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(opts.body);
  }
  const started = performance.now();
  const res = await app.fetch(
    new Request(`http://api.local/api/v1${path}`, { method, headers, body, duplex: "half" } as RequestInit),
  );
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  // deno-lint-ignore no-explicit-any
  return { status: res.status, headers: res.headers, body: parsed as any, ms: performance.now() - started };
}

export const quietTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

/** A key the fake provider accepts (scripts/fake-provider.ts: `sk-`, 20+ characters, switches as suffixes). */
export const fakeKey = (...switches: string[]) =>
  `sk-test${crypto.randomUUID().replace(/-/g, "")}${switches.map((s) => `-${s}`).join("")}`;

const PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl";

/** Stops or starts the test stack's Postgres (PG_DATA and PG_LOG from npm test), as its owner. */
export async function postgresCtl(action: "stop" | "start") {
  const pgData = Deno.env.get("PG_DATA");
  if (!pgData) throw new Error("PG_DATA is not set; run the tests with npm test");
  const args = action === "stop"
    ? ["-D", pgData, "-m", "fast", "-w", "stop"]
    : ["-D", pgData, "-l", Deno.env.get("PG_LOG")!, "-w", "start"];
  const asRoot = Deno.uid() === 0;
  const { code, stderr } = await new Deno.Command(asRoot ? "runuser" : PG_CTL, {
    args: asRoot ? ["-u", "postgres", "--", PG_CTL, ...args] : args,
    stdout: "null",
    stderr: "piped",
  }).output();
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
