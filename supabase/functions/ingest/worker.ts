// The ingestion worker: claims a job (`for update skip locked`, with a lease), reads the PDF from
// Storage, and turns pages into text, chunks and (with the owner's OpenAI key, as far as its budget covers them) embeddings, a
// batch at a time. Each batch commits its pages together with the job's resume point, so a
// worker killed or out of time loses at most the batch in hand; the next call (pg_cron every
// few seconds, or the kick at the end of this one) carries on from there. An `embed` job (queued
// by POST /documents/{id}/reindex or a new OpenAI key: private.queue_embedding) embeds a ready
// document's chunks that lack a vector of the current model, a batch at a time, the same way.
// The job's lifecycle is SQL (private.claim/progress/finish/retry/release/fail_ingest_job): this
// file writes no private table itself.
import { createClient } from "@supabase/supabase-js";
import { embedWithinBudget } from "../_shared/budgeted-embed.ts";
import { sql, type Tx } from "../_shared/db.ts";
import { env } from "../_shared/env.ts";
import { EMBEDDING_MODEL, vectorLiteral } from "../_shared/providers/embeddings.ts";
import { secretBox } from "../_shared/secret-box.ts";
import { chunkPage } from "./chunk.ts";
import { openPdf, pageText, type PdfDocument, structuralProblem, UnreadablePdf } from "./extract.ts";

export const MAX_FAILURES = 3;
/** Chunks per embedding call of an embed job (an ingest batch embeds its pages' chunks in one call). */
const EMBED_BATCH = 100;

const storage = createClient(env.supabaseUrl, env.serviceRoleKey, {
  auth: { persistSession: false, autoRefreshToken: false },
})
  .storage.from("documents");

interface Job {
  document_id: string;
  kind: "ingest" | "embed";
  next_page: number;
  failures: number;
  last_error: string | null;
  lease_token: string;
}

interface Doc {
  id: string;
  user_id: string;
  object_path: string;
  pages_total: number | null;
}

/** A failure that may pass (Storage briefly away): retried on a later call, shown as the reason after the last try. */
class RetryableError extends Error {}

/** A document that cannot be ingested, whatever the retries: failed at once with this reason. */
class DocumentRejected extends Error {
  constructor(message: string, readonly duplicateOf: string | null = null) {
    super(message);
  }
}

// One open PDF per instance, so consecutive calls on one document do not download and parse it again.
let cached: { documentId: string; pdf: PdfDocument } | null = null;

export interface RunReport {
  jobs: number;
  pages: number;
  finished: string[];
  failed: string[];
}

/** Works until the time budget is spent or no job is left. */
export async function runWorker(budgetMs = env.ingest.timeBudgetMs): Promise<RunReport> {
  const deadline = Date.now() + budgetMs;
  const report: RunReport = { jobs: 0, pages: 0, finished: [], failed: [] };
  while (Date.now() < deadline) {
    const [job] = await sql<Job[]>`select * from private.claim_ingest_job(${env.ingest.leaseSeconds})`;
    if (!job) break;
    report.jobs++;
    // After a failure the retry waits for the next scheduled call (seconds), not this one.
    if (!(await processJob(job, deadline, report))) return report;
  }
  // More to do (a document not finished, or another queued): the next call starts now, not at the next tick.
  await sql`select private.kick_ingest()`;
  return report;
}

/** False when the job failed in a way worth retrying later. */
async function processJob(job: Job, deadline: number, report: RunReport): Promise<boolean> {
  const [doc] = await sql<
    Doc[]
  >`select id, user_id, object_path, pages_total from public.documents where id = ${job.document_id}`;
  if (!doc) return true; // deleted meanwhile (its job went with it)
  if (job.failures >= MAX_FAILURES) {
    await giveUp(job, job.last_error ?? "ingestion failed", report);
    return true;
  }
  try {
    if (job.kind === "embed") {
      if (await embedChunks(job, doc, deadline)) report.finished.push(doc.id);
      return true;
    }
    const pdf = await openDocument(doc);
    const total = pdf.numPages;
    let next = job.next_page;
    const embedder = await embedderFor(doc.user_id);
    while (next <= total && Date.now() < deadline) {
      const last = Math.min(total, next + env.ingest.batchPages - 1);
      const pages: { number: number; text: string }[] = [];
      for (let n = next; n <= last && (n === next || Date.now() < deadline); n++) {
        pages.push({ number: n, text: await pageText(pdf, n) });
      }
      const stored = await storeBatch(job, doc, pages, embedder, total);
      if (!stored) return true; // the lease was lost: another worker has the job
      next = pages.at(-1)!.number + 1;
      report.pages += pages.length;
    }
    if (next > total) {
      await sql`select private.finish_ingest_job(${job.document_id}::uuid, ${job.lease_token}::uuid)`;
      if (cached?.documentId === doc.id) cached = null;
      report.finished.push(doc.id);
    } else {
      await releaseJob(job);
    }
    return true;
  } catch (err) {
    if (cached?.documentId === doc.id) cached = null;
    if (err instanceof DocumentRejected || err instanceof UnreadablePdf) {
      await failDocument(job, err.message, err instanceof DocumentRejected ? err.duplicateOf : null);
      report.failed.push(doc.id);
      return true;
    }
    // Anything else may pass (Storage or the database briefly away): count it, retry on a later call.
    // Only our own messages are shown; anything unexpected is named by its kind alone.
    const reason = err instanceof RetryableError ? err.message : `ingestion failed: ${(err as Error)?.name ?? "error"}`;
    console.error(`ingest ${doc.id}: ${reason}`);
    const [{ failures }] =
      await sql`select private.retry_ingest_job(${job.document_id}::uuid, ${job.lease_token}::uuid, ${reason}) as failures`;
    if (failures !== null && failures >= MAX_FAILURES) await giveUp({ ...job, failures }, reason, report, true);
    return false;
  }
}

