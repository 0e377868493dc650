// The database going away: every route answers a 503 envelope fast, /health too, and the API
// recovers as soon as the database is back; a provider call that failed meanwhile is recorded
// (its message failed with its cause, the attempt in the key's usage, once) as soon as it is back.
import { afterAll, describe, expect, it } from "vitest";
import { startPostgres, stopPostgres } from "../support/postgres.ts";
import { createConversation, registerKey } from "../support/providers.ts";
import { api, createUser, db } from "../support/users.ts";

afterAll(() => db.end());

const timed = async (call: () => ReturnType<typeof api>) => {
  const started = performance.now();
  const res = await call();
  return { ...res, ms: performance.now() - started };
};

describe("database outage", () => {
  it("answers 503 'database unavailable' within 2 s while it is down, and 200 within 2 s of its return", async () => {
    const user = await createUser("outage");
    expect((await api("GET", "/conversations", { token: user.token })).status).toBe(200);
    stopPostgres();
    try {
      for (const path of ["/conversations", "/keys", "/users/me"]) {
        const res = await timed(() => api("GET", path, { token: user.token }));
        expect(res.status, path).toBe(503);
        expect(res.body).toEqual({
          success: false,
          message: "The database is unavailable; retry shortly",
          data: null,
          errors: null,
        });
        expect(res.headers.get("retry-after")).toBe("2");
        expect(res.ms, path).toBeLessThan(2_000);
      }
      const health = await timed(() => api("GET", "/health"));
      expect(health.status).toBe(503);
      expect(health.body.data.database.ok).toBe(false);
      expect(health.ms).toBeLessThan(2_000);
    } finally {
      startPostgres();
    }
    const back = performance.now();
    let status = 0;
    while (status !== 200 && performance.now() - back < 2_000) {
      status = (await api("GET", "/conversations", { token: user.token })).status;
    }
    expect(status).toBe(200);
  });
});

describe("a provider call that fails while the database is down", () => {
  it(
    "is recorded within seconds of the database's return: each message failed with its cause, each attempt billed once",
    async () => {
      const user = await createUser("outagefail");
      // The fake provider's slow key answers after the API's time limit (2 s on the test stack).
      const key = await registerKey(user, "openai", ["chatonly", "slow"]);
      const conversations = await Promise.all([1, 2, 3].map(() => createConversation(user, { api_key_id: key.id })));
      const pending = async () =>
        (await db`select count(*)::int as n from public.messages where user_id = ${user.id} and status = 'pending'`)[0]
          .n as number;

      const replies = conversations.map((id, i) =>
        api("POST", `/conversations/${id}/messages`, {
          token: user.token,
          body: { message: `question ${i}`, stream: i === 2 },
        })
      );
      // Every message is stored pending (the provider calls are under way), then the database goes.
      const deadline = Date.now() + 5_000;
      while ((await pending()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await pending()).toBe(3);
      stopPostgres();
      let back = 0;
      try {
        const [plain1, plain2, streamed] = await Promise.all(replies);
        for (const reply of [plain1, plain2]) {
          expect(reply.status).toBe(503);
          expect(reply.body.errors).toMatchObject({ kind: "timeout", provider: "openai" });
          expect(reply.body.message).toMatch(/recorded when the database is back/);
        }
        expect(streamed.status).toBe(200);
        expect(streamed.body).toMatch(/event: error\ndata: .*"status":503/);
        expect(streamed.body).toMatch(/"kind":"timeout"/);
      } finally {
        startPostgres();
        back = Date.now();
      }
      // Within 10 s of the database's return nothing is pending any more.
      let left = 3;
      while (left > 0 && Date.now() - back < 10_000) {
        await new Promise((r) => setTimeout(r, 250));
        left = await pending().catch(() => 3);
      }
      expect(left, "messages still pending 10 s after the database came back").toBe(0);
      const questions =
        await db`select status, error_code from public.messages where user_id = ${user.id} and role = 'user'`;
      expect(questions).toHaveLength(3);
      for (const q of questions) expect(q).toEqual({ status: "failed", error_code: "timeout" });
      // Each attempt in the key's usage, once, with its cause; still once a while later (no second recording).
      const usage = async () =>
        await db`select outcome, error_code, count(*)::int as n from public.usage_events where api_key_id = ${key.id} group by 1, 2`;
      expect(await usage()).toEqual([{ outcome: "error", error_code: "timeout", n: 3 }]);
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await usage()).toEqual([{ outcome: "error", error_code: "timeout", n: 3 }]);
      expect((await db`select count(*)::int as n from private.budget_reservations where api_key_id = ${key.id}`)[0].n)
        .toBe(0);
    },
    60_000,
  );
});
