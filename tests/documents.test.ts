// PDFs end to end on the real parts: uploads through POST /api/v1/documents and through
// supabase-js Storage meet in the trigger on storage.objects; pg_cron and pg_net call the ingest
// function; pages, chunks and progress land in Postgres. The PDFs are made here with known text.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_URL, DB_URL } from "./support/env.ts";
import { readSse, settled, storageOf, uploadPdf } from "./support/documents.ts";
import { factPage, makePdf } from "./support/pdfs.ts";
import { callApi as api, createConversation, eventually } from "./support/providers.ts";
import { createUser, db, type TestUser } from "./support/users.ts";
import { ANON_KEY, SERVICE_ROLE_KEY, STACK_SERVICES } from "./support/env.ts";

let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  [alice, bob] = await Promise.all([createUser("doc_alice"), createUser("doc_bob")]);
});
afterAll(() => db.end());

const pages = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ({ lines: factPage(from + i) }));

/**
 * Runs `work` with pg_net's calls going nowhere, so that only a worker the test starts itself
 * (startWorker) processes what is uploaded meanwhile; the stack's worker takes over afterwards.
 */
async function withStackWorkerAway<T>(work: () => Promise<T>): Promise<T> {
  const [{ value: url }] = await db`select value from private.settings where name = 'ingest_url'`;
  await db`update private.settings set value = 'http://127.0.0.1:9/ingest' where name = 'ingest_url'`;
  try {
    return await work();
  } finally {
    await db`update private.settings set value = ${url} where name = 'ingest_url'`;
  }
}

/** The ingest function in a process of the test's own, with extra settings; returns it and a way to call it. */
async function startWorker(extraEnv: Record<string, string>) {
  const [{ value: secret }] = await db`select value from private.settings where name = 'ingest_secret'`;
  const port = 40000 + Math.floor(Math.random() * 9000);
  const child = spawn(`${process.cwd()}/node_modules/deno/deno`, [
    "run",
    "-A",
    "--config",
    "supabase/functions/ingest/deno.json",
    "supabase/functions/ingest/index.ts",
  ], {
    env: {
      ...process.env,
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      SUPABASE_URL: API_URL,
      SUPABASE_ANON_KEY: ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: SERVICE_ROLE_KEY,
      SUPABASE_DB_URL: DB_URL,
      PROVIDER_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
      INGEST_SECRET: secret,
      ...extraEnv,
    },
    stdio: "ignore",
  });
  await eventually(
    () => fetch(`http://127.0.0.1:${port}/`).then((r) => (r.ok ? true : undefined), () => undefined),
    30_000,
  );
  const call = () => fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: { "x-ingest-secret": secret } });
  return { child, call };
}

