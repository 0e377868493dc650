// Supabase Auth, the real server, through the gateway: what a supabase-js frontend does, and
// what the `api` function sees of the sessions it issues.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, describe, expect, it } from "vitest";
import { ANON_KEY, API_URL } from "./support/env.ts";
import { api, createUser, db } from "./support/users.ts";

afterAll(() => db.end());

function client(key = ANON_KEY): SupabaseClient {
  return createClient(API_URL, key, { auth: { persistSession: false, autoRefreshToken: false } });
}

let n = 0;
const newEmail = () => `auth_${process.pid}_${Date.now() % 100000}_${n++}@users.invalid`;
const password = "a-long-password-for-auth-tests";

describe("supabase-js against the local Auth server", () => {
  it("signs up (autoconfirmed: a session at once), signs in, gets the user", async () => {
    const email = newEmail();
    const signUp = await client().auth.signUp({
      email,
      password,
      options: { data: { username: email.split("@")[0] } },
    });
    expect(signUp.error).toBeNull();
    expect(signUp.data.session?.access_token).toBeTruthy();
    const id = signUp.data.user!.id;

    const sb = client();
    const signIn = await sb.auth.signInWithPassword({ email, password });
    expect(signIn.error).toBeNull();
    expect(signIn.data.user?.id).toBe(id);

    const { data, error } = await sb.auth.getUser();
    expect(error).toBeNull();
    expect(data.user).toMatchObject({ id, email, role: "authenticated" });
    // The sign-up trigger made the profile with the username from the metadata.
    const [profile] = await db`select username from public.profiles where id = ${id}`;
    expect(profile.username).toBe(email.split("@")[0]);
  });

  it("refuses a wrong password", async () => {
    const user = await createUser("authpw");
    const { data, error } = await client().auth.signInWithPassword({ email: user.email, password: "not-the-password" });
    expect(data.session).toBeNull();
    expect(error?.status).toBe(400);
    expect(error?.code).toBe("invalid_credentials");
  });

  it("refreshes a session: new tokens, and the new access token works in the api function", async () => {
    const user = await createUser("authrefresh");
    const { data, error } = await client().auth.refreshSession({ refresh_token: user.refreshToken });
    expect(error).toBeNull();
    expect(data.session!.refresh_token).not.toBe(user.refreshToken);
    const me = await api("GET", "/users/me", { token: data.session!.access_token });
    expect(me.status).toBe(200);
    expect(me.body.data.id).toBe(user.id);
  });

  it("signs out: the session's refresh token then fails, and the function refuses its access token", async () => {
    const user = await createUser("authout");
    const sb = client();
    await sb.auth.setSession({ access_token: user.token, refresh_token: user.refreshToken });
    expect((await sb.auth.signOut()).error).toBeNull();
    const again = await client().auth.refreshSession({ refresh_token: user.refreshToken });
    expect(again.data.session).toBeNull();
    expect(again.error?.status).toBe(400);
    expect((await api("GET", "/users/me", { token: user.token })).status).toBe(401);
  });

  it("refuses a wrong apikey", async () => {
    const { data, error } = await client("not-a-project-key").auth.signInWithPassword({ email: newEmail(), password });
    expect(data.session).toBeNull();
    expect(error?.status).toBe(401);
    const res = await fetch(`${API_URL}/auth/v1/settings`, { headers: { apikey: "wrong" } });
    expect(res.status).toBe(401);
  });
});

describe("the api function and Auth's sessions", () => {
  it("sees the user of a token the Auth server issued", async () => {
    const email = newEmail();
    const username = email.split("@")[0];
    await client().auth.signUp({ email, password, options: { data: { username } } });
    const { data } = await client().auth.signInWithPassword({ email, password });
    const me = await api("GET", "/users/me", { token: data.session!.access_token });
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({ id: data.user!.id, username });
  });

  it("logout through /api/v1/users/logout ends the session at once: its access and refresh tokens stop working", async () => {
    const user = await createUser("apilogout");
    expect((await api("GET", "/users/me", { token: user.token })).status).toBe(200);
    const out = await api("POST", "/users/logout", { token: user.token });
    expect(out.status).toBe(200);
    const me = await api("GET", "/users/me", { token: user.token });
    expect(me.status).toBe(401);
    const refreshed = await client().auth.refreshSession({ refresh_token: user.refreshToken });
    expect(refreshed.error?.status).toBe(400);
    // The session row is gone from Auth's own table, not just hidden by the function.
    const rows = await db`select 1 from auth.sessions where id = ${user.sessionId}`;
    expect(rows).toHaveLength(0);
  });
});
