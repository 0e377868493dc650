// `npm run bench`: how the API performs on a stack of its own (profile `bench`, fake LLM provider
// answering at once), in two tables:
//   throughput  every hot route at BENCH_CONCURRENCY (10) for a user with 50 conversations of 20
//               messages: req/s, p50, p99, and where the time goes per request (Postgres statement
//               time from pg_stat_statements when the server preloads it, else n/a; CPU of Postgres,
//               of the api function and of the gateway, read from /proc);
//   scale       one request at a time: a small user's list before and after big users' rows exist
//               (each beside a control the big users cannot slow, to take out the machine's drift),
//               the list for users with 50, 5,000 and 50,000 conversations, and a conversation's
//               messages at 20, 2,000 and 20,000, and a message on a budgeted key and that key's
//               statistics with 1,000 and 100,000 calls recorded this month (the sizes take turns
//               in short rounds).
// Large data is seeded set-based (generate_series) as postgres. Each row stops after
// BENCH_REQUESTS requests or BENCH_SECONDS seconds, whichever comes first.
// Then a budget race: 50 messages sent at once on a key with a $0.50 monthly budget (about
// $0.09 per answer), printing the budget, the spend recorded and the refusals. Then the PDF
// figures (scripts/bench/pdfs.ts): ingestion pages/s against pdftotext, retrieval p50/p95 at
// BENCH_CHUNKS (100,000) chunks, and recall@5 on the shipped question set.
// BENCH_ONLY=api or BENCH_ONLY=pdf runs one part; BENCH_ONLY=throughput only the throughput table.
import postgres from "postgres";
import { benchIngestion, benchRecall, benchRetrieval } from "./bench/pdfs.ts";
import { ANON_KEY, stackConfig } from "./stack/config.ts";
import { withStack } from "./stack/with-stack.ts";

// /proc counts CPU in 10 ms ticks: over 1,000 requests that alone is 0.01 ms per request, the size
// of the difference the function-versus-Postgres lines judge; 10,000 make it 0.001 ms.
const REQUESTS = Number(Deno.env.get("BENCH_REQUESTS") ?? 10_000);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 10);
const ONLY = Deno.env.get("BENCH_ONLY") ?? ""; // "api" or "pdf": one part only; "throughput": its table only
const LIST_PAGE = "/conversations?limit=20"; // the list rows measure one page
const SCALE_REQUESTS = Number(Deno.env.get("BENCH_SCALE_REQUESTS") ?? 1000);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const ROUNDS = 5;
const WARM_UP_WINDOW = 3000;
const WARM_UP_MIN_WINDOWS = 6;
const WARM_UP_SECONDS = 60;
const CONTROL_ROUNDS = 25; // a route and its control alternate every 40 requests
const cfg = stackConfig("bench");
const API = `${cfg.apiUrl}/api/v1`;
const PREFIX = "bench";

// ---- where the CPU goes: /proc of the stack's processes ----------------------------------------

const TICK_MS = 10; // Linux reports utime/stime in clock ticks of 1/100 s (getconf CLK_TCK)

async function procStat(pid: number): Promise<{ ppid: number; ms: number } | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    const f = text.slice(text.lastIndexOf(")") + 2).split(" "); // fields after "pid (comm) "
    return { ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * TICK_MS };
  } catch {
    return null; // the process has gone
  }
}

async function cmdline(pid: number) {
  return (await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "")).replaceAll("\0", " ");
}

type Component = "postgres" | "fn" | "gateway";
type CpuSnapshot = Map<number, { component: Component; ms: number }>;

// A client connection's backend: "postgres: <user> <database> <address>(<port>) <state>".
const CLIENT_BACKEND = /^postgres: \S+ \S+ [\d.:a-f]+\(\d+\)/;

/**
 * CPU milliseconds used so far, per process, by the Postgres backends serving connections
 * (autovacuum and background writers are left out: they work on their own schedule), the api
 * function and the gateway.
 */
