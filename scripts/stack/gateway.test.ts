// The gateway, started as the stack starts it (a real nginx), in front of stand-in upstreams that
// report what reached them.
import assert from "node:assert/strict";
import { ANON_KEY } from "./config.ts";
import { startGateway } from "./gateway.ts";
import { freePort } from "./proc.ts";

interface Seen {
  path: string;
  forwardedFor: string | null;
  host: string | null;
}

/** An upstream that answers 200 with what it received. */
function upstream(seen: Seen[]) {
  return Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push({
      path: url.pathname + url.search,
      forwardedFor: req.headers.get("x-forwarded-for"),
      host: req.headers.get("host"),
    });
    return Response.json({ ok: true });
  });
}

/** The gateway as the stack starts it, its upstreams the given ports; stopped after `test`. */
async function withGateway(
  ports: { auth: number; storage: number; api: number },
  test: (base: string, accessLog: string) => Promise<void>,
  webRoot?: string,
) {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const accessLog = `${dir}/access.log`;
  const nginx = await startGateway(
    {
      port,
      authPort: ports.auth,
      storagePort: ports.storage,
      functions: new Map([["api", ports.api]]),
      dir,
      accessLog,
      webRoot,
    },
    `${dir}/errors.log`,
  );
  try {
    await test(`http://127.0.0.1:${port}`, accessLog);
  } finally {
    nginx.kill("SIGTERM");
    await nginx.status;
    await Deno.remove(dir, { recursive: true });
  }
}

const closedPort = freePort();

Deno.test("the gateway routes Supabase's paths, replacing X-Forwarded-For with the address it saw", async () => {
  const auth: Seen[] = [], storage: Seen[] = [], api: Seen[] = [];
  const servers = [upstream(auth), upstream(storage), upstream(api)];
  const [a, s, f] = servers.map((x) => x.addr.port);
  try {
    await withGateway({ auth: a, storage: s, api: f }, async (base) => {
      const get = async (path: string, headers: Record<string, string> = {}) => {
        const res = await fetch(base + path, { headers: { "x-forwarded-for": "6.6.6.6", ...headers } });
        return { status: res.status, body: await res.json() };
      };
      assert.equal((await get("/auth/v1/health", { apikey: ANON_KEY })).status, 200);
      assert.equal((await get(`/auth/v1/health?apikey=${ANON_KEY}`)).status, 200);
      assert.deepEqual(auth, [
        { path: "/health", forwardedFor: "127.0.0.1", host: `127.0.0.1:${a}` },
        { path: `/health?apikey=${ANON_KEY}`, forwardedFor: "127.0.0.1", host: `127.0.0.1:${a}` },
      ]);
      assert.equal((await get("/storage/v1/object/sign/documents/a.pdf?token=t")).status, 200);
      assert.deepEqual(storage.map((x) => x.path), ["/object/sign/documents/a.pdf?token=t"]);
      for (const path of ["/api/v1/keys?x=1", "/functions/v1/api/v1/keys?x=1"]) {
        assert.equal((await get(path)).status, 200);
      }
      assert.deepEqual(api.map((x) => [x.path, x.forwardedFor]), [["/api/v1/keys?x=1", "127.0.0.1"], [
        "/api/v1/keys?x=1",
        "127.0.0.1",
      ]]);
    });
  } finally {
    for (const x of servers) await x.shutdown();
  }
});

