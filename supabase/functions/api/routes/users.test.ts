// The account routes against a stand-in for the Auth server that answers as Supabase Auth does,
// so the branches that need Auth's answer run (the local stack may have no Auth server): wrong
// credentials, the same answer and time for unknown users, logout, a join that loses a race, and
// the client address passed on to Auth. The database is the test stack's (DB_URL, from npm test).
import assert from "node:assert/strict";
import { adminDb, createUser as makeUser, loadApi, quietTest as test, request } from "../test-support.ts";

const AUTH_DELAY_MS = 60;
const db = adminDb();
const createUser = (username: string) => makeUser(db, username);

interface Seen {
  path: string;
  forwardedFor: string | null;
  email?: string;
}
const seen: Seen[] = [];
let joinRace: string | null = null; // a username the stand-in lets someone else take first

const authServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
  const url = new URL(req.url);
  const body = req.method === "POST" ? await req.json().catch(() => ({})) : {};
  seen.push({ path: url.pathname, forwardedFor: req.headers.get("x-forwarded-for"), email: body.email });
  await new Promise((r) => setTimeout(r, AUTH_DELAY_MS)); // Auth's own work (a password hash) takes time
  if (url.pathname === "/auth/v1/token" && body.refresh_token === "while-auth-is-down") {
    return Response.json({ message: "An invalid response was received from the upstream server" }, { status: 502 });
  }
  if (url.pathname === "/auth/v1/token") {
    return Response.json({ code: 400, error_code: "invalid_credentials", msg: "Invalid login credentials" }, { status: 400 });
  }
  if (url.pathname === "/auth/v1/logout") {
    const token = req.headers.get("authorization")!.replace(/^Bearer /, "");
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    await db`delete from auth.sessions where id = ${claims.session_id}`;
    return new Response(null, { status: 204 });
  }
  if (url.pathname === "/auth/v1/signup" && joinRace && body.data?.username === joinRace) {
    await createUser(joinRace); // the other join wins; this one fails in the profile trigger
    return Response.json({ code: 500, error_code: "unexpected_failure", msg: "Database error saving new user" }, { status: 500 });
  }
  return Response.json({ code: 404, msg: "not in the stand-in" }, { status: 404 });
});

const { app, sql } = await loadApi({ SUPABASE_URL: `http://127.0.0.1:${authServer.addr.port}` });

const unique = (prefix: string) => `${prefix}_${crypto.randomUUID().slice(0, 8)}`;

const call = (method: string, path: string, opts: Parameters<typeof request>[3] = {}) => request(app, method, path, opts);

test("login: a wrong password, an unknown username and an unknown email get one answer, 401, in the same time", async () => {
  const known = await createUser(unique("known"));
  const attempts = [
    { username: known.username, password: "a-wrong-password" },
    { username: unique("nobody"), password: "a-wrong-password" },
    { username: `${unique("nobody")}@example.com`, password: "a-wrong-password" },
  ];
  const times: number[][] = attempts.map(() => []);
  let first: unknown = null;
  for (let round = 0; round < 5; round++) {
    for (const [i, body] of attempts.entries()) {
      const before = seen.length;
      const res = await call("POST", "/users/login", { body });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, first ?? res.body);
      first = res.body;
      assert.equal(seen.length - before, 1, "every attempt is asked of the Auth server");
      times[i].push(res.ms);
    }
  }
  assert.equal((first as { message: string }).message, "Invalid username or password");
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const medians = times.map(median);
  for (const m of medians) assert.ok(m >= AUTH_DELAY_MS, `${medians} ms: each waited for Auth`);
  assert.ok(Math.max(...medians) - Math.min(...medians) < AUTH_DELAY_MS / 2, `medians ${medians.map(Math.round)} ms differ`);
});

test("logout ends the session: the token that logged out is refused afterwards", async () => {
  const user = await createUser(unique("leaving"));
  assert.equal((await call("GET", "/users/me", { token: user.token })).status, 200);
  const res = await call("POST", "/users/logout", { token: user.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const after = await call("GET", "/users/me", { token: user.token });
  assert.equal(after.status, 401);
  assert.equal(after.body.message, "Session ended: log in again");
});

test("join: losing a race for a username is 409 taken, not 503", async () => {
  joinRace = unique("racer");
  const res = await call("POST", "/users/join", { body: { username: joinRace, password: "long-enough-password" } });
  joinRace = null;
  assert.equal(res.status, 409, JSON.stringify(res.body));
  assert.deepEqual(res.body.errors, { username: ["Already taken"] });
});

test("Auth sees the caller's address (the gateway's last X-Forwarded-For entry), never one the client made up", async () => {
  const before = seen.length;
  await call("POST", "/users/login", {
    body: { username: unique("someone"), password: "whatever-password" },
    headers: { "x-forwarded-for": "203.0.113.66, 198.51.100.7" },
  });
  assert.deepEqual(seen.slice(before).map((s) => s.forwardedFor), ["198.51.100.7"]);
  await call("POST", "/users/login", { body: { username: unique("someone"), password: "whatever-password" } });
  assert.equal(seen.at(-1)!.forwardedFor, null, "no address is invented when the gateway sent none");
});

test("refresh: an unknown refresh token is 401; Auth failing is 503 at once, not after retries", async () => {
  const bad = await call("POST", "/users/refresh", { body: { refresh_token: "not-a-real-one" } });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.message, "Invalid or used refresh token");
  const down = await call("POST", "/users/refresh", { body: { refresh_token: "while-auth-is-down" } });
  assert.equal(down.status, 503);
  assert.ok(down.ms < 2_000, `${Math.round(down.ms)} ms`);
});

test("the stand-in Auth server and the pools close", async () => {
  await authServer.shutdown();
  await sql.end();
  await db.end();
});
