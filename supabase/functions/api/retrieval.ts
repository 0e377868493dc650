// Retrieval for a question in a conversation with documents: the question's embedding (when
// the owner has an OpenAI key and its budget covers it: reserved, then billed as usage), the hybrid search in SQL
// (private.search_conversation_chunks), and the numbered sources the model is given.
import { embedWithinBudget } from "../_shared/budgeted-embed.ts";
import type { Claims } from "../_shared/db.ts";
import { env } from "../_shared/env.ts";
import { EMBEDDING_MODEL, vectorLiteral } from "../_shared/providers/embeddings.ts";
import type { RouteContext } from "./route.ts";
import { SecretBox } from "../_shared/secrets.ts";

export const SOURCES_PER_ANSWER = 6;

export interface Source {
  n: number;
  chunk_id: number;
  document_id: string;
  filename: string;
  page: number;
  start_offset: number;
  end_offset: number;
  content: string;
  /** The whole page's stored text, which citations are checked against. */
  page_text: string;
}

export interface Grounding {
  sources: Source[];
  /** How the question was searched: lexical only, or with its embedding too. */
  mode: "hybrid" | "lexical";
}

const boxPromise = SecretBox.fromBase64(env.encryptionKey);

/**
 * Null when the conversation has no documents attached. `db` is the route's transaction as the
 * caller (session checked); the embedding call happens outside any transaction.
 */
export async function groundQuestion(db: RouteContext<unknown, unknown>["db"], user: Claims, conversationId: string, question: string): Promise<Grounding | null> {
  const setup = await db(async (tx) => {
    const [{ attached }] = await tx`select count(*)::int as attached from public.conversation_documents where conversation_id = ${conversationId}`;
    if (!attached) return null;
    const [key] = await tx`
      select k.id, private.api_key_secret(k.id) as ciphertext from public.api_keys k
      where k.provider = 'openai' and k.is_valid
      order by k.is_selected desc, k.last_used_at desc nulls last, k.created_at desc limit 1`;
    return { key: key as { id: string; ciphertext: string } | undefined };
  });
  if (!setup) return null;

  let embedding: string | null = null;
  if (setup.key) {
    const ciphertext = setup.key.ciphertext;
    // Reserved against the key's budget first; a question the budget cannot cover is searched
    // lexically, with no provider call. A failed call is recorded and searched lexically too.
    const res = await embedWithinBudget(user, { id: setup.key.id, apiKey: async () => await (await boxPromise).decrypt(ciphertext) }, [question], conversationId);
    if (res.outcome === "embedded") embedding = vectorLiteral(res.vectors[0]);
  }

  const rows = await db((tx) => tx`
    select s.chunk_id, s.document_id, d.filename, s.page_number as page, s.start_offset, s.end_offset, s.content, p.text as page_text
    from private.search_conversation_chunks(${conversationId}::uuid, ${question}, ${embedding}::extensions.vector, ${SOURCES_PER_ANSWER}, ${EMBEDDING_MODEL}) s
    join public.documents d on d.id = s.document_id
    join public.document_pages p on p.document_id = s.document_id and p.page_number = s.page_number
    order by s.score desc, s.chunk_id`);
  return {
    mode: embedding ? "hybrid" : "lexical",
    sources: rows.map((r, i) => ({ n: i + 1, ...r }) as unknown as Source),
  };
}

/** What the model is told, appended to the conversation's own system prompt. */
export function sourcesPrompt(grounding: Grounding): string {
  if (!grounding.sources.length) {
    return "The user's documents were searched and nothing matched this question; say so if the answer depends on them.";
  }
  const list = grounding.sources.map((s) => `[${s.n}] (${s.filename}, page ${s.page}) ${s.content.replace(/\s+/g, " ")}`).join("\n");
  return [
    "Answer from the numbered sources below, taken from the user's documents, when they are relevant.",
    "After each statement drawn from a source, cite it as [n]. When you quote, copy the words exactly,",
    'in double quotes followed by the marker, like "exact words" [n]. Do not cite sources you did not use.',
    "",
    "Sources:",
    list,
  ].join("\n");
}
