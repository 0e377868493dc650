// The PDF part of `npm run bench`: ingestion pages per second against pdftotext, retrieval
// latency at BENCH_CHUNKS (100,000) chunks, and recall@5 on the handbook question set.
import postgres from "postgres";
import { makePdf } from "../../tests/support/pdfs.ts";
import { ROOT } from "../stack/config.ts";
import { DENO } from "../stack/functions.ts";
import { HANDBOOK, QUESTIONS } from "./handbook.ts";

type Sql = ReturnType<typeof postgres>;
interface BenchUser {
  id: string;
  token: string;
  sessionId: string;
}

const CHUNKS = Number(Deno.env.get("BENCH_CHUNKS") ?? 100_000);
const INGEST_FILES = 3;
const INGEST_PAGES = 200;
const DISTRACTORS = 150;

const WORDS =
  ("harbour boat berth tide pier fuel dock office permit anchor chart keel hull sail mast rope winch cabin deck engine " +
    "storm gale wind wave current channel buoy beacon light signal radio weather forecast captain crew guest owner season winter " +
    "summer spring autumn morning evening night fee price card cash paint repair lift crane yard trailer car park gate code watch " +
    "safety fire water waste oil diesel petrol battery power socket shower token laundry dog lead bin event regatta school lesson")
    .split(" ");