Deno.test("the gateway's own answers: a project key for Auth, 404, 501, 405 and 502 in the envelope", async () => {
  const auth: Seen[] = [];
  const server = upstream(auth);
  try {
    await withGateway({ auth: server.addr.port, storage: closedPort, api: closedPort }, async (base) => {
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(base + path, init);
        return { status: res.status, allow: res.headers.get("allow"), body: await res.json() };
      };
      assert.deepEqual(await call("/auth/v1/health"), {
        status: 401,
        allow: null,
        body: { message: "No API key found in request", hint: "No `apikey` request header or url param was found." },
      });
      assert.equal(
        (await call("/auth/v1/health", { headers: { apikey: "not-a-project-key" } })).body.message,
        "Invalid API key",
      );
      assert.equal((await call(`/auth/v1/health?apikey=${ANON_KEY}x`)).status, 401);
      assert.equal(auth.length, 0, "nothing refused reached Auth");
      const envelope = (message: string) => ({ success: false, message, data: null, errors: null });
      assert.deepEqual((await call("/functions/v1/other/x")).body, envelope("Function not found: other"));
      assert.deepEqual((await call("/nowhere")).body, envelope("No route for this path"));
      assert.equal((await call("/rest/v1/conversations?select=*")).status, 501);
      const down = await call("/api/v1/health");
      assert.deepEqual([down.status, down.body], [502, envelope("The upstream service did not answer.")]);
      const storageDown = await call("/storage/v1/object/a.pdf");
      assert.equal(storageDown.status, 502);
      const locked = await call("/api/v1/health", { method: "LOCK" });
      assert.deepEqual([locked.status, locked.body, locked.allow], [
        405,
        envelope("Method LOCK not allowed"),
        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
      ]);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("the access log: a JSON line per request, path without the query, no headers", async () => {
  const api: Seen[] = [];
  const server = upstream(api);
  try {
    await withGateway({ auth: closedPort, storage: closedPort, api: server.addr.port }, async (base, accessLog) => {
      const res = await fetch(`${base}/api/v1/keys?token=secret-in-query`, {
        method: "POST",
        headers: { authorization: "Bearer t0ken" },
        body: "{}",
      });
      await res.body?.cancel();
      await (await fetch(`${base}/nowhere`)).body?.cancel();
      let text = "";
      for (let waited = 0; text.split("\n").length < 3 && waited < 2000; waited += 50) {
        await new Promise((r) => setTimeout(r, 50)); // written within 100 ms
        text = await Deno.readTextFile(accessLog).catch(() => "");
      }
      const lines = text.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(lines.map(({ seconds: _, ...rest }) => rest), [
        { method: "POST", path: "/api/v1/keys", status: 200 },
        { method: "GET", path: "/nowhere", status: 404 },
      ]);
      assert.ok(lines.every((l) => typeof l.seconds === "number"));
      assert.ok(!text.includes("secret") && !text.includes("t0ken"));
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("with a web root, the gateway serves the web client beside the API: assets cached for good and gzipped, the page for the app's paths", async () => {
  const api: Seen[] = [];
  const server = upstream(api);
  const web = await Deno.makeTempDir();
  await Deno.mkdir(`${web}/assets`);
  await Deno.writeTextFile(`${web}/index.html`, "<!doctype html><title>app</title>");
  const script = "export const answer = 42;\n".repeat(200);
  await Deno.writeTextFile(`${web}/assets/index-abc.js`, script);
  try {
    await withGateway({ auth: closedPort, storage: closedPort, api: server.addr.port }, async (base) => {
      const get = async (path: string) => {
        const res = await fetch(base + path, { headers: { "accept-encoding": "gzip" } });
        return {
          status: res.status,
          type: res.headers.get("content-type"),
          cache: res.headers.get("cache-control"),
          body: await res.text(),
        };
      };
      for (const path of ["/", "/conversations/123"]) {
        assert.deepEqual(await get(path), {
          status: 200,
          type: "text/html",
          cache: "no-cache",
          body: "<!doctype html><title>app</title>",
        });
      }
      const asset = await fetch(`${base}/assets/index-abc.js`, { headers: { "accept-encoding": "gzip" } });
      assert.equal(asset.headers.get("content-encoding"), "gzip");
      assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(asset.headers.get("content-type"), "text/javascript");
      assert.equal(await asset.text(), script); // fetch undoes the gzip
      assert.equal((await get("/assets/gone.js")).status, 404, "a missing asset is not the page");
      assert.equal((await get("/api/v1/keys")).status, 200);
      assert.deepEqual(api.map((x) => x.path), ["/api/v1/keys"]);
    }, web);
  } finally {
    await server.shutdown();
    await Deno.remove(web, { recursive: true });
  }
});
