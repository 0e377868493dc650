import { Hono } from "hono";
import { sql } from "../../_shared/db.ts";
import { env } from "../../_shared/env.ts";

export const health = new Hono();

async function database() {
  try {
    const [row] = await sql`select current_setting('server_version') as version`;
    return { ok: true, version: row.version as string };
  } catch {
    return { ok: false, version: null, error: "the database did not answer" };
  }
}

async function auth() {
  try {
    const res = await fetch(`${env.supabaseUrl}/auth/v1/health`, {
      headers: { apikey: env.anonKey },
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok) return { ok: false, version: null, error: `the auth server answered ${res.status}` };
    const body = await res.json();
    return { ok: true, version: String(body.version ?? "unknown") };
  } catch {
    return { ok: false, version: null, error: "the auth server did not answer" };
  }
}

health.get("/", async (c) => {
  const [db, au] = await Promise.all([database(), auth()]);
  const ok = db.ok && au.ok;
  return c.json({
    success: ok,
    message: ok ? "database and auth are up" : [db, au].flatMap((s) => (s.ok ? [] : [s.error])).join("; "),
    data: { database: db, auth: au, api: { version: API_VERSION, deno: Deno.version.deno } },
    errors: null,
  }, ok ? 200 : 503);
});

const API_VERSION = "0.1.0";
