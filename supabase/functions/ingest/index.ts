// The `ingest` function: the PDF ingestion worker, called by pg_net (a pg_cron schedule every
// few seconds, and a kick right after each upload). Not for clients: it answers only requests
// carrying the shared secret (x-ingest-secret), which lives in Vault on hosted projects and in
// private.settings locally. verify_jwt is off for it (supabase/config.toml): pg_net sends no JWT.
import { env } from "../_shared/env.ts";
import { runWorker } from "./worker.ts";

function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given), b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0 && expected.length > 0;
}

const json = (status: number, message: string, data: unknown = null) =>
  Response.json({ success: status < 400, message, data, errors: null }, { status });

Deno.serve(async (req) => {
  const path = new URL(req.url).pathname.replace(/\/+$/, "");
  if (req.method === "GET" && (path === "" || path === "/ingest")) return json(200, "ingest worker");
  if (req.method !== "POST") return json(405, "POST only");
  if (!sameSecret(req.headers.get("x-ingest-secret") ?? "", env.ingest.secret)) return json(401, "Not for clients");
  await req.body?.cancel();
  const started = performance.now();
  const report = await runWorker();
  console.log(
    JSON.stringify({
      worker: "ingest",
      ...report,
      finished: report.finished.length,
      failed: report.failed.length,
      ms: Math.round(performance.now() - started),
    }),
  );
  return json(200, "ok", report);
});
