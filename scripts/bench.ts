// `npm run bench`: latency of the API on a stack of its own (profile `bench`) with the fake
// LLM provider answering at once. Prints p50/p99 of GET /conversations and of a non-streamed
// message create (1,000 requests each at concurrency 10), and the same list query run directly
// against Postgres under the same RLS for comparison. Then the PDF figures (scripts/bench/pdfs.ts):
// ingestion pages/s against pdftotext, retrieval p50/p95 at BENCH_CHUNKS (100,000) chunks, and
// recall@5 on the shipped question set. BENCH_ONLY=api or BENCH_ONLY=pdf runs one part.
import postgres from "postgres";
import { benchIngestion, benchRecall, benchRetrieval } from "./bench/pdfs.ts";
import { ANON_KEY, stackConfig } from "./stack/config.ts";
import { withStack } from "./stack/with-stack.ts";

const REQUESTS = Number(Deno.env.get("BENCH_REQUESTS") ?? 1000);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 10);
const ONLY = Deno.env.get("BENCH_ONLY") ?? "";
const cfg = stackConfig("bench");
const API = `${cfg.apiUrl}/api/v1`;

/** Runs `total` calls of `one(i)` with `concurrency` in flight; returns each call's milliseconds. */
async function load(total: number, concurrency: number, one: (i: number, worker: number) => Promise<void>) {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await one(i, worker);
      times.push(performance.now() - t0);
    }
  }));
  const wall = performance.now() - started;
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
  return { p50: pct(50), p99: pct(99), max: times.at(-1)!, rps: (total / wall) * 1000 };
}

function report(name: string, r: Awaited<ReturnType<typeof load>>) {
  console.log(`${name.padEnd(44)} p50 ${r.p50.toFixed(2).padStart(7)} ms   p99 ${r.p99.toFixed(2).padStart(7)} ms   max ${r.max.toFixed(1).padStart(7)} ms   ${r.rps.toFixed(0).padStart(5)} req/s`);
}

async function expectOk(res: Response, status: number) {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text.slice(0, 200)}`);
}

await withStack("bench", async () => {
  const sql = postgres(cfg.dbUrl, { max: CONCURRENCY, onnotice: () => {} });
  try {
    Deno.env.set("DB_URL", cfg.dbUrl);
    Deno.env.set("API_URL", cfg.apiUrl);
    Deno.env.set("ANON_KEY", ANON_KEY); // tests/support signs users up through the gateway, which wants it
    const users = await import("../tests/support/users.ts");
    const user = await users.createUser("bench");
    const auth = { authorization: `Bearer ${user.token}`, "content-type": "application/json" };

    // A realistic account: a key, 50 conversations with 20 messages each.
    await expectOk(await fetch(`${API}/keys`, { method: "POST", headers: auth, body: JSON.stringify({ name: "bench", api_key: "sk-bench-0123456789abcdefghij", kind: "open_ai" }) }), 201);
    await sql`
      with c as (
        insert into public.conversations (user_id, title) select ${user.id}, 'bench ' || g from generate_series(1, 50) g returning id
      )
      insert into public.messages (conversation_id, user_id, role, content, created_at)
      select c.id, ${user.id}, case when g % 2 = 0 then 'assistant' else 'user' end, repeat('lorem ipsum ', 20), now() - (g || ' seconds')::interval
      from c, generate_series(1, 20) g`;
    await sql`analyze`;
    const conversations = (await sql`select id from public.conversations where user_id = ${user.id} order by id limit ${CONCURRENCY}`).map((r) => r.id);

    if (ONLY !== "pdf") await benchApi(sql, user, auth, conversations);
    if (ONLY !== "api") {
      const keyless = await users.createUser("bench_nokey");
      const settle = async (id: string) => {
        for (;;) {
          const [row] = await sql`select status, failure_reason from public.documents where id = ${id}`;
          if (row.status === "ready") return;
          if (row.status === "failed") throw new Error(`document failed: ${row.failure_reason}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await benchIngestion(API, keyless, settle);
      console.log(`\nRetrieval: one SQL call of private.search_conversation_chunks as the user (security definer, ownership checked)`);
      const [seeded] = await sql`select user_id as id from public.documents where object_path = 'bench/1.pdf'`;
      await benchRetrieval(sql, cfg.dbUrl, user, seeded ? { id: seeded.id, token: "", sessionId: "" } : null);
      await benchRecall(sql, API, user, keyless, settle, cfg.fakeProviderUrl);
    }
    await users.db.end();
  } finally {
    await sql.end();
  }
});

// deno-lint-ignore no-explicit-any
async function benchApi(sql: postgres.Sql, user: any, auth: Record<string, string>, conversations: string[]) {
  {
    console.log(`\n${REQUESTS} requests each, concurrency ${CONCURRENCY}, fake provider answering at once\n`);
    // Warm up connections and JIT.
    await load(50, CONCURRENCY, async () => expectOk(await fetch(`${API}/conversations`, { headers: auth }), 200));

    report("GET /api/v1/conversations (through gateway)", await load(REQUESTS, CONCURRENCY, async () => {
      await expectOk(await fetch(`${API}/conversations`, { headers: auth }), 200);
    }));

    report("POST /conversations/{id}/messages", await load(REQUESTS, CONCURRENCY, async (i, worker) => {
      await expectOk(await fetch(`${API}/conversations/${conversations[worker]}/messages`, {
        method: "POST", headers: auth, body: JSON.stringify({ message: `question ${i}` }),
      }), 201);
    }));

    const claims = JSON.stringify({ sub: user.id, role: "authenticated", session_id: user.sessionId });
    report("same list query, directly in Postgres", await load(REQUESTS, CONCURRENCY, async () => {
      await sql.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
        await tx`select * from public.conversation_list order by last_activity_at desc, id desc limit 20`;
        await tx`select count(*) from public.conversations`;
      });
    }));

    const plan = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      return tx`explain (analyze, buffers) select * from public.conversation_list order by last_activity_at desc, id desc limit 20`;
    });
    console.log(`\nlist query plan (as the user, under RLS):\n${plan.map((r) => "  " + r["QUERY PLAN"]).join("\n")}`);
  }
}
