import assert from "node:assert/strict";
import { ANON_KEY } from "./config.ts";
import { type AccessEntry, AccessLog, gatewayHandler } from "./gateway.ts";

const info = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } } as Deno.ServeHandlerInfo;

Deno.test("the gateway forwards /auth/v1 to the Auth server with the address it saw, not one the client claims", async () => {
  let seen: { path: string; forwardedFor: string | null } | null = null;
  const upstream = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    seen = { path: new URL(req.url).pathname, forwardedFor: req.headers.get("x-forwarded-for") };
    return Response.json({ version: "test" });
  });
  try {
    const handler = gatewayHandler({ authUrl: `http://127.0.0.1:${upstream.addr.port}`, storageUrl: "http://127.0.0.1:1", functions: new Map() });
    const res = await handler(new Request("http://gw/auth/v1/health", { headers: { apikey: ANON_KEY, "x-forwarded-for": "6.6.6.6" } }), info);
    assert.deepEqual(res.status, 200);
    assert.deepEqual(await res.json(), { version: "test" });
    assert.deepEqual(seen, { path: "/health", forwardedFor: "127.0.0.1" });
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("the gateway forwards /storage/v1 to the Storage server with the prefix stripped, query kept", async () => {
  let seen: string | null = null;
  const upstream = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen = url.pathname + url.search;
    return new Response("pdf bytes");
  });
  try {
    const handler = gatewayHandler({ authUrl: "http://127.0.0.1:1", storageUrl: `http://127.0.0.1:${upstream.addr.port}`, functions: new Map() });
    const res = await handler(new Request("http://gw/storage/v1/object/sign/documents/a.pdf?token=t"), info);
    assert.deepEqual(res.status, 200);
    assert.deepEqual(await res.text(), "pdf bytes");
    assert.deepEqual(seen, "/object/sign/documents/a.pdf?token=t");
  } finally {
    await upstream.shutdown();
  }
});
Deno.test("the api function is reachable under /api/v1 and /functions/v1/api", async () => {
  const paths: string[] = [];
  const fn = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    paths.push(new URL(req.url).pathname + new URL(req.url).search);
    return new Response("ok");
  });
  try {
    const handler = gatewayHandler({ authUrl: "http://127.0.0.1:1", storageUrl: "http://127.0.0.1:1", functions: new Map([["api", fn.addr.port]]) });
    for (const url of ["http://gw/api/v1/keys?x=1", "http://gw/functions/v1/api/v1/keys?x=1"]) {
      const res = await handler(new Request(url), info);
      assert.deepEqual(await res.text(), "ok");
    }
    assert.deepEqual(paths, ["/api/v1/keys?x=1", "/api/v1/keys?x=1"]);
  } finally {
    await fn.shutdown();
  }
});

Deno.test("the access log has a line per request: method, path without the query, status; nothing else", async () => {
  const fn = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => Response.json({ ok: true }, { status: 201 }));
  const lines: AccessEntry[] = [];
  try {
    const handler = gatewayHandler({ authUrl: "http://127.0.0.1:1", storageUrl: "http://127.0.0.1:1", functions: new Map([["api", fn.addr.port]]) }, (e) => lines.push(e));
    await (await handler(new Request("http://gw/api/v1/keys?token=secret-in-query", { method: "POST", headers: { authorization: "Bearer t0ken" }, body: "{}" }), info)).body?.cancel();
    await (await handler(new Request("http://gw/storage/v1/object/sign/a.pdf?token=signed"), info)).body?.cancel(); // Storage down: 502
    await (await handler(new Request("http://gw/nowhere"), info)).body?.cancel();
    assert.deepEqual(lines.map(({ ms: _, ...rest }) => rest), [
      { method: "POST", path: "/api/v1/keys", status: 201 },
      { method: "GET", path: "/storage/v1/object/sign/a.pdf", status: 502 },
      { method: "GET", path: "/nowhere", status: 404 },
    ]);
    assert.ok(lines.every((l) => Number.isInteger(l.ms) && l.ms >= 0));
    assert.ok(!JSON.stringify(lines).includes("secret") && !JSON.stringify(lines).includes("t0ken"));
  } finally {
    await fn.shutdown();
  }
});

Deno.test("the access log file is written in batches, within FLUSH_MS, and at once on flush()", async () => {
  const path = await Deno.makeTempFile();
  try {
    const log = new AccessLog(path);
    const entry = (status: number): AccessEntry => ({ method: "GET", path: "/api/v1/conversations", status, ms: 1 });
    log.add(entry(200));
    log.add(entry(404));
    assert.equal(await Deno.readTextFile(path), "", "nothing written per request");
    await new Promise((r) => setTimeout(r, AccessLog.FLUSH_MS + 50));
    assert.deepEqual((await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l).status), [200, 404]);
    log.add(entry(500));
    log.flush();
    assert.deepEqual((await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l).status), [200, 404, 500]);
  } finally {
    await Deno.remove(path);
  }
});
