// `npm run bench`: latency of the API on a stack of its own (profile `bench`) with the fake
// LLM provider answering at once. Prints p50/p99 of GET /conversations and of a non-streamed
// message create (1,000 requests each at concurrency 10), and the same list query run directly
// against Postgres under the same RLS for comparison. Then a budget race: 50 messages sent at
// once on a key with a $0.50 monthly budget (about $0.09 per answer), printing the budget, the
// spend recorded and the refusals.
import postgres from "postgres";
import { ANON_KEY, stackConfig } from "./stack/config.ts";
import { withStack } from "./stack/with-stack.ts";

const REQUESTS = Number(Deno.env.get("BENCH_REQUESTS") ?? 1000);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 10);
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

const BUDGET_USD = 0.5;
const RACERS = 50;

/**
 * 50 concurrent messages on a budgeted Anthropic key, model claude-opus-4-0 ($15 / $75 per
 * million tokens): each message is long enough that the fake provider's answer fills the
 * 1,024-token limit, about $0.09 per answer. Reservations must keep the recorded spend within
 * the budget.
 */
async function budgetRace(users: typeof import("../tests/support/users.ts"), sql: postgres.Sql) {
  const racer = await users.createUser("bench_budget");
  const auth = { authorization: `Bearer ${racer.token}`, "content-type": "application/json" };
  const keyRes = await fetch(`${API}/keys`, { method: "POST", headers: auth, body: JSON.stringify({ name: "budgeted", api_key: "sk-ant-bench-0123456789abcdefghij", provider: "anthropic" }) });
  const keyId = (await keyRes.json()).data.id;
  await expectOk(await fetch(`${API}/keys/${keyId}`, { method: "PATCH", headers: auth, body: JSON.stringify({ monthly_budget_usd: BUDGET_USD }) }), 200);
  const rooms: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${API}/conversations`, { method: "POST", headers: auth, body: JSON.stringify({ model: "claude-opus-4-0" }) });
    rooms.push((await res.json()).data.id);
  }
  const message = "budget ".repeat(600);
  const statuses = await Promise.all(Array.from({ length: RACERS }, async (_, i) => {
    const res = await fetch(`${API}/conversations/${rooms[i % rooms.length]}/messages`, { method: "POST", headers: auth, body: JSON.stringify({ message }) });
    await res.body?.cancel();
    return res.status;
  }));
  const [{ spent, answers }] = await sql`
    select coalesce(sum(cost_usd), 0)::numeric(14, 4)::text as spent, count(*)::int as answers
    from public.usage_events where api_key_id = ${keyId} and outcome = 'ok'`;
  const count = (s: number) => statuses.filter((x) => x === s).length;
  const others = statuses.filter((s) => s !== 201 && s !== 429);
  console.log(`\nbudget race: ${RACERS} messages at once on one key, claude-opus-4-0, about $0.09 per answer`);
  console.log(`  budget $${BUDGET_USD.toFixed(2)}   recorded spend $${spent} (${answers} answers)   answered ${count(201)}   refused 429: ${count(429)}` +
    (others.length ? `   other: ${others.join(",")}` : ""));
  if (Number(spent) > BUDGET_USD) console.log("  OVER BUDGET");
}

await withStack("bench", async () => {
  const sql = postgres(cfg.dbUrl, { max: CONCURRENCY, onnotice: () => {} });
  try {
    Deno.env.set("DB_URL", cfg.dbUrl);
    Deno.env.set("API_URL", cfg.apiUrl);
    Deno.env.set("ANON_KEY", ANON_KEY);
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

    await budgetRace(users, sql);
    await users.db.end();
  } finally {
    await sql.end();
  }
});
