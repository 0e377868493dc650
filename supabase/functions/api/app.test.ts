// The function's own behaviour around every route, in-process.
import assert from "node:assert/strict";
import { loadApi, quietTest as test, request } from "./test-support.ts";

const { app, sql } = await loadApi();

/** The access-log lines written while `work` runs. */
async function accessLog(work: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    await work();
  } finally {
    console.log = original;
  }
  return lines.map((l) => JSON.parse(l));
}

test("a CORS preflight is answered 204 with the CORS headers, and logged like every request", async () => {
  let res!: Awaited<ReturnType<typeof request>>;
  const lines = await accessLog(async () => {
    res = await request(app, "OPTIONS", "/keys", { headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" } });
  });
  assert.equal(res.status, 204);
  assert.ok(res.headers.get("access-control-allow-origin"));
  assert.equal(lines.length, 1);
  assert.deepEqual({ ...lines[0], ms: 0 }, { method: "OPTIONS", path: "/api/v1/keys", status: 204, ms: 0 });
});

test("pools close", async () => {
  await sql.end();
});