describe("upload through the API", () => {
  let id: string;
  let bytes: Uint8Array<ArrayBuffer>;

  it("201 with the document (multipart); stored in Storage under <user id>/<document id>.pdf, as the caller", async () => {
    bytes = await makePdf(pages(12), { title: "twelve" });
    const res = await uploadPdf(alice, bytes, "twelve.pdf");
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      success: true,
      errors: null,
      data: { filename: "twelve.pdf", size_bytes: bytes.length },
    });
    id = res.body.data.id;
    expect(["queued", "processing", "ready"]).toContain(res.body.data.status);
    const [object] =
      await db`select owner_id, metadata->>'mimetype' as mime from storage.objects where bucket_id = 'documents' and name = ${`${alice.id}/${id}.pdf`}`;
    expect(object).toEqual({ owner_id: alice.id, mime: "application/pdf" });
  });

  it("is ingested: ready, every page and its chunks stored, 100%", async () => {
    const row = await settled(id);
    expect(row).toMatchObject({
      status: "ready",
      pages_total: 12,
      pages_done: 12,
      pages_without_text: 0,
      embedding_model: null,
    });
    const res = await api("GET", `/documents/${id}`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id,
      status: "ready",
      pages_done: 12,
      pages_total: 12,
      progress_percent: 100,
      failure_reason: null,
    });
    expect(res.body.data.object_path).toBeUndefined();
    const [page7] =
      await db`select text, has_text from public.document_pages where document_id = ${id} and page_number = 7`;
    expect(page7.text).toContain(factPage(7)[1]);
    const chunks =
      await db`select page_number, start_offset, end_offset, content from public.document_chunks where document_id = ${id} order by page_number`;
    expect(chunks.map((c) => c.page_number)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const [chunk] = chunks.filter((c) => c.page_number === 7);
    expect(page7.text.slice(chunk.start_offset, chunk.end_offset)).toBe(chunk.content);
  });

  it("the same file again returns the existing document (200), and stores nothing new", async () => {
    const before = await db`select count(*)::int as n from storage.objects where owner_id = ${alice.id}`;
    const res = await uploadPdf(alice, bytes, "again.pdf", "body");
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(id);
    const after = await db`select count(*)::int as n from storage.objects where owner_id = ${alice.id}`;
    expect(after[0].n).toBe(before[0].n);
  });

  it("an application/pdf body with ?filename= works too", async () => {
    const res = await uploadPdf(alice, await makePdf(pages(2, 500)), "body.pdf", "body");
    expect(res.status).toBe(201);
    expect(res.body.data.filename).toBe("body.pdf");
    expect(await settled(res.body.data.id)).toMatchObject({ status: "ready", pages_total: 2 });
  });

  it("lists the caller's documents, paged, with X-Total-Count", async () => {
    const res = await api("GET", "/documents?limit=1", { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(Number(res.headers.get("x-total-count"))).toBeGreaterThanOrEqual(2);
  });

  it("a signed URL to the file opens it without any header; ?page=N adds #page=N", async () => {
    const res = await api("GET", `/documents/${id}/file?page=3`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body.data.url).toMatch(new RegExp(`^${API_URL}/storage/v1/object/sign/documents/.*#page=3$`));
    const file = await fetch(res.body.data.url.replace(/#.*$/, ""));
    expect(file.status).toBe(200);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(bytes);
  });
});

describe("what is refused before anything is stored", () => {
  const count = async () => (await db`select count(*)::int as n from public.documents where user_id = ${bob.id}`)[0].n;

  it("415 for a file that is not a PDF, even named .pdf", async () => {
    const before = await count();
    const res = await uploadPdf(bob, new TextEncoder().encode("just some text, not a PDF at all"), "fake.pdf");
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ success: false, data: null, message: expect.stringMatching(/not a PDF/i) });
    expect(await count()).toBe(before);
    expect((await storageOf(bob).list(bob.id)).data).toEqual([]);
  });

  it("413 above the size limit (25 MB by default)", async () => {
    const big = new Uint8Array(25 * 1024 * 1024 + 10);
    big.set(new TextEncoder().encode("%PDF-1.7\n"));
    const res = await uploadPdf(bob, big, "big.pdf", "body");
    expect(res.status).toBe(413);
    // The API's own limit refused it, before Storage (whose bucket limit would also say 413) saw it.
    expect(res.body).toEqual({
      success: false,
      message: `The file is larger than the limit of ${25 * 1024 * 1024} bytes`,
      data: null,
      errors: null,
    });
  });

  it("415 for another content type, 400 for a form without a file, 401 without a token", async () => {
    const json = await api("POST", "/documents", { token: bob.token, body: { file: "x" } });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.set("other", "value");
    const noFile = await fetch(`${API_URL}/api/v1/documents`, {
      method: "POST",
      headers: { authorization: `Bearer ${bob.token}` },
      body: form,
    });
    expect(noFile.status).toBe(400);
    expect((await noFile.json()).errors).toHaveProperty("file");
    expect((await api("POST", "/documents", { body: "x" })).status).toBe(401);
    expect(await count()).toBe(0);
  });
});

describe("PDFs that fail, with their reason", () => {
  it("an encrypted PDF", async () => {
    const res = await uploadPdf(bob, await makePdf(pages(2), { encrypted: true }), "locked.pdf");
    expect(res.status).toBe(201);
    const row = await settled(res.body.data.id);
    expect(row).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/encrypted/) });
    const got = await api("GET", `/documents/${res.body.data.id}`, { token: bob.token });
    expect(got.body.data).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/password/) });
  });

  it("a truncated PDF", async () => {
    const whole = await makePdf(pages(20));
    const res = await uploadPdf(bob, whole.slice(0, Math.floor(whole.length * 0.6)), "cut.pdf");
    expect(res.status).toBe(201);
    expect(await settled(res.body.data.id)).toMatchObject({
      status: "failed",
      failure_reason: expect.stringMatching(/truncated|damaged/),
    });
  });

  it("a supabase-js upload of a non-PDF (Storage accepts it by its declared type): failed, not a PDF", async () => {
    const name = `${bob.id}/${crypto.randomUUID()}.pdf`;
    const { error } = await storageOf(bob).upload(name, new TextEncoder().encode("hello, I am plain text"), {
      contentType: "application/pdf",
    });
    expect(error).toBeNull();
    const [doc] = await eventually(async () => {
      const rows = await db`select id from public.documents where object_path = ${name}`;
      return rows.length ? rows : undefined;
    });
    expect(await settled(doc.id)).toMatchObject({
      status: "failed",
      failure_reason: expect.stringMatching(/not a PDF/),
    });
  });
});

