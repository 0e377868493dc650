import assert from "node:assert/strict";
import { ANON_KEY } from "./config.ts";
import { gatewayHandler } from "./gateway.ts";

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
