// PDFs: upload (to Storage, as the caller, so Storage's RLS applies; the trigger on
// storage.objects makes the document and queues its ingestion), list, status, progress (SSE),
// a signed URL to the file, delete; and the documents attached to a conversation.
import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { env } from "../../_shared/env.ts";
import { EMBEDDING_MODEL } from "../../_shared/providers/embeddings.ts";
import { ApiError, notFound } from "../../_shared/http.ts";
import { bearerToken } from "../../_shared/identity.ts";
import { loadOnce } from "../../_shared/load-once.ts";
import {
  attachDocument,
  conversationDocuments,
  conversationExists,
  detachDocument,
  documentBySha256,
  findDocument,
  listDocuments,
} from "../data/documents.ts";
import { bodyId, pathId } from "../ids.ts";
import { route } from "../route.ts";
import { Id, Pagination } from "../schemas.ts";

const Document = z.object({
  id: Id,
  filename: z.string(),
  size_bytes: z.number().int().nullable(),
  content_sha256: z.string().nullable(),
  status: z.enum(["queued", "processing", "ready", "failed"]),
  failure_reason: z.string().nullable(),
  duplicate_of: Id.nullable().describe(
    "Set when the same file was already uploaded (a direct Storage upload of a duplicate)",
  ),
  pages_total: z.number().int().nullable(),
  pages_done: z.number().int(),
  pages_without_text: z.number().int().describe("Pages with no text layer (scans): not searchable, no OCR"),
  chunk_count: z.number().int(),
  embedding_model: z.string().nullable().describe(
    "null: searchable lexically only (no OpenAI key when it was ingested, or no budget for it)",
  ),
  embeddings_skipped: z.enum(["budget"]).nullable().describe(
    "budget: the OpenAI key's monthly budget could not cover embedding some or all chunks, so they were not embedded (no provider call) and are searchable lexically only",
  ),
  progress_percent: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
  ready_at: z.string().nullable(),
});

const UploadQuery = z.object({
  filename: z.string().trim().min(1).max(255).optional()
    .describe(
      "The file's name: needed for an application/pdf body (else `document.pdf`); with multipart it replaces the part's own file name",
    ),
});

const PDF_BYTES = {
  type: "string",
  format: "binary",
  contentMediaType: "application/pdf",
  description: "The PDF's bytes (at most DOCUMENT_MAX_BYTES, 25 MB by default)",
};

/** The two ways to send the file (readUpload), for /openapi.json. */
const UPLOAD_BODY = {
  required: true,
  description:
    "The PDF, one per request: multipart/form-data with the file in the field `file`, or the bare bytes as an application/pdf " +
    "(or application/octet-stream) body with the name in `?filename=`. Any other Content-Type is 415.",
  content: {
    "multipart/form-data": {
      schema: { type: "object", required: ["file"], properties: { file: PDF_BYTES } },
    },
    "application/pdf": { schema: PDF_BYTES },
    "application/octet-stream": { schema: PDF_BYTES },
  },
};
const FileQuery = z.object({
  page: z.coerce.number().int().min(1).optional().describe("Adds #page=N to the URL for PDF viewers"),
});
const Attach = z.strictObject({ document_id: z.string() });

const SIGNED_URL_SECONDS = 300;
const PROGRESS_POLL_MS = 500;
const PROGRESS_MAX_MS = 15 * 60 * 1000;

const supabaseJs = loadOnce(() => import("@supabase/supabase-js"));

/** supabase-js Storage acting as the caller: Storage checks the token and applies its RLS policies. */
async function storageAs(c: Context) {
  const token = bearerToken(c.req.header("authorization"));
  return (await supabaseJs()).createClient(env.supabaseUrl, env.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: { Authorization: `Bearer ${token}` } },
  }).storage.from("documents");
}

const tooLarge = () => new ApiError(413, `The file is larger than the limit of ${env.documents.maxBytes} bytes`);

// Multipart framing adds a little around the file; the body may be that much larger (the route's
// bodyLimit), and the file itself is checked against the limit once parsed.
const UPLOAD_BODY_LIMIT = { bytes: env.documents.maxBytes + 64 * 1024, tooLarge };
const readUploadBody = async (c: Context) => new Uint8Array(await c.req.arrayBuffer());

