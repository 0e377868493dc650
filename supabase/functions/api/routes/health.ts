import type { Hono } from "hono";
import { z } from "zod";
import { sql } from "../../_shared/db.ts";
import { env } from "../../_shared/env.ts";
import { envelope } from "../../_shared/http.ts";
import { route } from "../route.ts";

const API_VERSION = "1.0.0";

const Dependency = z.object({ ok: z.boolean(), version: z.string().nullable(), error: z.string().optional() });

/** Each dependency gets this long: /health answers within about 2 s whatever is down. */
const CHECK_MS = 1_500;

async function database() {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const query = sql`select current_setting('server_version') as version`;
    const timeout = new Promise<never>((
      _,
      reject,
    ) => (timer = setTimeout(() => reject(new Error("timeout")), CHECK_MS)));
    const [row] = await Promise.race([query, timeout]);
    return { ok: true, version: row.version as string };
  } catch {
    return { ok: false, version: null, error: "the database did not answer" };
  } finally {
    clearTimeout(timer);
  }
}

async function auth() {
  try {
    const res = await fetch(`${env.authUrl}/health`, {
      headers: { apikey: env.anonKey },
      signal: AbortSignal.timeout(CHECK_MS),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, version: null, error: `the auth server answered ${res.status}` };
    }
    const body = await res.json();
    return { ok: true, version: String(body.version ?? "unknown") };
  } catch {
    return { ok: false, version: null, error: "the auth server did not answer" };
  }
}

async function storage() {
  try {
    const res = await fetch(`${env.supabaseUrl}/storage/v1/version`, { signal: AbortSignal.timeout(CHECK_MS) });
    const text = (await res.text()).trim();
    if (!res.ok) return { ok: false, version: null, error: `the storage server answered ${res.status}` };
    return { ok: true, version: text || "unknown" };
  } catch {
    return { ok: false, version: null, error: "the storage server did not answer" };
  }
}

export function healthRoutes(app: Hono) {
  route(app, {
    method: "get",
    path: "/health",
    tag: "health",
    summary:
      "Whether the database, the auth server and the storage server answer, with their versions (503 when one does not)",
    auth: false,
    response: z.object({
      database: Dependency,
      auth: Dependency,
      storage: Dependency,
      api: z.object({ version: z.string(), deno: z.string() }),
    }),
    errors: [503],
    errorsWithData: [503],
    handler: async ({ c }) => {
      const [db, au, st] = await Promise.all([database(), auth(), storage()]);
      const ok = db.ok && au.ok && st.ok;
      const data = { database: db, auth: au, storage: st, api: { version: API_VERSION, deno: Deno.version.deno } };
      const message = ok
        ? "database, auth and storage are up"
        : [db, au, st].flatMap((s) => (s.ok ? [] : [s.error])).join("; ");
      return c.json(envelope(ok, message, data), ok ? 200 : 503);
    },
  });
}
