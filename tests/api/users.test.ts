// Accounts through the gateway. Where the stack runs no Auth server (README, "Not supported here")
// Auth's answers are 503; supabase/functions/api/routes/users.test.ts runs the same routes against
// a stand-in that answers as Supabase Auth does (401s, timing, logout, a lost join race).
import { afterAll, describe, expect, it } from "vitest";
import { api, createUser, db } from "../support/users.ts";

afterAll(() => db.end());

const countUsers = async () => (await db`select count(*)::int as n from auth.users`)[0].n;

describe("POST /users/join", () => {
  it("rejects invalid usernames, passwords and emails with field errors, creating nothing", async () => {
    const before = await countUsers();
    const cases: [unknown, string][] = [
      [{ username: "ab", password: "long-enough-password" }, "username"],
      [{ username: "has space", password: "long-enough-password" }, "username"],
      [{ username: "x".repeat(33), password: "long-enough-password" }, "username"],
      [{ username: "valid_name", password: "short" }, "password"],
      [{ username: "valid_name", password: "long-enough-password", email: "not-an-email" }, "email"],
      [{ password: "long-enough-password" }, "username"],
      [{ username: 12345, password: "long-enough-password" }, "username"],
    ];
    for (const [body, field] of cases) {
      const res = await api("POST", "/users/join", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.success).toBe(false);
      expect(res.body.errors[field], JSON.stringify(body)).toBeDefined();
    }
    expect(await countUsers()).toBe(before);
  });

  it("refuses a username that is taken, in any case, with 409", async () => {
    const user = await createUser("taken");
    const res = await api("POST", "/users/join", { body: { username: user.username.toUpperCase(), password: "long-enough-password" } });
    expect(res.status).toBe(409);
    expect(res.body.errors.username).toBeDefined();
  });

  it("never echoes the password", async () => {
    // A valid request, so the handler runs and Auth answers (or is reported unavailable).
    const res = await api("POST", "/users/join", { body: { username: `echo_${Date.now() % 1e9}`, password: "my-secret-password-123" } });
    expect([201, 503]).toContain(res.status);
    expect(JSON.stringify(res.body)).not.toContain("my-secret-password-123");
  });
});

describe("POST /users/login", () => {
  it("answers an unknown username and an unknown email exactly alike (no enumeration)", async () => {
    const known = await createUser("known");
    const replies = await Promise.all([
      api("POST", "/users/login", { body: { username: "nobody_by_that_name", password: "whatever-password" } }),
      api("POST", "/users/login", { body: { username: "nobody@example.com", password: "whatever-password" } }),
      api("POST", "/users/login", { body: { username: known.username, password: "a-wrong-password" } }),
    ]);
    // All three go to the Auth server and get its one answer (401 invalid credentials; 503 where it cannot be reached).
    const [first, ...rest] = replies;
    expect([401, 503]).toContain(first.status);
    for (const r of rest) expect({ status: r.status, body: r.body }).toEqual({ status: first.status, body: first.body });
    if (first.status === 401) expect(first.body.message).toBe("Invalid username or password");
  });

  it("requires both fields", async () => {
    const res = await api("POST", "/users/login", { body: { username: "someone" } });
    expect(res.status).toBe(400);
    expect(res.body.errors.password).toBeDefined();
  });
});

describe("POST /users/refresh and /users/logout", () => {
  it("refresh needs a refresh token", async () => {
    const res = await api("POST", "/users/refresh", { body: {} });
    expect(res.status).toBe(400);
    expect(res.body.errors.refresh_token).toBeDefined();
  });

  it("logout needs a token", async () => {
    expect((await api("POST", "/users/logout")).status).toBe(401);
  });

  it("logout with a live token goes to Auth; once it succeeds, the token is refused", async () => {
    const user = await createUser("logout");
    const res = await api("POST", "/users/logout", { token: user.token });
    expect([200, 503]).toContain(res.status);
    const me = await api("GET", "/users/me", { token: user.token });
    expect(me.status).toBe(res.status === 200 ? 401 : 200);
  });
});