const SYLLABLES = "ka ri mo te lu sa ne vi do ra pe sho ma li ko nu ta ve zi bo ha ge ru fa mi".split(" ");
/** 20,000 made-up words; text draws them with a Zipf-like (log-uniform rank) distribution, as prose does. */
const VOCABULARY = Array.from({ length: 20_000 }, (_, i) => {
  let n = i + 1, w = "";
  while (n > 0) w += SYLLABLES[n % SYLLABLES.length], n = Math.floor(n / SYLLABLES.length);
  return w;
});

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A page of plain prose: 30 lines of about 80 characters. */
function prosePage(random: () => number, page: number): string[] {
  return Array.from({ length: 30 }, (_, line) => {
    const words = Array.from({ length: 13 }, () => WORDS[Math.floor(random() ** 2 * WORDS.length)]);
    return `${line === 0 ? `Page ${page}. ` : ""}${words.join(" ")}.`;
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await work();
  return [value, performance.now() - t0];
}

export async function benchIngestion(api: string, user: BenchUser, settle: (id: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "pdf-bench-" });
  try {
    const random = rng(42);
    const files: string[] = [];
    for (let f = 0; f < INGEST_FILES; f++) {
      const bytes = await makePdf(
        Array.from({ length: INGEST_PAGES }, (_, p) => ({ lines: prosePage(random, p + 1) })),
        { title: `bench ${f}` },
      );
      const path = `${dir}/bench-${f}.pdf`;
      await Deno.writeFile(path, bytes);
      files.push(path);
    }
    const pages = INGEST_FILES * INGEST_PAGES;

    const [, popplerMs] = await timed(async () => {
      for (const f of files) {
        const { code } = await new Deno.Command("pdftotext", { args: [f, "/dev/null"] }).output();
        if (code !== 0) throw new Error("pdftotext failed (is poppler-utils installed?)");
      }
    });

    const extract = await new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        "--config",
        `${ROOT}/supabase/functions/ingest/deno.json`,
        `${ROOT}/scripts/bench/extract.ts`,
        ...files,
      ],
      stderr: "inherit",
    }).output();
    const inProcess = JSON.parse(new TextDecoder().decode(extract.stdout).trim().split("\n").at(-1)!) as {
      pages: number;
      ms: number;
    };

    const [, endToEndMs] = await timed(async () => {
      const ids = await Promise.all(files.map(async (f) => {
        const res = await fetch(`${api}/documents?filename=${encodeURIComponent(f.split("/").pop()!)}`, {
          method: "POST",
          headers: { authorization: `Bearer ${user.token}`, "content-type": "application/pdf" },
          body: await Deno.readFile(f),
        });
        const body = await res.json();
        if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${body.message}`);
        return body.data.id as string;
      }));
      await Promise.all(ids.map(settle));
    });

    console.log(`\nIngestion: ${INGEST_FILES} PDFs x ${INGEST_PAGES} pages of prose (~2,400 characters a page)`);
    const line = (name: string, ms: number) =>
      console.log(
        `  ${name.padEnd(62)} ${(pages / (ms / 1000)).toFixed(0).padStart(6)} pages/s  (${(ms / 1000).toFixed(2)} s)`,
      );
    line("pdftotext (poppler-utils), text only, one process per file", popplerMs);
    line("unpdf text + chunking, in one process (the worker's code)", inProcess.ms);
    line("end to end: upload -> Storage -> pg_net -> worker -> ready", endToEndMs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const asUser = (_sql: Sql, user: BenchUser) => ({ sub: user.id, role: "authenticated", session_id: user.sessionId });

/** 100,000 chunks (BENCH_CHUNKS) of one user's 100 documents, random prose and random unit vectors; kept between runs. */
async function seedChunks(sql: Sql, user: BenchUser): Promise<string[]> {
  const perDoc = Math.ceil(CHUNKS / 100);
  console.log(`\nseeding ${CHUNKS} chunks (1,000 characters, random words; random 1536-dimension vectors) ...`);
  // The PGroonga index stays (filled row by row, as ingestion fills it): dropped and re-created,
  // connections opened before keep a stale handle to it ("pgroonga: column isn't found").
  const indexes =
    await sql`select indexdef from pg_indexes where schemaname = 'public' and tablename = 'document_chunks'
                            and indexname not like '%pkey' and indexdef not like '%pgroonga%'`;
  const [, ms] = await timed(() =>
    sql.begin(async (tx) => {
      await tx`set local maintenance_work_mem = '1GB'`;
      // Bulk load without the indexes, then build them once (what a restore does), the same definitions.
      for (const { indexdef } of indexes) await tx.unsafe(`drop index public.${indexdef.match(/INDEX (\S+)/)![1]}`);
      const docs = await tx`
      insert into public.documents (user_id, object_path, filename, status, pages_total, pages_done, chunk_count, embedding_model)
      select ${user.id}, 'bench/' || g || '.pdf', 'bench-' || g || '.pdf', 'ready', ${perDoc}, ${perDoc}, ${perDoc}, 'random'
      from generate_series(1, 100) g returning id`;
      await tx`
      insert into public.document_pages (document_id, user_id, page_number, text, has_text)
      select d.id, ${user.id}, p, '', true from public.documents d, generate_series(1, ${perDoc}) p where d.user_id = ${user.id}`;
      await tx`select setseed(0.42)`;
      await tx`
      insert into public.document_chunks (document_id, user_id, page_number, start_offset, end_offset, content, embedding, embedding_model)
      select p.document_id, p.user_id, p.page_number, 0, 1000,
             (select string_agg((${VOCABULARY}::text[])[floor(exp(random() * ln(${VOCABULARY.length})))::int], ' ')
              from generate_series(1, 160) w where w > p.page_number * 0),
             (select extensions.l2_normalize(array_agg(random() - 0.5)::extensions.vector)
              from generate_series(1, 1536) d where d > p.page_number * 0),
             'random'
      from public.document_pages p where p.user_id = ${user.id}`;
      for (const { indexdef } of indexes) await tx.unsafe(indexdef);
      return docs;
    })
  );
  console.log(`  seeded in ${(ms / 1000).toFixed(0)} s`);
  await sql`analyze public.document_chunks`;
  return (await sql`select id from public.documents where user_id = ${user.id}`).map((r) => r.id);
}

export async function benchRetrieval(sql: Sql, dbUrl: string, user: BenchUser, existing: BenchUser | null) {
  let owner = user;
  if (existing) owner = existing;
  else {
    // Bulk-loaded on a connection of its own, closed after: a search on the backend that did the
    // load failed once with "pgroonga: column isn't found" (PGroonga 3.0.9).
    const seeder = postgres(dbUrl, { max: 1, onnotice: () => {} });
    try {
      await seedChunks(seeder, user);
    } finally {
      await seeder.end();
    }
  }
  const [conv] =
    await sql`insert into public.conversations (user_id, title) values (${owner.id}, 'retrieval bench') returning id`;
  await sql`insert into public.conversation_documents (conversation_id, document_id, user_id)
            select ${conv.id}, id, user_id from public.documents where user_id = ${owner.id}`;
  const [{ n }] = await sql`select count(*)::int as n from public.document_chunks where user_id = ${owner.id}`;

  const random = rng(7);
  const query = () =>
    Array.from({ length: 4 }, () => VOCABULARY[Math.floor(Math.exp(random() * Math.log(VOCABULARY.length))) - 1]).join(
      " ",
    ) + "?";
  const vector = () => {
    const v = Array.from({ length: 1536 }, () => random() - 0.5);
    const norm = Math.hypot(...v);
    return `[${v.map((x) => x / norm).join(",")}]`;
  };
  const claims = JSON.stringify(asUser(sql, owner));
  const search = (q: string, v: string | null) =>
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      return tx`select chunk_id from private.search_conversation_chunks(${conv.id}::uuid, ${q}, ${v}::extensions.vector, 8, 'random')`;
    });
  for (let i = 0; i < 20; i++) await search(query(), vector());
  for (
    const [name, withVector] of [["BM25 over pieces + vector (hybrid)", true], [
      "BM25 over pieces (no key: lexical)",
      false,
    ]] as const
  ) {
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const q = query(), v = withVector ? vector() : null;
      const [, ms] = await timed(() => search(q, v));
      times.push(ms);
    }
    times.sort((a, b) => a - b);
    console.log(
      `  ${name.padEnd(44)} p50 ${pct(times, 50).toFixed(1).padStart(6)} ms   p95 ${
        pct(times, 95).toFixed(1).padStart(6)
      } ms   (200 questions, ${n} chunks)`,
    );
  }

  // How each part runs: auto_explain sends the plan of the function's statement as a notice.
  const notices: string[] = [];
  const explainer = postgres(dbUrl, { max: 1, onnotice: (n) => notices.push(n.message) });
  try {
    await explainer.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      await tx`select set_config('auto_explain.log_min_duration', '0', true), set_config('auto_explain.log_nested_statements', 'on', true),
                      set_config('auto_explain.log_level', 'notice', true)`;
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      await tx`select chunk_id from private.search_conversation_chunks(${conv.id}::uuid, ${query()}, ${vector()}::extensions.vector, 8, 'random')`;
    });
  } finally {
    await explainer.end();
  }
  const scans = notices.join("\n").split("\n").filter((l) => /Index Scan|Seq Scan|Index Only Scan/.test(l)).map((l) =>
    l.trim().replace(/^->\s*/, "").replace(/\s+\(cost.*$/, "")
  );
  console.log(`  scans in the plan:\n${[...new Set(scans)].map((s) => `    ${s}`).join("\n")}`);
  return conv.id;
}

export async function benchRecall(
  sql: Sql,
  api: string,
  keyed: BenchUser,
  keyless: BenchUser,
  settle: (id: string) => Promise<void>,
  fakeProviderUrl: string,
) {
  // The handbook's pages, then DISTRACTORS pages of prose made of harbour words (fuel, dock,
  // office, card, boat ...), which share many words with the questions but answer none.
  const random = rng(99);
  const bytes = await makePdf(
    [
      ...HANDBOOK.map((lines) => ({ lines })),
      ...Array.from({ length: DISTRACTORS }, (_, i) => ({ lines: prosePage(random, HANDBOOK.length + i + 1) })),
    ],
    { title: "Marlow Harbour handbook" },
  );
  const results: string[] = [];
  for (
    const [user, label] of [[keyless, "lexical (no OpenAI key)"], [
      keyed,
      "hybrid (fake provider's hashed-word embeddings)",
    ]] as const
  ) {
    const res = await fetch(`${api}/documents?filename=handbook.pdf`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/pdf" },
      body: bytes,
    });
    const doc = (await res.json()).data;
    await settle(doc.id);
    const [conv] =
      await sql`insert into public.conversations (user_id, title) values (${user.id}, 'recall') returning id`;
    await sql`insert into public.conversation_documents (conversation_id, document_id, user_id) values (${conv.id}, ${doc.id}, ${user.id})`;
    const claims = JSON.stringify(asUser(sql, user));
    let hits = 0;
    const misses: string[] = [];
    for (const { q, page } of QUESTIONS) {
      let vector: string | null = null;
      if (user === keyed) {
        const e = await fetch(`${fakeProviderUrl}/v1/embeddings`, {
          method: "POST",
          headers: { authorization: "Bearer sk-bench-0123456789abcdefghij", "content-type": "application/json" },
          body: JSON.stringify({ model: "text-embedding-3-small", input: q }),
        });
        vector = `[${(await e.json()).data[0].embedding.join(",")}]`;
      }
      const rows = await sql.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
        return tx`select page_number from private.search_conversation_chunks(${conv.id}::uuid, ${q}, ${vector}::extensions.vector, 5, 'text-embedding-3-small')`;
      });
      if (rows.some((r) => r.page_number === page)) hits++;
      else misses.push(q);
    }
    results.push(
      `  ${label.padEnd(48)} recall@5 ${(hits / QUESTIONS.length).toFixed(2)}  (${hits} of ${QUESTIONS.length})`,
    );
    if (misses.length) results.push(`    missed: ${misses.map((m) => JSON.stringify(m)).join(", ")}`);
  }
  console.log(
    `\nRecall@5 on the handbook question set (scripts/bench/handbook.ts: ${HANDBOOK.length} pages and ${QUESTIONS.length} questions, in a PDF with ${DISTRACTORS} more pages of prose in harbour words)`,
  );
  for (const r of results) console.log(r);
}
