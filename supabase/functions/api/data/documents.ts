// SQL for documents and their attachment to conversations. Runs in the caller's transaction
// (RLS applies): another user's document is simply not there.
import type { Tx } from "../../_shared/db.ts";
import { notFound } from "../../_shared/http.ts";

const columns = (a: string) =>
  [
    "id",
    "filename",
    "size_bytes",
    "content_sha256",
    "status",
    "failure_reason",
    "duplicate_of",
    "pages_total",
    "pages_done",
    "pages_without_text",
    "chunk_count",
    "embedding_model",
    "embeddings_skipped",
    "created_at",
    "updated_at",
    "ready_at",
  ].map((c) => a + c).join(", ") +
  `, case when ${a}pages_total > 0 then round(100.0 * ${a}pages_done / ${a}pages_total)::int when ${a}status = 'ready' then 100 else 0 end as progress_percent`;

export const DOCUMENT_COLUMNS = columns("");

export async function findDocument(tx: Tx, id: string) {
  const [row] = await tx.unsafe(`select ${DOCUMENT_COLUMNS}, object_path from public.documents where id = $1`, [id]);
  if (!row) throw notFound("Document");
  return row;
}

export function documentBySha256(tx: Tx, sha256: string) {
  return tx.unsafe(
    `select ${DOCUMENT_COLUMNS} from public.documents where content_sha256 = $1 order by duplicate_of nulls first, created_at limit 1`,
    [sha256],
  );
}

export async function listDocuments(tx: Tx, page: { limit: number; offset: number }) {
  const rows = await tx.unsafe(
    `select ${DOCUMENT_COLUMNS} from public.documents order by created_at desc, id desc limit $1 offset $2`,
    [page.limit, page.offset],
  );
  const [{ total }] = await tx`select count(*)::int as total from public.documents`;
  return { rows, total: total as number };
}

export function conversationDocuments(tx: Tx, conversationId: string) {
  return tx.unsafe(
    `select ${columns("d.")}, cd.created_at as attached_at
     from public.conversation_documents cd join public.documents d on d.id = cd.document_id
     where cd.conversation_id = $1 order by cd.created_at, d.id`,
    [conversationId],
  );
}

/** Attaches; true if it was new. The foreign keys (with user_id) refuse another user's document or conversation. */
export async function attachDocument(tx: Tx, conversationId: string, documentId: string): Promise<boolean> {
  const rows = await tx`
    insert into public.conversation_documents (conversation_id, document_id) values (${conversationId}, ${documentId})
    on conflict do nothing returning 1`;
  return rows.length > 0;
}

export async function detachDocument(tx: Tx, conversationId: string, documentId: string): Promise<boolean> {
  const rows =
    await tx`delete from public.conversation_documents where conversation_id = ${conversationId} and document_id = ${documentId} returning 1`;
  return rows.length > 0;
}

export async function conversationExists(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx`select 1 from public.conversations where id = ${id}`;
  return rows.length > 0;
}
