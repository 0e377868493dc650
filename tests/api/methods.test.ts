// Methods no route answers: 405 in the envelope, from the gateway as from the function.
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { API_URL } from "../support/env.ts";

/** node:http, because fetch refuses to send TRACE at all. */
function send(method: string, path: string): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${API_URL}${path}`, { method }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("unknown methods", () => {
  it("TRACE is 405 with the envelope, not 502", async () => {
    for (const path of ["/api/v1/health", "/api/v1/conversations", "/auth/v1/health"]) {
      const res = await send("TRACE", path);
      expect(res.status, path).toBe(405);
      expect(JSON.parse(res.body)).toMatchObject({ success: false, data: null });
      expect(res.allow).toBeDefined();
    }
  });

  it("a method the route does not take is 405 from the function, naming the ones it does", async () => {
    const res = await send("PUT", "/api/v1/conversations");
    expect(res.status).toBe(405);
    expect(res.allow).toBe("GET, POST");
  });
});
