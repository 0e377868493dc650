// Accounts through the gateway, against the test stack's real Auth server. The client address
// Auth sees, and its per-address limits: client-address.test.ts; Auth unreachable:
// supabase/functions/api/routes/users.test.ts.
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
    const res = await api("POST", "/users/join", {
      body: { username: user.username.toUpperCase(), password: "long-enough-password" },
    });
    expect(res.status).toBe(409);
    expect(res.body.errors.username).toBeDefined();
  });

  it("never echoes the password", async () => {
    const res = await api("POST", "/users/join", {
      body: { username: `echo_${Date.now() % 1e9}`, password: "my-secret-password-123" },
    });
    expect(res.status).toBe(201);
    expect(JSON.stringify(res.body)).not.toContain("my-secret-password-123");
  });

  it("two joins of one username at once, with two emails: one 201, the other 409 taken, never 503", async () => {
    const username = `racer_${Date.now() % 1e9}`;
    // Both joins pass the function's own check and reach Auth; the profiles lock holds both Auth
    // transactions at the profile insert until both are there, so the profile trigger's uniqueness
    // fails one of them inside Auth, which answers 500 "Database error saving new user".
    let joins!: Promise<Awaited<ReturnType<typeof api>>[]>;
    await db.begin(async (tx) => {
      await tx`lock table public.profiles in share row exclusive mode`;
      joins = Promise.all(
        ["a", "b"].map((e) =>
          api("POST", "/users/join", {
            body: { username, email: `${username}_${e}@example.com`, password: "long-enough-password" },
          })
        ),
      );
      const giveUp = Date.now() + 10_000;
      while (
        (await tx`select count(*)::int as n from pg_locks where relation = 'public.profiles'::regclass and not granted`)[
          0
        ].n < 2
      ) {
        if (Date.now() > giveUp) throw new Error("the two sign-ups did not both reach the profile insert");
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    const replies = await joins;
    expect(replies.map((r) => r.status).sort()).toEqual([201, 409]);
    const lost = replies.find((r) => r.status === 409)!;
    expect(lost.body.errors).toEqual({ username: ["Already taken"] });
    const [{ n }] =
      await db`select count(*)::int as n from auth.users where raw_user_meta_data ->> 'username' = ${username}`;
    expect(n).toBe(1);
  });
});

describe("POST /users/login", () => {
  it("a wrong password, an unknown username and an unknown email get one answer, 401, in the same time", async () => {
    const known = await createUser("known");
    const attempts = [
      { username: known.username, password: "a-wrong-password" },
      { username: `nobody_${Date.now() % 1e9}`, password: "a-wrong-password" },
      { username: `nobody_${Date.now() % 1e9}@example.com`, password: "a-wrong-password" },
    ];
    const times: number[][] = attempts.map(() => []);
    for (let round = 0; round < 5; round++) {
      for (const [i, body] of attempts.entries()) {
        const started = performance.now();
        const res = await api("POST", "/users/login", { body });
        times[i].push(performance.now() - started);
        expect({ status: res.status, body: res.body }).toEqual({
          status: 401,
          body: { success: false, message: "Invalid username or password", data: null, errors: null },
        });
      }
    }
    // Auth checks the password hash of a known user only (about 0.1 s), so without care the
    // known user's answer comes measurably later.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const medians = times.map(median);
    expect(Math.max(...medians) - Math.min(...medians), `medians ${medians.map(Math.round)} ms`).toBeLessThan(60);
  });

  it("the right password logs in, by username and by email", async () => {
    const user = await createUser("rightpw");
    for (const username of [user.username, user.email]) {
      const res = await api("POST", "/users/login", { body: { username, password: user.password } });
      expect(res.status).toBe(200);
      expect(res.body.data.user).toMatchObject({ id: user.id, username: user.username });
      expect((await api("GET", "/users/me", { token: res.body.data.token })).status).toBe(200);
    }
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

  it("refresh: an unknown refresh token is 401; a live one gives new tokens", async () => {
    const bad = await api("POST", "/users/refresh", { body: { refresh_token: "not-a-real-one" } });
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe("Invalid or used refresh token");
    const user = await createUser("refresher");
    const res = await api("POST", "/users/refresh", { body: { refresh_token: user.refreshToken } });
    expect(res.status).toBe(200);
    expect(res.body.data.user).toMatchObject({ id: user.id, username: user.username });
    expect((await api("GET", "/users/me", { token: res.body.data.token })).status).toBe(200);
  });

  it("logout ends the session: the token that logged out is refused afterwards", async () => {
    const user = await createUser("logout");
    expect((await api("GET", "/users/me", { token: user.token })).status).toBe(200);
    const res = await api("POST", "/users/logout", { token: user.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const me = await api("GET", "/users/me", { token: user.token });
    expect(me.status).toBe(401);
    expect(me.body.message).toBe("Session ended: log in again");
  });
});