async function readUpload(
  c: Context,
  queryName: string | undefined,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; filename: string }> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  let bytes: Uint8Array<ArrayBuffer>, filename: string | undefined = queryName;
  if (type.startsWith("multipart/form-data")) {
    const raw = await readUploadBody(c);
    let form: FormData;
    try {
      form = await new Response(raw, { headers: { "content-type": c.req.header("content-type")! } }).formData();
    } catch {
      throw new ApiError(400, "Malformed multipart body");
    }
    const file = form.get("file");
    if (!(file instanceof File)) {
      throw new ApiError(400, "Invalid request body", { file: ["Send the PDF in a form field named file"] });
    }
    bytes = new Uint8Array(await file.arrayBuffer());
    filename = filename ?? file.name;
  } else if (type.startsWith("application/pdf") || type.startsWith("application/octet-stream")) {
    bytes = await readUploadBody(c);
  } else {
    throw new ApiError(415, "Send the PDF as multipart/form-data (field file) or as an application/pdf body");
  }
  if (bytes.length === 0) throw new ApiError(400, "Invalid request body", { file: ["The file is empty"] });
  if (bytes.length > env.documents.maxBytes) throw tooLarge();
  if (!new TextDecoder("latin1").decode(bytes.subarray(0, 1024)).includes("%PDF-")) {
    throw new ApiError(415, "Not a PDF: the file does not start with a %PDF header");
  }
  // deno-lint-ignore no-control-regex -- control characters are what is removed from the name
  const name = (filename ?? "").split(/[\\/]/).pop()!.replace(/[\u0000-\u001f]/g, "").trim().slice(0, 255);
  return { bytes, filename: name || "document.pdf" };
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

