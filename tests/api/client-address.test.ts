// The client's address reaches the real Auth server: the gateway sets X-Forwarded-For to the
// address it saw, the function passes that on to Auth (directly, at AUTH_URL, so nothing replaces
// it), and Auth keys its per-address sign-in limit on it and records it on the session it makes.
// Clients here connect from addresses of their own in 127.0.0.0/8 (Linux routes all of it to lo).
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { API_URL } from "../support/env.ts";
import { claimsOf, createUser, db } from "../support/users.ts";

afterAll(() => db.end());

/** A loopback address of this run's own (not 127.0.0.1, which every other suite uses). */
const someAddress = () =>
  `127.${10 + Math.floor(Math.random() * 240)}.${Math.floor(Math.random() * 256)}.${
    1 + Math.floor(Math.random() * 254)
  }`;

/** POST /api/v1<path> through the gateway, connecting from `from`. */
function postFrom(from: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const data = JSON.stringify(body);
  const { hostname, port } = new URL(API_URL);
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = request({
      host: hostname,
      port,
      path: `/api/v1${path}`,
      method: "POST",
      localAddress: from,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...headers },
    }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** The address Auth recorded on the session of an access token. */
async function sessionAddress(token: string) {
  const [row] = await db`select host(ip) as ip from auth.sessions where id = ${claimsOf(token).session_id as string}`;
  return row?.ip;
}

describe("the address Auth sees", () => {
  it("is the client's, for a login through /api/v1/users/login, whatever X-Forwarded-For the client sends", async () => {
    const user = await createUser("from_afar");
    const from = someAddress();
    const plain = await postFrom(from, "/users/login", { username: user.username, password: user.password });
    expect(plain.status).toBe(200);
    expect(await sessionAddress(plain.body.data.token)).toBe(from);
    const forged = await postFrom(from, "/users/login", { username: user.username, password: user.password }, {
      "x-forwarded-for": "203.0.113.66, 198.51.100.7",
    });
    expect(forged.status).toBe(200);
    expect(await sessionAddress(forged.body.data.token)).toBe(from);
  });

  it("is the client's for a join too (the session the sign-up makes)", async () => {
    const from = someAddress();
    const username = `joiner_${Date.now() % 1e9}`;
    const join = await postFrom(from, "/users/join", { username, password: "long-enough-password" }, {
      "x-forwarded-for": "203.0.113.66",
    });
    expect(join.status).toBe(201);
    const [row] = await db`select host(ip) as ip from auth.sessions where user_id = ${join.body.data.id}`;
    expect(row.ip).toBe(from);
  });
});

describe("Auth's sign-in limit (test stack: a burst of 30, then one a second, per address)", () => {
  it("locks out the address that fails too often, not a stranger logging in from another", async () => {
    const stranger = await createUser("stranger");
    const attacker = someAddress();
    const statuses: number[] = [];
    for (let wave = 0; wave < 8 && !statuses.includes(429); wave++) {
      const replies = await Promise.all(
        Array.from(
          { length: 10 },
          () => postFrom(attacker, "/users/login", { username: stranger.username, password: "a-wrong-password" }),
        ),
      );
      statuses.push(...replies.map((r) => r.status));
    }
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(statuses).toContain(429);
    const limited = await postFrom(attacker, "/users/login", {
      username: stranger.username,
      password: stranger.password,
    });
    if (limited.status === 429) expect(limited.body.message).toBe("Too many attempts; wait a moment and try again");
    const ok = await postFrom(someAddress(), "/users/login", {
      username: stranger.username,
      password: stranger.password,
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });
});