async function cpuNow(): Promise<CpuSnapshot> {
  const postmaster = Number((await Deno.readTextFile(`${cfg.pgData}/postmaster.pid`)).split("\n")[0]);
  // The stack starts one limits host per function (scripts/stack/limits/host.ts), which runs the
  // function as its child: the function is the stack's grandchild. The host only waits on it.
  const stack = Number(await Deno.readTextFile(cfg.pidFile));
  const gateway = Number(await Deno.readTextFile(`${cfg.gatewayDir}/nginx.pid`)); // nginx's master; its worker is its child
  const stats = new Map<number, { ppid: number; ms: number }>();
  for await (const e of Deno.readDir("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid)) continue;
    const st = await procStat(pid);
    if (st) stats.set(pid, st);
  }
  const snapshot: CpuSnapshot = new Map();
  for (const [pid, st] of stats) {
    let component: Component | null = null;
    if (st.ppid === postmaster && CLIENT_BACKEND.test(await cmdline(pid))) component = "postgres";
    else if (pid === gateway || st.ppid === gateway) component = "gateway";
    else if (
      stats.get(st.ppid)?.ppid === stack && (await cmdline(pid)).includes("/functions/api/index.ts")
    ) component = "fn";
    if (component) snapshot.set(pid, { component, ms: st.ms });
  }
  if (![...snapshot.values()].some((p) => p.component === "fn")) {
    throw new Error("bench: the api function's process was not found under the stack's process");
  }
  return snapshot;
}

/** CPU used between two snapshots per component. A backend that closed in between is not counted (its figures are gone). */
function cpuUsed(before: CpuSnapshot, after: CpuSnapshot) {
  const used = { postgres: 0, fn: 0, gateway: 0 };
  for (const [pid, p] of after) used[p.component] += p.ms - (before.get(pid)?.ms ?? 0);
  return used;
}

// ---- Postgres statement time: pg_stat_statements when the server preloads it --------------------

let statements = false;

async function setUpStatements(sql: postgres.Sql) {
  try {
    await sql`create extension if not exists pg_stat_statements with schema extensions`;
    await sql`select extensions.pg_stat_statements_reset()`;
    statements = true;
  } catch {
    // "pg_stat_statements must be loaded via shared_preload_libraries": report n/a
    await sql`drop extension if exists pg_stat_statements`.catch(() => {});
  }
}

async function resetStatements(sql: postgres.Sql) {
  if (statements) await sql`select extensions.pg_stat_statements_reset()`;
}

/** Milliseconds of planning and execution of every statement since the reset, except this bench's own. */
async function statementMs(sql: postgres.Sql): Promise<number | null> {
  if (!statements) return null;
  const [{ ms }] = await sql`
    select coalesce(sum(total_exec_time + total_plan_time), 0)::float8 as ms
    from extensions.pg_stat_statements where query !~* 'pg_stat_statements'`;
  return ms;
}

// ---- load ---------------------------------------------------------------------------------------

interface Row {
  name: string;
  n: number;
  rps: number;
  p50: number;
  p99: number;
  pgStatementMs: number | null;
  cpu: { postgres: number; fn: number; gateway: number };
}

interface Sample {
  times: number[];
  wallMs: number;
  pgMs: number | null;
  cpu: { postgres: number; fn: number; gateway: number };
}

type Call = (i: number, worker: number) => Promise<void>;

/** Runs `one()` with `concurrency` in flight until `total` calls are done or `seconds` have passed. */
async function sample(
  sql: postgres.Sql,
  total: number,
  concurrency: number,
  one: Call,
  seconds = SECONDS,
): Promise<Sample> {
  await resetStatements(sql);
  const cpu0 = await cpuNow();
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await one(i, worker);
      times.push(performance.now() - t0);
    }
  }));
  const wallMs = performance.now() - started;
  const cpu1 = await cpuNow();
  return { times, wallMs, pgMs: await statementMs(sql), cpu: cpuUsed(cpu0, cpu1) };
}

function row(name: string, samples: Sample[]): Row {
  const times = samples.flatMap((s) => s.times).sort((a, b) => a - b);
  const n = times.length;
  const sum = (f: (s: Sample) => number) => samples.reduce((acc, s) => acc + f(s), 0);
  const pct = (p: number) => times[Math.min(n - 1, Math.floor((p / 100) * n))];
  return {
    name,
    n,
    rps: (n / sum((s) => s.wallMs)) * 1000,
    p50: pct(50),
    p99: pct(99),
    pgStatementMs: samples.some((s) => s.pgMs === null) ? null : sum((s) => s.pgMs!) / n,
    cpu: {
      postgres: sum((s) => s.cpu.postgres) / n,
      fn: sum((s) => s.cpu.fn) / n,
      gateway: sum((s) => s.cpu.gateway) / n,
    },
  };
}

