// Retrieval for a question in a conversation with documents: the question's embedding (when
// the owner has an OpenAI key and its budget covers it: reserved, then billed as usage), then one
// statement, private.ground_question, that settles the embedding call and runs the hybrid search
// in SQL (private.search_conversation_chunks), and the numbered sources the model is given.
import { type EmbeddingSettlement, embedUnsettled, settleAfterFailure } from "../_shared/budgeted-embed.ts";
import type { CallerDb, Claims } from "../_shared/db.ts";
import { EMBEDDING_MODEL, vectorLiteral } from "../_shared/providers/embeddings.ts";
import { secretBox } from "../_shared/secret-box.ts";

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

/** The owner's OpenAI key to embed the question with, as private.prepare_exchange returned it. */
export interface EmbeddingKey {
  id: string;
  ciphertext: string;
}

/**
 * For a conversation with documents attached (prepare_exchange said so and returned the owner's
 * OpenAI key, if any). The embedding call happens outside any transaction; its settlement goes
 * with the search, in one statement as the caller (session checked).
 */
export async function groundQuestion(
  db: CallerDb,
  user: Claims,
  conversationId: string,
  question: string,
  embeddingKey: EmbeddingKey | null,
): Promise<Grounding> {
  let embedding: string | null = null;
  let settlement: EmbeddingSettlement | null = null;
  if (embeddingKey) {
    const ciphertext = embeddingKey.ciphertext;
    // Reserved against the key's budget first; a question the budget cannot cover is searched
    // lexically, with no provider call. A failed call is recorded and searched lexically too.
    const embedded = await embedUnsettled(
      user,
      { id: embeddingKey.id, apiKey: async () => await (await secretBox()).decrypt(ciphertext) },
      [question],
      conversationId,
    );
    settlement = embedded.settlement;
    if (embedded.result.outcome === "embedded") embedding = vectorLiteral(embedded.result.vectors[0]);
  }

  let rows;
  try {
    rows = await db.statement((sql, claims) =>
      sql`
      select chunk_id, document_id, filename, page, start_offset, end_offset, content, page_text
      from private.ground_question(${claims}, ${conversationId}::uuid, ${question}, ${embedding}::extensions.vector,
        ${SOURCES_PER_ANSWER}, ${EMBEDDING_MODEL}, ${settlement?.reservationId ?? null}::uuid, ${
        settlement?.keyId ?? null
      }::uuid,
        ${settlement?.promptTokens ?? null}::integer, ${settlement?.usageSource ?? null}, ${
        settlement?.latencyMs ?? null
      }::integer,
        ${settlement?.errorCode ?? null})`
    );
  } catch (err) {
    // The settlement went down with the search: the call is billed all the same.
    if (settlement) await settleAfterFailure(user, settlement, err);
    throw err;
  }
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
  const list = grounding.sources.map((s) =>
    `[${s.n}] (${s.filename}, page ${s.page}) ${s.content.replace(/\s+/g, " ")}`
  ).join("\n");
  return [
    "Answer from the numbered sources below, taken from the user's documents, when they are relevant.",
    "After each statement drawn from a source, cite it as [n]. When you quote, copy the words exactly,",
    'in double quotes followed by the marker, like "exact words" [n]. Do not cite sources you did not use.',
    "",
    "Sources:",
    list,
  ].join("\n");
}