describe("pages without text, Korean, and supabase-js uploads", () => {
  it("a page without a text layer is marked, holds no chunks, and the rest is searchable", async () => {
    const bytes = await makePdf([{ lines: factPage(1) }, { lines: [] }, { lines: factPage(3) }]);
    const res = await uploadPdf(alice, bytes, "scan.pdf");
    const row = await settled(res.body.data.id);
    expect(row).toMatchObject({ status: "ready", pages_total: 3, pages_without_text: 1 });
    const marks =
      await db`select page_number, has_text, text from public.document_pages where document_id = ${res.body.data.id} order by 1`;
    expect(marks.map((p) => [p.page_number, p.has_text])).toEqual([[1, true], [2, false], [3, true]]);
    expect(marks[1].text).toBe("");
    const chunkPages =
      await db`select distinct page_number from public.document_chunks where document_id = ${res.body.data.id} order by 1`;
    expect(chunkPages.map((c) => c.page_number)).toEqual([1, 3]);
  });

  it("uploaded with supabase-js Storage: the trigger makes the document (named by the path) and it is ingested", async () => {
    const id = crypto.randomUUID();
    const { error } = await storageOf(alice).upload(`${alice.id}/${id}.pdf`, await makePdf(pages(4, 700)), {
      contentType: "application/pdf",
      metadata: { filename: "from-supabase-js.pdf" },
    });
    expect(error).toBeNull();
    const row = await settled(id);
    expect(row).toMatchObject({ status: "ready", pages_total: 4 });
    const res = await api("GET", `/documents/${id}`, { token: alice.token });
    expect(res.body.data).toMatchObject({ id, filename: "from-supabase-js.pdf", status: "ready" });
  });

  it("the same bytes uploaded again with supabase-js: failed as a duplicate, pointing at the first", async () => {
    const bytes = await makePdf(pages(3, 900));
    const first = await uploadPdf(alice, bytes, "orig.pdf");
    await settled(first.body.data.id);
    const id = crypto.randomUUID();
    expect((await storageOf(alice).upload(`${alice.id}/${id}.pdf`, bytes, { contentType: "application/pdf" })).error)
      .toBeNull();
    expect(await settled(id)).toMatchObject({
      status: "failed",
      duplicate_of: first.body.data.id,
      failure_reason: expect.stringMatching(/same file/),
    });
  });

  it("Korean text is extracted as written", async () => {
    const res = await uploadPdf(
      alice,
      await makePdf([{ lines: ["대한민국의 수도는 서울이다.", "서울은 한강을 따라 자리한다."] }]),
      "korean.pdf",
    );
    expect(await settled(res.body.data.id)).toMatchObject({ status: "ready", pages_total: 1 });
    const [page] = await db`select text from public.document_pages where document_id = ${res.body.data.id}`;
    expect(page.text).toBe("대한민국의 수도는 서울이다.\n서울은 한강을 따라 자리한다.");
  });
});