export function documentRoutes(app: Hono) {
  route(app, {
    method: "post",
    path: "/documents",
    tag: "documents",
    summary: "Upload a PDF",
    description:
      "multipart/form-data with a `file` field, or an application/pdf body with `?filename=`. Stored in Storage as the caller " +
      "(`<user id>/<document id>.pdf` in bucket `documents`), then ingested in the background: follow `status` and " +
      "`pages_done / pages_total` (GET /documents/{id}, or /progress as SSE). The same file again returns the existing document (200). " +
      "415 for a non-PDF, 413 above the size limit; an encrypted, damaged or too long PDF becomes a failed document with its reason.",
    auth: true,
    query: UploadQuery,
    rawBody: UPLOAD_BODY,
    rawBodyLimit: UPLOAD_BODY_LIMIT,
    response: Document,
    status: 201,
    alsoOk: { 200: "The same file was already uploaded by this user: the existing document" },
    errors: [400, 401, 413, 415, 502],
    invalidWhen: ["an empty file", "a multipart body without a file in the field `file`", "a malformed multipart body"],
    statusText: {
      413: "The file is larger than DOCUMENT_MAX_BYTES",
      415: "Not a PDF (no %PDF header), or neither multipart/form-data nor an application/pdf body",
      502: "Storage did not accept the file",
    },
    handler: async ({ c, db, user, query }) => {
      const { bytes, filename } = await readUpload(c, query.filename);
      const hash = await sha256(bytes);
      const [existing] = await db((tx) => documentBySha256(tx, hash));
      if (existing) return { status: 200, message: "This file was already uploaded", data: existing };

      const id = crypto.randomUUID();
      const { error } = await (await storageAs(c)).upload(`${user.sub}/${id}.pdf`, bytes, {
        contentType: "application/pdf",
        upsert: false,
        metadata: { filename, sha256: hash },
      });
      if (error) {
        const status = Number((error as { statusCode?: string }).statusCode ?? 0);
        if (status === 413) throw tooLarge();
        console.error(`storage upload failed: ${status}`);
        throw new ApiError(502, "Storage did not accept the file; try again");
      }
      const data = await db((tx) => findDocument(tx, id));
      delete data.object_path;
      return { status: 201, message: "Uploaded; ingestion has started", data };
    },
  });

  route(app, {
    method: "get",
    path: "/documents",
    tag: "documents",
    summary: "The caller's documents, newest first",
    description: "Paginated with limit/offset; X-Total-Count carries the total.",
    auth: true,
    query: Pagination,
    response: Document.array(),
    handler: async ({ db, query }) => {
      const { rows, total } = await db((tx) => listDocuments(tx, query));
      return {
        message: `${rows.length} of ${total} documents`,
        data: rows,
        headers: { "X-Total-Count": String(total) },
      };
    },
  });

  route(app, {
    method: "get",
    path: "/documents/:id",
    tag: "documents",
    summary: "One document: status, pages_done / pages_total, the reason when failed",
    auth: true,
    response: Document,
    errors: [401, 404],
    handler: async ({ db, params }) => {
      const id = pathId(params.id, "Document");
      const data = await db((tx) => findDocument(tx, id));
      delete data.object_path;
      return { message: `Document ${data.status}`, data };
    },
  });

  route(app, {
    method: "get",
    path: "/documents/:id/file",
    tag: "documents",
    summary: "A short-lived signed URL to the PDF (for a viewer; `?page=N` adds #page=N)",
    auth: true,
    query: FileQuery,
    response: z.object({ url: z.string(), expires_in: z.number().int() }),
    errors: [401, 404],
    handler: async ({ c, db, params, query }) => {
      const id = pathId(params.id, "Document");
      const doc = await db((tx) => findDocument(tx, id));
      const { data, error } = await (await storageAs(c)).createSignedUrl(doc.object_path, SIGNED_URL_SECONDS);
      if (error || !data) throw notFound("Document");
      const url = data.signedUrl + (query.page ? `#page=${query.page}` : "");
      return { message: `Valid for ${SIGNED_URL_SECONDS} seconds`, data: { url, expires_in: SIGNED_URL_SECONDS } };
    },
  });

  route(app, {
    method: "get",
    path: "/documents/:id/progress",
    tag: "documents",
    summary: "Ingestion progress as Server-Sent Events",
    auth: true,
    streams: {
      description:
        "Server-Sent Events: `progress` as it changes, then `done` with the document when it is ready or failed, " +
        "or `error` if it is deleted meanwhile or its progress cannot be read (then the stream ends)",
      events: {
        progress: Document.pick({
          status: true,
          pages_done: true,
          pages_total: true,
          progress_percent: true,
          failure_reason: true,
        }),
        done: Document,
        error: z.object({
          success: z.literal(false),
          message: z.string(),
          status: z.number().int().describe("The HTTP status it would have had"),
        }),
      },
    },
    errors: [401, 404],
    handler: async ({ c, db, params }) => {
      const id = pathId(params.id, "Document");
      await db((tx) => findDocument(tx, id)); // 404 before any stream starts
      return streamSSE(c, async (stream) => {
        const send = (event: string, data: unknown) => stream.writeSSE({ event, data: JSON.stringify(data) });
        const until = Date.now() + PROGRESS_MAX_MS;
        let last = "";
        try {
          // Until the client leaves (the request's signal, or the response stream cancelled).
          while (!stream.aborted && !c.req.raw.signal.aborted && Date.now() < until) {
            const doc = await db((tx) => findDocument(tx, id));
            delete doc.object_path;
            const now = {
              status: doc.status,
              pages_done: doc.pages_done,
              pages_total: doc.pages_total,
              progress_percent: doc.progress_percent,
              failure_reason: doc.failure_reason,
            };
            if (JSON.stringify(now) !== last) {
              await send("progress", now);
              last = JSON.stringify(now);
            }
            if (doc.status === "ready" || doc.status === "failed") {
              await send("done", doc);
              break;
            }
            await stream.sleep(PROGRESS_POLL_MS);
          }
        } catch (err) {
          const status = err instanceof ApiError ? err.status : 500;
          await send("error", {
            success: false,
            message: status === 404 ? "Document not found (deleted)" : "Progress unavailable",
            status,
          });
        }
      });
    },
  });

  route(app, {
    method: "post",
    path: "/documents/:id/reindex",
    tag: "documents",
    summary:
      "Embed the document's chunks that have no vector of the current embedding model, in the background (billed to your OpenAI key)",
    description:
      "For a document ingested without an OpenAI key, or whose embeddings the key's budget skipped, or embedded with another " +
      "model. The ingest worker embeds the chunks a batch at a time, each batch reserved against the key's monthly budget and billed " +
      "to it like ingestion; `embedding_model` is set when all are done (`embeddings_skipped` says `budget` if the budget ran out). " +
      "Adding a valid OpenAI key (POST /keys) does this for every document at once.",
    auth: true,
    status: 202,
    response: Document,
    errors: [401, 404, 409],
    handler: async ({ db, params }) => {
      const id = pathId(params.id, "Document");
      const { doc, queued } = await db(async (tx) => {
        const doc = await findDocument(tx, id);
        if (doc.status !== "ready") {
          throw new ApiError(
            409,
            `The document is ${doc.status}: its ingestion embeds what it stores (with an OpenAI key)`,
          );
        }
        const [{ keyed }] =
          await tx`select exists (select 1 from public.api_keys where provider = 'openai' and is_valid) as keyed`;
        if (!keyed) {
          throw new ApiError(
            409,
            "No valid OpenAI key to embed with: add one (POST /keys) and your documents are embedded then",
          );
        }
        const rows = await tx`select private.queue_embedding(${EMBEDDING_MODEL}, ${id}::uuid) as id`;
        return { doc, queued: rows.length > 0 };
      });
      delete doc.object_path;
      return {
        status: 202,
        message: queued
          ? "Re-embedding queued"
          : "Nothing queued: every chunk has a vector of the current model, or re-embedding is already under way",
        data: doc,
      };
    },
  });

  route(app, {
    method: "delete",
    path: "/documents/:id",
    tag: "documents",
    summary:
      "Delete a document: its file, pages, chunks and job; citations in old answers keep their quote and say it is gone",
    auth: true,
    response: z.object({ id: Id }),
    errors: [401, 404],
    handler: async ({ c, db, params }) => {
      const id = pathId(params.id, "Document");
      const doc = await db((tx) => findDocument(tx, id));
      // Removing the object is the delete: the trigger on storage.objects removes the document with it.
      const { data, error } = await (await storageAs(c)).remove([doc.object_path]);
      if (error || !data?.length) throw notFound("Document");
      return { message: "Deleted", data: { id } };
    },
  });

  const AttachedDocument = Document.extend({ attached_at: z.string() });

  route(app, {
    method: "get",
    path: "/conversations/:id/documents",
    tag: "documents",
    summary: "Documents attached to a conversation (its answers draw on them)",
    auth: true,
    response: AttachedDocument.array(),
    errors: [401, 404],
    handler: async ({ db, params }) => {
      const id = pathId(params.id, "Conversation");
      const rows = await db(async (tx) => {
        if (!(await conversationExists(tx, id))) throw notFound("Conversation");
        return conversationDocuments(tx, id);
      });
      return {
        message: `${rows.length} documents attached`,
        data: rows,
        headers: { "X-Total-Count": String(rows.length) },
      };
    },
  });

  route(app, {
    method: "post",
    path: "/conversations/:id/documents",
    tag: "documents",
    summary: "Attach one of the caller's documents to a conversation",
    description: "201 when attached, 200 when it already was. A failed document cannot be attached (409).",
    auth: true,
    body: Attach,
    response: AttachedDocument.array(),
    status: 201,
    alsoOk: { 200: "It was already attached" },
    errors: [400, 401, 404, 409],
    invalidWhen: ["`document_id` is not an id (errors.document_id)"],
    statusText: { 409: "The document failed to ingest: it cannot be attached" },
    handler: async ({ db, params, body }) => {
      const id = pathId(params.id, "Conversation");
      const documentId = bodyId(body.document_id, "document_id")!;
      const { created, rows } = await db(async (tx) => {
        if (!(await conversationExists(tx, id))) throw notFound("Conversation");
        const doc = await findDocument(tx, documentId);
        if (doc.status === "failed") {
          throw new ApiError(409, `This document failed to ingest (${doc.failure_reason}); it cannot be attached`);
        }
        const created = await attachDocument(tx, id, documentId);
        return { created, rows: await conversationDocuments(tx, id) };
      });
      return { status: created ? 201 : 200, message: created ? "Attached" : "Already attached", data: rows };
    },
  });

  route(app, {
    method: "delete",
    path: "/conversations/:id/documents/:document_id",
    tag: "documents",
    summary: "Detach a document from a conversation (the document stays)",
    auth: true,
    response: z.object({ id: Id }),
    errors: [401, 404],
    handler: async ({ db, params }) => {
      const id = pathId(params.id, "Conversation");
      const documentId = pathId(params.document_id, "Document");
      const removed = await db((tx) => detachDocument(tx, id, documentId));
      if (!removed) throw notFound("Attached document");
      return { message: "Detached", data: { id: documentId } };
    },
  });
}