/** After the last retry: an ingestion fails its document; an embed job fails alone (the document stays searchable lexically). */
async function giveUp(job: Job, reason: string, report: RunReport, afterRetries = false) {
  if (job.kind === "embed") {
    console.error(`ingest ${job.document_id}: re-embedding given up: ${reason}`);
    await sql`select private.fail_ingest_job(${job.document_id}::uuid, ${reason})`;
    return;
  }
  await failDocument(job, reason, null, afterRetries);
  report.failed.push(job.document_id);
}

/**
 * An embed job: the document's chunks without a vector of the current model, EMBED_BATCH at a
 * time, each batch reserved against the owner's key and billed to it (embedWithinBudget), stored
 * with its model under the job's lease. True when the job is finished: every chunk embedded, or
 * no key to embed with, or the budget ran out (the document says so); false when time ran out or
 * the lease was lost.
 */
async function embedChunks(job: Job, doc: Doc, deadline: number): Promise<boolean> {
  const embedder = await embedderFor(doc.user_id);
  const finish = (skipped: "budget" | null) =>
    sql.begin(async (tx: Tx) => {
      await tx`select private.finish_ingest_job(${job.document_id}::uuid, ${job.lease_token}::uuid)`;
      if (skipped) await tx`update public.documents set embeddings_skipped = ${skipped} where id = ${doc.id}`;
      else if (embedder) {
        await tx`update public.documents set embedding_model = ${EMBEDDING_MODEL}, embeddings_skipped = null
                 where id = ${doc.id} and not exists (
                   select 1 from public.document_chunks c where c.document_id = ${doc.id} and c.embedding_model is distinct from ${EMBEDDING_MODEL})`;
      }
    });
  if (!embedder) {
    await finish(null);
    return true;
  }
  while (Date.now() < deadline) {
    const chunks = await sql<{ id: string; content: string }[]>`
      select id, content from public.document_chunks
      where document_id = ${doc.id} and embedding_model is distinct from ${EMBEDDING_MODEL}
      order by id limit ${EMBED_BATCH}`;
    if (!chunks.length) {
      await finish(null);
      return true;
    }
    const res = await embedWithinBudget(
      { sub: doc.user_id, role: "authenticated" },
      embedder,
      chunks.map((c) => c.content),
    );
    if (res.outcome === "over_budget") {
      await finish("budget");
      return true;
    }
    if (res.outcome === "failed") throw new RetryableError(`embedding failed (${res.kind})`);
    const vectors = res.vectors;
    const stored = await sql.begin(async (tx: Tx) => {
      if (!(await holdLease(tx, job))) return false;
      await tx`
        update public.document_chunks c
        set embedding = v.embedding::extensions.vector, embedding_model = ${EMBEDDING_MODEL}
        from unnest(${chunks.map((c) => c.id)}::bigint[], ${vectors.map(vectorLiteral)}::text[]) as v(id, embedding)
        where c.id = v.id`;
      return true;
    }) as boolean;
    if (!stored) return false;
  }
  await releaseJob(job);
  return false;
}

/** The PDF, opened; on the first call for a document, checked and measured first. */
async function openDocument(doc: Doc): Promise<PdfDocument> {
  if (cached?.documentId === doc.id && doc.pages_total !== null) return cached.pdf;
  const { data, error } = await storage.download(doc.object_path);
  if (error || !data) throw new RetryableError("the file could not be read from Storage");
  const bytes = new Uint8Array(await data.arrayBuffer());
  if (doc.pages_total === null) {
    const problem = structuralProblem(bytes, env.documents.maxBytes);
    if (problem) throw new DocumentRejected(problem);
  }
  const pdf = await openPdf(bytes);
  if (doc.pages_total === null) {
    if (pdf.numPages > env.documents.maxPages) {
      throw new DocumentRejected(`the PDF has ${pdf.numPages} pages, above the limit of ${env.documents.maxPages}`);
    }
    const hash = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const [same] = await sql`
      select id from public.documents
      where user_id = ${doc.user_id} and content_sha256 = ${hash} and duplicate_of is null and id <> ${doc.id}`;
    if (same) throw new DocumentRejected(`the same file as document ${same.id}`, same.id);
    await sql`
      update public.documents
      set status = 'processing', pages_total = ${pdf.numPages}, size_bytes = ${bytes.length}, content_sha256 = ${hash}
      where id = ${doc.id}`;
    doc.pages_total = pdf.numPages;
  }
  cached = { documentId: doc.id, pdf };
  return pdf;
}