describe("a 300-page PDF", () => {
  it("progress streams as SSE up to 100%, then done with the ready document", async () => {
    const res = await uploadPdf(alice, await makePdf(pages(300, 1000)), "long.pdf");
    expect(res.status).toBe(201);
    const sse = await readSse(`/documents/${res.body.data.id}/progress`, alice.token);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toContain("text/event-stream");
    const progress = sse.events.filter((e) => e.event === "progress").map((e) => e.data.progress_percent);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(100);
    const done = sse.events.at(-1)!;
    expect(done.event).toBe("done");
    expect(done.data).toMatchObject({ status: "ready", pages_done: 300, pages_total: 300, progress_percent: 100 });
    const [{ n }] =
      await db`select count(distinct page_number)::int as n from public.document_chunks where document_id = ${res.body.data.id}`;
    expect(n).toBe(300);
  });

  it("a worker killed mid-way: the next one resumes where the last batch committed, each page stored once", async () => {
    let worker: ChildProcess | undefined;
    let id: string;
    await withStackWorkerAway(async () => {
      try {
        const res = await uploadPdf(alice, await makePdf(pages(300, 2000)), "killed.pdf");
        id = res.body.data.id;
        const started = await startWorker({ INGEST_TIME_BUDGET_MS: "120000", INGEST_BATCH_PAGES: "3" });
        worker = started.child;
        started.call().catch(() => {});
        await eventually(async () => {
          const [row] = await db`select pages_done from public.documents where id = ${id}`;
          return row.pages_done >= 9 ? true : undefined;
        }, 30_000);
        worker.kill("SIGKILL");
        await new Promise((r) => worker!.once("exit", r));
      } finally {
        worker?.kill("SIGKILL");
      }
    });
    const [midway] = await db`select status, pages_done from public.documents where id = ${id!}`;
    expect(midway.status).toBe("processing");
    expect(midway.pages_done).toBeLessThan(300);
    const [job] =
      await db`select status, next_page, lease_until > now() as leased from private.ingest_jobs where document_id = ${id!}`;
    expect(job).toMatchObject({ status: "running", next_page: midway.pages_done + 1, leased: true });

    // The dead worker's lease runs out (moved to now rather than waited for); pg_cron's next call takes over.
    await db`update private.ingest_jobs set lease_until = now() where document_id = ${id!}`;
    expect(await settled(id!, 90_000)).toMatchObject({ status: "ready", pages_done: 300, pages_total: 300 });
    const [pagesStored] =
      await db`select count(*)::int as n, count(distinct page_number)::int as d from public.document_pages where document_id = ${id!}`;
    expect(pagesStored).toEqual({ n: 300, d: 300 });
    const [after] = await db`select status, failures from private.ingest_jobs where document_id = ${id!}`;
    expect(after).toEqual({ status: "done", failures: 1 });
  });
});

describe("limits and retries", () => {
  it("more pages than DOCUMENT_MAX_PAGES: failed, saying so", async () => {
    let id = "";
    await withStackWorkerAway(async () => {
      id = (await uploadPdf(bob, await makePdf(pages(8, 5000)), "long.pdf")).body.data.id;
      const { child, call } = await startWorker({ DOCUMENT_MAX_PAGES: "5" });
      try {
        await (await call()).text();
      } finally {
        child.kill("SIGKILL");
      }
    });
    expect(await settled(id)).toMatchObject({
      status: "failed",
      failure_reason: "the PDF has 8 pages, above the limit of 5",
      pages_done: 0,
    });
  });

  it("a job that fails three times (its file unreadable) fails the document with the reason", async () => {
    let id = "";
    await withStackWorkerAway(async () => {
      id = (await uploadPdf(bob, await makePdf(pages(2, 5100)), "vanishing.pdf")).body.data.id;
      // The stored file disappears from Storage's file backend under the object.
      const storageDir = `${dirname(STACK_SERVICES)}/storage`;
      const files = execFileSync("find", [storageDir, "-path", `*${id}.pdf*`, "-type", "f"]).toString().trim().split(
        "\n",
      ).filter(Boolean);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) rmSync(f);
    });
    const row = await settled(id, 60_000);
    expect(row).toMatchObject({
      status: "failed",
      failure_reason: "the file could not be read from Storage (failed 3 times)",
    });
    const [job] = await db`select status, failures from private.ingest_jobs where document_id = ${id}`;
    expect(job).toEqual({ status: "failed", failures: 3 });
  });
});