/**
 * The servers were just started: V8 is still compiling and optimising the function's hot code (on
 * background threads, counted in its CPU) and its heap has not reached its working size. The
 * function's CPU per list request kept falling for some 20,000 requests (0.26 ms in the first
 * 3,000, 0.18 after 25,000), so a fixed warm-up of a few thousand requests left the first row
 * measuring the start. The list is loaded in windows of WARM_UP_WINDOW requests, at least
 * WARM_UP_MIN_WINDOWS of them (in one of three runs a window that happened not to improve
 * stopped it at 9,000 requests, and that run's list read 0.235 ms against 0.202 in the other two),
 * then until a window no longer beats the best before it by more than 3% (or WARM_UP_SECONDS have
 * passed); what the windows read is printed.
 */
async function warmUp(sql: postgres.Sql, one: Call) {
  const perRequest: number[] = [];
  const started = performance.now();
  let requests = 0;
  while (performance.now() - started < WARM_UP_SECONDS * 1000) {
    const s = await sample(sql, WARM_UP_WINDOW, CONCURRENCY, one);
    requests += s.times.length;
    const fnMs = s.cpu.fn / s.times.length;
    const steady = perRequest.length >= WARM_UP_MIN_WINDOWS - 1 && fnMs >= 0.97 * Math.min(...perRequest);
    perRequest.push(fnMs);
    if (steady) break;
  }
  console.log(
    `warm-up: ${requests} list requests, the function's CPU per request in windows of ${WARM_UP_WINDOW}: ${
      perRequest.map((ms) => ms.toFixed(3)).join(" ")
    } ms`,
  );
}

/**
 * One request at a time, the routes taking turns in `rounds` short rounds, so that the machine's
 * other work (it is shared) weighs on each of them alike and the ratios between them hold.
 */
async function interleaved(sql: postgres.Sql, calls: [string, Call][], rounds = ROUNDS): Promise<Row[]> {
  const samples = calls.map(() => [] as Sample[]);
  // Warm-up: the first row runs right after the stack starts, when the function's code is not yet
  // optimised; 20 requests left it measurably slower than the same list later (0.79x).
  for (const [, one] of calls) await sample(sql, 200, 1, one, 2);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < calls.length; k++) {
      const i = (k + round) % calls.length; // each route takes each place in the order in turn
      samples[i].push(await sample(sql, Math.ceil(SCALE_REQUESTS / rounds), 1, calls[i][1], SECONDS / rounds));
    }
  }
  return calls.map(([name], i) => row(name, samples[i]));
}

