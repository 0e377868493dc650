// The database going away: every route answers a 503 envelope fast, /health too, and the API
// recovers as soon as the database is back.
import { afterAll, describe, expect, it } from "vitest";
import { startPostgres, stopPostgres } from "../support/postgres.ts";
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
        expect(res.body).toEqual({ success: false, message: "The database is unavailable; retry shortly", data: null, errors: null });
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