describe("another user's document is invisible", () => {
  let id: string;
  let path: string;
  beforeAll(async () => {
    const res = await uploadPdf(alice, await makePdf(pages(2, 3000)), "private.pdf");
    id = res.body.data.id;
    path = `${alice.id}/${id}.pdf`;
    await settled(id);
  });

  it("in every route: 404, exactly as for an id that does not exist", async () => {
    const missing = crypto.randomUUID();
    for (const target of [id, missing]) {
      for (
        const [method, route] of [["GET", `/documents/${target}`], ["GET", `/documents/${target}/file`], [
          "GET",
          `/documents/${target}/progress`,
        ], ["DELETE", `/documents/${target}`]]
      ) {
        const res = await api(method, route, { token: bob.token });
        expect(res.status, `${method} ${route}`).toBe(404);
        expect(res.body).toMatchObject({ success: false, message: "Document not found" });
      }
    }
    const list = await api("GET", "/documents", { token: bob.token });
    expect(list.body.data.map((d: { id: string }) => d.id)).not.toContain(id);
    const bobsConversation = await createConversation(bob);
    const attach = await api("POST", `/conversations/${bobsConversation}/documents`, {
      token: bob.token,
      body: { document_id: id },
    });
    expect(attach.status).toBe(404);
    // Nor can bob attach to alice's conversation.
    const alicesConversation = await createConversation(alice);
    expect(
      (await api("POST", `/conversations/${alicesConversation}/documents`, {
        token: bob.token,
        body: { document_id: id },
      })).status,
    ).toBe(404);
  });

  it("in Storage: bob can neither download, sign nor remove it", async () => {
    const sb = storageOf(bob);
    expect((await sb.download(path)).error).not.toBeNull();
    expect((await sb.createSignedUrl(path, 60)).error).not.toBeNull();
    await sb.remove([path]);
    const [still] = await db`select count(*)::int as n from public.documents where id = ${id}`;
    expect(still.n).toBe(1);
  });

  it("in the database: bob's session reads none of its rows, and cannot attach it directly either", async () => {
    await db.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
        JSON.stringify({ sub: bob.id, role: "authenticated" })
      }, true)`;
      const [counts] = await tx`select (select count(*) from public.documents where id = ${id})::int as docs,
                                        (select count(*) from public.document_pages where document_id = ${id})::int as pages,
                                        (select count(*) from public.document_chunks where document_id = ${id})::int as chunks`;
      expect(counts).toEqual({ docs: 0, pages: 0, chunks: 0 });
      const [conv] = await tx`insert into public.conversations (title) values ('bob direct') returning id`;
      await expect(
        tx.savepoint((sp) =>
          sp`insert into public.conversation_documents (conversation_id, document_id) values (${conv.id}, ${id})`
        ),
      )
        .rejects.toThrow(/foreign key/);
    });
  });
});

describe("delete", () => {
  it("removes the object, the document, its pages and chunks and job; the id is then unknown", async () => {
    const res = await uploadPdf(alice, await makePdf(pages(2, 4000)), "gone.pdf");
    const id = res.body.data.id;
    await settled(id);
    const del = await api("DELETE", `/documents/${id}`, { token: alice.token });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ success: true, data: { id } });
    const [left] = await db`select (select count(*) from public.documents where id = ${id})::int as docs,
                                   (select count(*) from public.document_pages where document_id = ${id})::int as pages,
                                   (select count(*) from public.document_chunks where document_id = ${id})::int as chunks,
                                   (select count(*) from private.ingest_jobs where document_id = ${id})::int as jobs,
                                   (select count(*) from storage.objects where name = ${`${alice.id}/${id}.pdf`})::int as objects`;
    expect(left).toEqual({ docs: 0, pages: 0, chunks: 0, jobs: 0, objects: 0 });
    expect((await api("GET", `/documents/${id}`, { token: alice.token })).status).toBe(404);
    expect((await api("DELETE", `/documents/${id}`, { token: alice.token })).status).toBe(404);
  });

  it("removing the object with supabase-js removes the document too", async () => {
    const res = await uploadPdf(alice, await makePdf(pages(1, 4100)), "removed.pdf");
    await settled(res.body.data.id);
    expect((await storageOf(alice).remove([`${alice.id}/${res.body.data.id}.pdf`])).error).toBeNull();
    expect((await api("GET", `/documents/${res.body.data.id}`, { token: alice.token })).status).toBe(404);
  });
});

describe("the ingest function is not for clients", () => {
  it("401 without the secret header, or with a wrong one; nothing about the secret in the answer", async () => {
    const attempts: Record<string, string>[] = [{}, { "x-ingest-secret": "guess" }, {
      apikey: ANON_KEY,
      authorization: `Bearer ${alice.token}`,
    }];
    for (const headers of attempts) {
      const res = await fetch(`${API_URL}/functions/v1/ingest`, { method: "POST", headers });
      expect(res.status).toBe(401);
      const body = await res.json();
      expect(body).toEqual({ success: false, message: "Not for clients", data: null, errors: null });
    }
  });
});