function printTable(title: string, rows: Row[]) {
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`\n${title}\n`);
  console.log(
    `${
      "".padEnd(w)
    }      n   req/s   p50 ms   p99 ms  p99/p50 | pg stmt ms  pg CPU ms  fn CPU ms  gw CPU ms  (per request)`,
  );
  for (const r of rows) {
    const f = (v: number, d = 2, p = 8) => v.toFixed(d).padStart(p);
    console.log(
      `${r.name.padEnd(w)} ${String(r.n).padStart(6)} ${f(r.rps, 0, 7)} ${f(r.p50)} ${f(r.p99)} ${
        f(r.p99 / r.p50, 1)
      } |` +
        ` ${(r.pgStatementMs === null ? "n/a" : r.pgStatementMs.toFixed(3)).padStart(10)} ${f(r.cpu.postgres, 2, 10)} ${
          f(r.cpu.fn, 2, 10)
        } ${f(r.cpu.gateway, 2, 10)}`,
    );
  }
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
  const keyRes = await fetch(`${API}/keys`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ name: "budgeted", api_key: "sk-ant-bench-0123456789abcdefghij", provider: "anthropic" }),
  });
  const keyId = (await keyRes.json()).data.id;
  await expectOk(
    await fetch(`${API}/keys/${keyId}`, {
      method: "PATCH",
      headers: auth,
      body: JSON.stringify({ monthly_budget_usd: BUDGET_USD }),
    }),
    200,
  );
  const rooms: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${API}/conversations`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: "claude-opus-4-0" }),
    });
    rooms.push((await res.json()).data.id);
  }
  const message = "budget ".repeat(600);
  const statuses = await Promise.all(Array.from({ length: RACERS }, async (_, i) => {
    const res = await fetch(`${API}/conversations/${rooms[i % rooms.length]}/messages`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ message }),
    });
    await res.body?.cancel();
    return res.status;
  }));
  const [{ spent, answers }] = await sql`
    select coalesce(sum(cost_usd), 0)::numeric(14, 4)::text as spent, count(*)::int as answers
    from public.usage_events where api_key_id = ${keyId} and outcome = 'ok'`;
  const count = (s: number) => statuses.filter((x) => x === s).length;
  const others = statuses.filter((s) => s !== 201 && s !== 429);
  console.log(`\nbudget race: ${RACERS} messages at once on one key, claude-opus-4-0, about $0.09 per answer`);
  console.log(
    `  budget $${BUDGET_USD.toFixed(2)}   recorded spend $${spent} (${answers} answers)   answered ${
      count(201)
    }   refused 429: ${count(429)}` +
      (others.length ? `   other: ${others.join(",")}` : ""),
  );
  if (Number(spent) > BUDGET_USD) console.log("  OVER BUDGET");
}

// ---- data ---------------------------------------------------------------------------------------

/** `count` more conversations for the user, each with `perConversation` messages, set-based and in chunks. */
async function seedConversations(sql: postgres.Sql, userId: string, count: number, perConversation: number) {
  for (let done = 0; done < count; done += 5000) {
    const n = Math.min(5000, count - done);
    await sql`
      with c as (
        insert into public.conversations (user_id, title, created_at, updated_at)
        select ${userId}, 'bench ' || g, now() - make_interval(mins => g), now() - make_interval(mins => g)
        from generate_series(1, ${n}::int) g
        returning id, created_at
      )
      insert into public.messages (conversation_id, user_id, role, content, created_at)
      select c.id, ${userId}, case when m % 2 = 0 then 'assistant' else 'user' end, repeat('lorem ipsum ', 20),
             c.created_at + make_interval(secs => m)
      from c, generate_series(1, ${perConversation}::int) m`;
  }
}

/** Grows one conversation to `target` messages, 1,000 per statement. */
async function seedMessages(sql: postgres.Sql, userId: string, conversationId: string, target: number) {
  const [{ have }] =
    await sql`select count(*)::int as have from public.messages where conversation_id = ${conversationId}`;
  for (let from = have; from < target; from += 1000) {
    const to = Math.min(target, from + 1000);
    await sql`
      insert into public.messages (conversation_id, user_id, role, content, created_at)
      select ${conversationId}, ${userId}, case when m % 2 = 0 then 'assistant' else 'user' end, repeat('lorem ipsum ', 20),
             timestamptz '2026-01-01' + make_interval(secs => m)
      from generate_series(${from + 1}::int, ${to}::int) m`;
  }
}

/** After seeding: fresh statistics, nothing left for autovacuum or the checkpointer to do while we measure. */
async function settle(sql: postgres.Sql) {
  // The whole database: seeding also writes counters, rollups and Auth's tables, and autovacuum
  // working on any of them during a row weighs on its figures.
  await sql`vacuum analyze`;
  await sql`checkpoint`;
}

// ---- the bench ----------------------------------------------------------------------------------

await withStack("bench", async () => {
  const sql = postgres(cfg.dbUrl, { max: CONCURRENCY, onnotice: () => {} });
  try {
    Deno.env.set("DB_URL", cfg.dbUrl);
    Deno.env.set("API_URL", cfg.apiUrl);
    Deno.env.set("ANON_KEY", ANON_KEY);
    const users = await import("../tests/support/users.ts");
    const fnUrl = `http://127.0.0.1:${cfg.ports.functions}/api/v1`; // the api function without the gateway

    // A previous run's users would skew the scale figures; start from an empty history.
    await sql`delete from auth.users where email like ${PREFIX + "\\_%"}`;
    await sql`vacuum analyze public.conversations, public.messages`;
    await setUpStatements(sql);

    api: if (ONLY !== "pdf") {
      // A realistic account: a key, 50 conversations with 20 messages each.
      const user = await users.createUser(PREFIX);
      const auth = { authorization: `Bearer ${user.token}`, "content-type": "application/json" };
      await expectOk(
        await fetch(`${API}/keys`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ name: "bench", api_key: "sk-bench-0123456789abcdefghij", kind: "open_ai" }),
        }),
        201,
      );
      await seedConversations(sql, user.id, 50, 20);
      await settle(sql);
      const conversations =
        (await sql`select id from public.conversations where user_id = ${user.id} order by id limit ${CONCURRENCY}`)
          .map((r) => r.id);

      const get = (base: string, path: string, headers: Record<string, string> = auth) => async () =>
        expectOk(await fetch(`${base}${path}`, { headers }), 200);
      // Each route first warms up (connections, plpgsql's plans in each backend), then is measured.
      const timed = async (name: string, one: Call) => {
        await sample(sql, 300, CONCURRENCY, one);
        return row(name, [await sample(sql, REQUESTS, CONCURRENCY, one)]);
      };

      console.log(`\nup to ${REQUESTS} requests per row (at most ${SECONDS} s), fake provider answering at once.`);
      console.log(
        `pg stmt: pg_stat_statements planning + execution time (n/a: not in shared_preload_libraries). CPU: /proc (Postgres: the backends serving connections).`,
      );

      await warmUp(sql, get(API, LIST_PAGE));
      const throughput: Row[] = [];
      // A page of 20, as a paging client asks; the existing client's unpaged list (all, up to 1,000)
      // costs in proportion to what it returns.
      throughput.push(await timed("GET /conversations?limit=20", get(API, LIST_PAGE)));
      throughput.push(await timed("GET /conversations?limit=20, no gateway", get(fnUrl, LIST_PAGE)));
      // The existing client's request, unpaged (all 50 here), as the figures before this work were taken.
      throughput.push(await timed("GET /conversations (unpaged: 50)", get(API, "/conversations")));
      // The floor: the list route's one statement, sent straight to Postgres (no gateway, no function).
      const claims = JSON.stringify({ sub: user.id, role: "authenticated", session_id: user.sessionId });
      throughput.push(
        await timed("  its one statement, straight to Postgres", async () => {
          await sql`select * from private.list_conversations(${claims}, 20, 0)`;
        }),
      );
      throughput.push(
        await timed("GET /conversations/{id}/messages", async (_, worker) => {
          await get(API, `/conversations/${conversations[worker % conversations.length]}/messages`)();
        }),
      );
      throughput.push(
        await timed("POST /conversations", async (i) => {
          await expectOk(
            await fetch(`${API}/conversations`, {
              method: "POST",
              headers: auth,
              body: JSON.stringify({ title: `new ${i}` }),
            }),
            201,
          );
        }),
      );
      throughput.push(
        await timed("POST /conversations/{id}/messages", async (i, worker) => {
          await expectOk(
            await fetch(`${API}/conversations/${conversations[worker % conversations.length]}/messages`, {
              method: "POST",
              headers: auth,
              body: JSON.stringify({ message: `question ${i}` }),
            }),
            201,
          );
        }),
      );
      printTable(`throughput at concurrency ${CONCURRENCY} (user with 50 conversations x 20 messages)`, throughput);
      // The api function should cost no more CPU per request than the database behind it.
      console.log("");
      for (const r of throughput.filter((r) => /^(GET|POST) \S+$/.test(r.name))) {
        const within = r.cpu.fn <= r.cpu.postgres;
        console.log(
          `${r.name.padEnd(36)} function CPU ${r.cpu.fn.toFixed(3)} ms ${within ? "<=" : "> "} Postgres ${
            r.cpu.postgres.toFixed(3)
          } ms per request: ${within ? "yes" : "NO"}`,
        );
      }
      if (ONLY === "throughput") break api;

      // Scale. The small user's list is measured before and after the big users' rows exist; the
      // sizes of the list, and of a conversation, take turns (see interleaved).
      // The two are minutes apart, and this machine's speed drifts by more than the 10% asked for
      // (seen: the gateway's CPU per request, which no data touches, 1.4x from one to the other).
      // So each takes turns with a control that the big users' rows cannot slow: the same user's
      // GET /keys (the same gateway, function, token and session check; a table they add nothing to),
      // in rounds of 40 requests.
      const small = await users.createUser(PREFIX);
      const smallAuth = { authorization: `Bearer ${small.token}` };
      await expectOk(
        await fetch(`${API}/keys`, {
          method: "POST",
          headers: { ...smallAuth, "content-type": "application/json" },
          body: JSON.stringify({ name: "bench", api_key: "sk-bench-0123456789abcdefghij", kind: "open_ai" }),
        }),
        201,
      );
      await seedConversations(sql, small.id, 50, 20);
      await settle(sql);
      const smallList = get(API, LIST_PAGE, smallAuth);
      const smallKeys = get(API, "/keys", smallAuth);
      const [smallBefore, controlBefore] = await interleaved(sql, [
        ["list, small user (50), table without the big users", smallList],
        ["  control: GET /keys, same user, same time", smallKeys],
      ], CONTROL_ROUNDS);

      const sizes: [string, Call][] = [];
      for (const size of [50, 5_000, 50_000]) {
        const big = await users.createUser(PREFIX);
        await seedConversations(sql, big.id, size, 2);
        sizes.push([
          `list, user with ${size.toLocaleString("en")} conversations`,
          get(API, LIST_PAGE, { authorization: `Bearer ${big.token}` }),
        ]);
      }
      await settle(sql);
      const [smallAfter, controlAfter] = await interleaved(sql, [
        ["list, small user (50), table with the big users", smallList],
        ["  control: GET /keys, same user, same time", smallKeys],
      ], CONTROL_ROUNDS);
      const lists = await interleaved(sql, sizes);

      const reader = await users.createUser(PREFIX);
      const readerAuth = { authorization: `Bearer ${reader.token}` };
      const lengths: [string, Call][] = [];
      for (const size of [20, 2_000, 20_000]) {
        const [{ id }] = await sql`insert into public.conversations (user_id, title) values (${reader.id}, ${
          "long " + size
        }) returning id`;
        await seedMessages(sql, reader.id, id, size);
        lengths.push([
          `messages page, ${size.toLocaleString("en")} in the conversation`,
          get(API, `/conversations/${id}/messages`, readerAuth),
        ]);
        lengths.push([
          `conversation + latest 100, ${size.toLocaleString("en")} messages`,
          get(API, `/conversations/${id}`, readerAuth),
        ]);
      }
      await settle(sql);
      const conversationRows = await interleaved(sql, lengths);
      // A message on a budgeted key whose month already holds 1,000 or 100,000 recorded calls: the
      // budget check reads the key's month spend, whatever the number of calls behind it.
      const budgeted: [string, Call][] = [];
      for (const calls of [1_000, 100_000]) {
        const owner = await users.createUser(PREFIX);
        const ownerAuth = { authorization: `Bearer ${owner.token}`, "content-type": "application/json" };
        const keyRes = await fetch(`${API}/keys`, {
          method: "POST",
          headers: ownerAuth,
          body: JSON.stringify({ name: "budgeted", api_key: "sk-bench-0123456789abcdefghij", kind: "open_ai" }),
        });
        const keyId = (await keyRes.json()).data.id;
        await expectOk(
          await fetch(`${API}/keys/${keyId}`, {
            method: "PATCH",
            headers: ownerAuth,
            body: JSON.stringify({ monthly_budget_usd: 1_000_000 }),
          }),
          200,
        );
        const room = (await (await fetch(`${API}/conversations`, {
          method: "POST",
          headers: ownerAuth,
          body: JSON.stringify({ model: "gpt-4o" }),
        })).json()).data.id;
        await sql`
          insert into public.usage_events (user_id, api_key_id, provider, model, prompt_tokens, usage_source, outcome)
          select ${owner.id}, ${keyId}, 'openai', 'gpt-4o', 1, 'provider', 'ok' from generate_series(1, ${calls})`;
        budgeted.push([`message, budgeted key, ${calls.toLocaleString("en")} calls this month`, async (i) => {
          await expectOk(
            await fetch(`${API}/conversations/${room}/messages`, {
              method: "POST",
              headers: ownerAuth,
              body: JSON.stringify({ message: `question ${i}` }),
            }),
            201,
          );
        }]);
        budgeted.push([
          `key statistics, ${calls.toLocaleString("en")} calls this month`,
          get(API, `/keys/${keyId}/statistics`, { authorization: `Bearer ${owner.token}` }),
        ]);
      }
      await settle(sql);
      const budgetRows = await interleaved(sql, budgeted);
      const scale = [
        smallBefore,
        controlBefore,
        smallAfter,
        controlAfter,
        ...lists,
        ...conversationRows,
        ...budgetRows,
      ];
      printTable(`scale, one request at a time (${ROUNDS} interleaved rounds)`, scale);

      const ratio = (
        a: number | null,
        b: number | null,
      ) => (a === null || b === null ? "n/a" : `${(a / b).toFixed(2)}x`);
      console.log(
        `\nlist at 50,000 / at 50 conversations: p50 ${ratio(lists[2].p50, lists[0].p50)} (goal <= 1.5x), ` +
          `pg stmt ${ratio(lists[2].pgStatementMs, lists[0].pgStatementMs)}, pg CPU ${
            ratio(lists[2].cpu.postgres, lists[0].cpu.postgres)
          }`,
      );
      // Drift removed: how much more the list moved than its control did over the same minutes.
      const drift = (after: number | null, before: number | null, cAfter: number | null, cBefore: number | null) =>
        after === null || before === null || cAfter === null || cBefore === null
          ? null
          : (after / before) / (cAfter / cBefore);
      console.log(
        `small user's list with / without the big users' rows: p50 ${ratio(smallAfter.p50, smallBefore.p50)}, ` +
          `pg stmt ${ratio(smallAfter.pgStatementMs, smallBefore.pgStatementMs)}, pg CPU ${
            ratio(smallAfter.cpu.postgres, smallBefore.cpu.postgres)
          }; ` +
          `its control ${ratio(controlAfter.p50, controlBefore.p50)}`,
      );
      console.log(
        `  against the control (the machine's drift removed): p50 ${
          ratio(drift(smallAfter.p50, smallBefore.p50, controlAfter.p50, controlBefore.p50), 1)
        } ` +
          `(goal 0.9x-1.1x), pg stmt ${
            ratio(
              drift(
                smallAfter.pgStatementMs,
                smallBefore.pgStatementMs,
                controlAfter.pgStatementMs,
                controlBefore.pgStatementMs,
              ),
              1,
            )
          }`,
      );
      for (const [what, small, big] of [["message on a budgeted key", 0, 2], ["key statistics", 1, 3]] as const) {
        console.log(
          `${what}, 100,000 / 1,000 calls this month: p50 ${ratio(budgetRows[big].p50, budgetRows[small].p50)}, ` +
            `pg stmt ${ratio(budgetRows[big].pgStatementMs, budgetRows[small].pgStatementMs)}, pg CPU ${
              ratio(budgetRows[big].cpu.postgres, budgetRows[small].cpu.postgres)
            }`,
        );
      }

      await budgetRace(users, sql);
    }
    if (ONLY === "" || ONLY === "pdf") {
      // PDFs: a user with an OpenAI key (embeddings through the fake provider) and one without.
      const keyed = await users.createUser(`${PREFIX}_pdf`);
      await expectOk(
        await fetch(`${API}/keys`, {
          method: "POST",
          headers: { authorization: `Bearer ${keyed.token}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "bench", api_key: "sk-bench-0123456789abcdefghij", kind: "open_ai" }),
        }),
        201,
      );
      const keyless = await users.createUser(`${PREFIX}_nokey`);
      const documentReady = async (id: string) => {
        for (;;) {
          const [row] = await sql`select status, failure_reason from public.documents where id = ${id}`;
          if (row.status === "ready") return;
          if (row.status === "failed") throw new Error(`document failed: ${row.failure_reason}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await benchIngestion(API, keyless, documentReady);
      console.log(
        `\nRetrieval: one SQL call of private.search_conversation_chunks as the user (security definer, ownership checked)`,
      );
      await benchRetrieval(sql, cfg.dbUrl, keyed, null);
      await benchRecall(sql, API, keyed, keyless, documentReady, cfg.fakeProviderUrl);
    }
    await users.db.end();
  } finally {
    await sql.end();
  }
});
