// Helpers for the PDF suites: upload through the API, wait for ingestion, read SSE.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { ANON_KEY, API_URL } from "./env.ts";
import { eventually, parseSse } from "./providers.ts";
import { db, type TestUser } from "./users.ts";

export function storageOf(user?: TestUser): ReturnType<SupabaseClient["storage"]["from"]> {
  return createClient(API_URL, ANON_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: user ? { headers: { Authorization: `Bearer ${user.token}` } } : {},
  }).storage.from("documents");
}

/** POST /documents as multipart (the default) or as an application/pdf body. */
export async function uploadPdf(
  user: TestUser,
  bytes: Uint8Array<ArrayBuffer>,
  filename: string,
  as: "multipart" | "body" = "multipart",
) {
  let res: Response;
  if (as === "multipart") {
    const form = new FormData();
    form.set("file", new Blob([bytes], { type: "application/pdf" }), filename);
    res = await fetch(`${API_URL}/api/v1/documents`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}` },
      body: form,
    });
  } else {
    res = await fetch(`${API_URL}/api/v1/documents?filename=${encodeURIComponent(filename)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/pdf" },
      body: bytes,
    });
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* keep text */ }
  // deno-lint-ignore no-explicit-any
  return { status: res.status, body: body as any };
}

/** Waits until the document is ready or failed; returns its row. */
export function settled(documentId: string, timeoutMs = 60_000) {
  return eventually(async () => {
    const [row] =
      await db`select status, failure_reason, pages_total, pages_done, pages_without_text, chunk_count, embedding_model, duplicate_of
                           from public.documents where id = ${documentId}`;
    return row && (row.status === "ready" || row.status === "failed") ? row : undefined;
  }, timeoutMs);
}

export async function readSse(path: string, token: string) {
  const res = await fetch(`${API_URL}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", events: parseSse(text), text };
}