interface Embedder {
  id: string;
  apiKey: () => Promise<string>;
}

/** The owner's OpenAI key to embed with: the selected one if it is OpenAI's, else their most recently used valid one. */
async function embedderFor(userId: string): Promise<Embedder | null> {
  const [key] = await sql`select id, ciphertext from private.owner_openai_key(${userId}::uuid)`;
  if (!key) return null;
  const ciphertext = key.ciphertext;
  return { id: key.id, apiKey: async () => await (await secretBox()).decrypt(ciphertext) };
}

/** Stores a batch of pages with their chunks and moves the resume point, in one transaction; false if the lease was lost. */
async function storeBatch(
  job: Job,
  doc: Doc,
  pages: { number: number; text: string }[],
  embedder: Embedder | null,
  total: number,
): Promise<boolean> {
  const chunks = pages.flatMap((p) => chunkPage(p.text).map((c) => ({ page: p.number, ...c })));
  let vectors: number[][] | null = null;
  let overBudget = false;
  if (embedder && chunks.length) {
    // Reserved against the owner's key first, billed to it after, as the owner (like chat).
    const res = await embedWithinBudget(
      { sub: doc.user_id, role: "authenticated" },
      embedder,
      chunks.map((c) => c.content),
    );
    if (res.outcome === "embedded") vectors = res.vectors;
    else if (res.outcome === "over_budget") overBudget = true;
    // Without embeddings the chunks are still found lexically (BM25 over their pieces).
    else console.error(`ingest ${doc.id}: embeddings failed (${res.kind}); these chunks are searchable lexically only`);
  }
  const withoutText = pages.filter((p) => p.text === "").length;
  const done = pages.at(-1)!.number;
  return await sql.begin(async (tx: Tx) => {
    if (!(await holdLease(tx, job, done + 1))) return false;
    await tx`
      insert into public.document_pages ${
      tx(
        pages.map((p) => ({
          document_id: doc.id,
          user_id: doc.user_id,
          page_number: p.number,
          text: p.text,
          has_text: p.text !== "",
        })),
      )
    }`;
    if (chunks.length) {
      await tx`
        insert into public.document_chunks ${
        tx(chunks.map((c, i) => ({
          document_id: doc.id,
          user_id: doc.user_id,
          page_number: c.page,
          start_offset: c.start,
          end_offset: c.end,
          content: c.content,
          embedding: vectors ? vectorLiteral(vectors[i]) : null,
          embedding_model: vectors ? EMBEDDING_MODEL : null,
        })))
      }`;
    }
    await tx`
      update public.documents
      set pages_done = ${done},
          pages_without_text = pages_without_text + ${withoutText},
          chunk_count = chunk_count + ${chunks.length},
          embedding_model = case when ${vectors !== null} then ${EMBEDDING_MODEL} else embedding_model end,
          embeddings_skipped = case when ${overBudget} then 'budget' when ${
      pages[0].number === 1
    } then null else embeddings_skipped end,
          status = case when ${done >= total} then 'ready' else 'processing' end,
          ready_at = case when ${done >= total} then now() end
      where id = ${doc.id}`;
    return true;
  }) as boolean;
}

/**
 * First in a transaction that stores work under the job's lease: extends the lease (and moves
 * the resume point to `nextPage`), holding the job's row to the commit. False if the lease was lost.
 */
async function holdLease(tx: Tx, job: Job, nextPage: number | null = null): Promise<boolean> {
  const [{ held }] = await tx`
    select private.progress_ingest_job(${job.document_id}::uuid, ${job.lease_token}::uuid, ${env.ingest.leaseSeconds}, ${nextPage}::integer) as held`;
  return held;
}

/** Hands the job back (time budget spent) so the next call takes it at once. */
function releaseJob(job: Job) {
  return sql`select private.release_ingest_job(${job.document_id}::uuid, ${job.lease_token}::uuid)`;
}

async function failDocument(job: Job, reason: string, duplicateOf: string | null, afterRetries = false) {
  const shown = afterRetries || job.failures >= MAX_FAILURES ? `${reason} (failed ${MAX_FAILURES} times)` : reason;
  await sql`select private.fail_ingest_job(${job.document_id}::uuid, ${reason}, ${shown}, ${duplicateOf}::uuid)`;
}
