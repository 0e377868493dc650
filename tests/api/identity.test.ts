// Who may call: tokens are verified locally and their session must still exist.
import { afterAll, describe, expect, it } from "vitest";
import { api, createUser, db, deleteUser, endSession, signToken, tokenFor } from "../support/users.ts";
import { API_URL } from "../support/env.ts";

afterAll(() => db.end());

describe("access tokens", () => {
  it("a token of a live session reaches the caller's profile", async () => {
    const user = await createUser("ident");
    const res = await api("GET", "/users/me", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { id: user.id, username: user.username }, errors: null });
  });

  it("no token, a malformed header, a forged, an expired or a non-user token: 401 in the envelope", async () => {
    const user = await createUser("ident");
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: user.id,
      aud: "authenticated",
      role: "authenticated",
      session_id: user.sessionId,
      iat: now,
      exp: now + 600,
    };
    const cases: Record<string, Record<string, string>> = {
      none: {},
      malformed: { authorization: "Token abc" },
      garbage: { authorization: "Bearer not.a.jwt" },
      forged: { authorization: `Bearer ${signToken(claims, "another-secret-that-is-at-least-32-characters")}` },
      expired: { authorization: `Bearer ${tokenFor(user.id, user.sessionId, "", -60)}` },
      anonRole: { authorization: `Bearer ${signToken({ ...claims, role: "anon" })}` },
      otherAudience: { authorization: `Bearer ${signToken({ ...claims, aud: "somewhere-else" })}` },
      unsigned: {
        authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString("base64url")}.${
          Buffer.from(JSON.stringify(claims)).toString("base64url")
        }.`,
      },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await api("GET", "/conversations", { headers });
      expect(res.status, name).toBe(401);
      expect(res.body, name).toMatchObject({ success: false, data: null });
      expect(typeof res.body.message, name).toBe("string");
    }
    const expired = await api("GET", "/conversations", { headers: cases.expired });
    expect(expired.body.message).toMatch(/expired/);
  });

  it("a token whose session ended (logout) is refused at once, before it expires", async () => {
    const user = await createUser("ident");
    expect((await api("GET", "/conversations", { token: user.token })).status).toBe(200);
    await endSession(user);
    const res = await api("GET", "/conversations", { token: user.token });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/Session ended/);
  });

  it("a token without a session id is refused", async () => {
    const user = await createUser("ident");
    const now = Math.floor(Date.now() / 1000);
    const token = signToken({ sub: user.id, aud: "authenticated", role: "authenticated", iat: now, exp: now + 600 });
    expect((await api("GET", "/users/me", { token })).status).toBe(401);
  });

  it("a deleted user's token stops working", async () => {
    const user = await createUser("ident");
    await deleteUser(user);
    expect((await api("GET", "/users/me", { token: user.token })).status).toBe(401);
  });
});

describe("the envelope and HTTP around every route", () => {
  it("answers CORS preflights and puts the CORS headers on every response", async () => {
    const pre = await fetch(`${API_URL}/api/v1/conversations`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-client-info, apikey",
      },
    });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/x-client-info/);
    const err = await api("GET", "/conversations");
    expect(err.headers.get("access-control-allow-origin")).toBe("*");
    const user = await createUser("ident");
    const list = await api("GET", "/conversations", {
      token: user.token,
      headers: { origin: "http://localhost:3000" },
    });
    expect(list.headers.get("access-control-expose-headers")).toMatch(/X-Total-Count/i);
  });

  it("answers 405 with Allow for a wrong method, 404 for an unknown path", async () => {
    const user = await createUser("ident");
    const wrong = await api("PUT", "/conversations", { token: user.token, body: {} });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, POST");
    expect(wrong.body.success).toBe(false);
    const missing = await api("GET", "/no-such-thing", { token: user.token });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ success: false, data: null });
  });

  it("serves an OpenAPI 3.1 description of every route and a readable page that needs no CDN", async () => {
    const doc = await api("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    const paths = Object.keys(doc.body.paths);
    for (
      const p of [
        "/users/join",
        "/users/login",
        "/users/logout",
        "/users/refresh",
        "/users/me",
        "/conversations",
        "/conversations/{id}",
        "/conversations/{id}/messages",
        "/keys",
        "/keys/{id}",
        "/keys/{id}/statistics",
        "/keys/{id}/statics",
        "/health",
      ]
    ) {
      expect(paths).toContain(p);
    }
    // The request schema is the validating zod schema: its limits show up.
    const keyBody = doc.body.paths["/keys"].post.requestBody.content["application/json"].schema;
    expect(keyBody.properties.kind.enum).toEqual(["open_ai", "claude"]);
    expect(
      doc.body.paths["/conversations/{id}/messages"].post.requestBody.content["application/json"].schema.properties
        .message.maxLength,
    ).toBe(32000);

    const page = await fetch(`${API_URL}/api/v1/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("openapi.json");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
  });
});
