// The local stack itself, through the gateway.
import { readFileSync } from "node:fs";
import { createClient } from "@supabase/supabase-js";
import { afterAll, describe, expect, it } from "vitest";
import { ANON_KEY, API_URL, STACK_SERVICES } from "./support/env.ts";
import { startPostgres, stopPostgres } from "./support/postgres.ts";

/** Pauses a server of the stack (SIGSTOP: it keeps its port but answers nothing) while `during` runs. */
async function whilePaused<T>(service: "auth" | "storage", during: () => Promise<T>): Promise<T> {
  const pid = JSON.parse(readFileSync(STACK_SERVICES, "utf8"))[service] as number;
  process.kill(pid, "SIGSTOP");
  try {
    return await during();
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

describe("gateway", () => {
  it("refuses /auth/v1 without an apikey, as Supabase's gateway does", async () => {
    const res = await fetch(`${API_URL}/auth/v1/health`);
    expect(res.status).toBe(401);
    expect((await res.json()).message).toBe("No API key found in request");
  });

  it("refuses a wrong apikey from supabase-js", async () => {
    const client = createClient(API_URL, "not-a-project-key", { auth: { persistSession: false } });
    const { data, error } = await client.auth.signUp({ email: "someone@example.com", password: "a-long-password-1" });
    expect(data.user).toBeNull();
    expect(error?.status).toBe(401);
  });

  it("answers /rest/v1 with 501 and says why", async () => {
    const res = await fetch(`${API_URL}/rest/v1/conversations?select=*`, { headers: { apikey: ANON_KEY } });
    expect(res.status).toBe(501);
    const body = await res.json();
    expect(body).toMatchObject({ success: false, data: null });
    expect(body.message).toMatch(/PostgREST .* not part of the local stack/);
  });

  it("routes /functions/v1/api/* to the api function, as hosted Supabase does", async () => {
    const res = await fetch(`${API_URL}/functions/v1/api/v1/health`);
    const body = await res.json();
    expect(body.data.database.ok).toBe(true);
  });

  it("answers unknown API paths with a 404 envelope; other paths are the web app's", async () => {
    const res = await fetch(`${API_URL}/api/v1/nowhere`);
    expect(res.status).toBe(404);
    expect((await res.json()).success).toBe(false);
    const app = await fetch(`${API_URL}/nowhere`);
    expect([app.status, app.headers.get("content-type")]).toEqual([200, "text/html"]);
    expect(await app.text()).toContain('<div id="root"></div>');
  });
});

describe("GET /api/v1/health", () => {
  afterAll(() => {
    try {
      startPostgres();
    } catch { /* already running */ }
  });

  it("reports the database, the auth server and the storage server with their versions", async () => {
    const res = await fetch(`${API_URL}/api/v1/health`);
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body.success).toBe(true);
    expect(body.data.database).toMatchObject({ ok: true });
    expect(body.data.database.version).toMatch(/^15\./);
    expect(body.data.auth).toEqual({ ok: true, version: "v2.196.0" });
    expect(body.data.storage).toEqual({ ok: true, version: "1.70.6" });
  });

  for (const service of ["auth", "storage"] as const) {
    it(`turns 503 naming ${service} while the ${service} server does not answer, and recovers`, async () => {
      const down = await whilePaused(service, async () => {
        const res = await fetch(`${API_URL}/api/v1/health`);
        return { status: res.status, body: await res.json() };
      });
      expect(down.status).toBe(503);
      expect(down.body.success).toBe(false);
      expect(down.body.data[service]).toMatchObject({ ok: false, version: null });
      expect(down.body.message).toContain(`the ${service} server did not answer`);
      expect(down.body.data.database.ok).toBe(true);
      const up = await fetch(`${API_URL}/api/v1/health`);
      expect(up.status).toBe(200);
      await up.body?.cancel();
    });
  }

  it("turns 503 while Postgres is stopped, and recovers when it is back", async () => {
    stopPostgres();
    const down = await fetch(`${API_URL}/api/v1/health`);
    expect(down.status).toBe(503);
    const body = await down.json();
    expect(body.success).toBe(false);
    expect(body.data.database.ok).toBe(false);
    expect(body.message).toMatch(/database/);

    startPostgres();
    const up = await (await fetch(`${API_URL}/api/v1/health`)).json();
    expect(up.data.database.ok).toBe(true);
  });
});
