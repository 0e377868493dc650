// The account routes when the Auth server cannot be reached: the function, in-process, is pointed
// at a port where nothing listens (AUTH_URL). Everything else about accounts runs against the real
// Auth server through the gateway (tests/api/users.test.ts, tests/api/client-address.test.ts).
import assert from "node:assert/strict";
import { createUser, loadApi, quietTest as test, request } from "../test-support.ts";

/** A port on 127.0.0.1 that was free a moment ago: connections to it are refused. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const { app, sql } = await loadApi({ AUTH_URL: `http://127.0.0.1:${closedPort()}` });
const call = (method: string, path: string, opts: Parameters<typeof request>[3] = {}) =>
  request(app, method, path, opts);

test("Auth unreachable: refresh, login, join and logout answer 503 at once, not after retries", async () => {
  const user = await createUser("unreachable"); // made by the stack's real Auth, which the app cannot reach
  const cases: Array<[string, Parameters<typeof request>[3]]> = [
    ["/users/refresh", { body: { refresh_token: user.refreshToken } }],
    ["/users/login", { body: { username: user.username, password: "any-password-at-all" } }],
    ["/users/join", { body: { username: `new_${crypto.randomUUID().slice(0, 8)}`, password: "long-enough-password" } }],
    ["/users/logout", { token: user.token }],
  ];
  for (const [path, opts] of cases) {
    const res = await call("POST", path, opts);
    assert.equal(res.status, 503, `${path}: ${res.status} ${res.body?.message}`);
    assert.equal(res.body.message, "The auth server is not available; try again shortly");
    assert.ok(res.ms < 2_000, `${path}: ${Math.round(res.ms)} ms`);
  }
});

test("pools close", async () => {
  await sql.end();
});
