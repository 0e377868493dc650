// An embedding call that keeps the key's budget: its worst case is reserved first
// (private.reserve_embedding, serialised per key with chat's reservations), then the call, then
// the real usage is recorded and the reservation released (private.settle_embedding), also for
// a failed call; a settlement lost with the database is retried in the background. When the
// budget cannot cover it there is no call at all: the caller searches lexically. Used by the
// ingest worker (as the document's owner) and the api function (as the caller).
import { keepAlive, reservationSeconds, RETRY_RECORDING_MS, retryInBackground } from "./background.ts";
import { asUser, type Claims, isDatabaseUnavailable } from "./db.ts";
import { env } from "./env.ts";
import { embed, EMBEDDING_MODEL, worstCaseEmbeddingTokens } from "./providers/embeddings.ts";
import { ProviderError } from "./providers/errors.ts";

export type BudgetedEmbeddings =
  | { outcome: "embedded"; vectors: number[][] }
  /** The key's monthly budget could not cover the call: it was not made. */
  | { outcome: "over_budget" }
  /** The call failed (its attempt is recorded), or the key is no longer usable. */
  | { outcome: "failed"; kind: string };

export async function embedWithinBudget(
  owner: Claims,
  key: { id: string; apiKey: () => Promise<string> },
  inputs: string[],
  conversationId: string | null = null,
): Promise<BudgetedEmbeddings> {
  let reservation: string | null;
  try {
    reservation = await asUser(owner, async (tx) => {
      const [row] = await tx`
        select private.reserve_embedding(${key.id}::uuid, ${conversationId}::uuid, ${EMBEDDING_MODEL},
          ${worstCaseEmbeddingTokens(inputs)}, ${reservationSeconds(env.providers.timeoutMs)}) as id`;
      return row.id as string | null;
    });
  } catch (err) {
    // The key was deleted or found invalid since it was chosen: nothing to call with.
    if ((err as { code?: string }).code === "P0002") return { outcome: "failed", kind: "key_unavailable" };
    throw err;
  }
  if (!reservation) return { outcome: "over_budget" };

  const started = Date.now();
  let result: BudgetedEmbeddings;
  let tokens = 0;
  try {
    const res = await embed(env.providers, await key.apiKey(), inputs);
    tokens = res.promptTokens;
    result = { outcome: "embedded", vectors: res.vectors };
  } catch (err) {
    result = { outcome: "failed", kind: err instanceof ProviderError ? err.kind : "unavailable" };
  }
  const errorCode = result.outcome === "failed" ? result.kind : null;
  const latencyMs = Date.now() - started;
  // Settling twice records once (private.settled_embeddings), so an unconfirmed one can be resent.
  const settle = () =>
    asUser(owner, (tx) =>
      tx`select private.settle_embedding(${reservation}::uuid, ${key.id}::uuid, ${EMBEDDING_MODEL}, ${tokens},
           ${errorCode ? "estimated" : "provider"}, ${latencyMs}, ${errorCode})`);
  try {
    await settle();
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    // The call happened and may have cost money: it is billed once the database is back. The
    // caller fails with the database (503 / the batch is tried again).
    keepAlive(retryInBackground("settling an embedding call", settle, RETRY_RECORDING_MS));
    throw err;
  }
  return result;
}
