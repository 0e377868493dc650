// An embedding call that keeps the key's budget: its worst case is reserved first
// (private.reserve_embedding, serialised per key with chat's reservations), then the call, then
// the real usage is recorded and the reservation released (private.settle_embedding), also for
// a failed call; a settlement lost with the database is retried in the background. When the
// budget cannot cover it there is no call at all: the caller searches lexically. Used by the
// ingest worker (as the document's owner) and the api function (as the caller).
import { keepAlive, reservationSeconds, RETRY_RECORDING_MS, retryInBackground } from "./background.ts";
import { asUserStatement, type Claims, isDatabaseUnavailable } from "./db.ts";
import { env } from "./env.ts";
import { embed, EMBEDDING_MODEL } from "./providers/embeddings.ts";
import { worstCaseEmbeddingTokens } from "./providers/estimate.ts";
import { ProviderError } from "./providers/errors.ts";

export type BudgetedEmbeddings =
  | { outcome: "embedded"; vectors: number[][] }
  /** The key's monthly budget could not cover the call: it was not made. */
  | { outcome: "over_budget" }
  /** The call failed (its attempt is recorded), or the key is no longer usable. */
  | { outcome: "failed"; kind: string };

/** What settling an embedding call records: private.settle_embedding's arguments after the model. */
export interface EmbeddingSettlement {
  reservationId: string;
  keyId: string;
  promptTokens: number;
  usageSource: "provider" | "estimated";
  latencyMs: number;
  errorCode: string | null;
}

/** The embeddings (or why there are none), settled: the usage is recorded and the reservation gone. */
export async function embedWithinBudget(
  owner: Claims,
  key: { id: string; apiKey: () => Promise<string> },
  inputs: string[],
  conversationId: string | null = null,
): Promise<BudgetedEmbeddings> {
  const { result, settlement } = await embedUnsettled(owner, key, inputs, conversationId);
  if (settlement) await settleEmbedding(owner, settlement);
  return result;
}

/**
 * Reserves and calls, but leaves the settlement to the caller, who sends it with its next
 * statement (private.ground_question) and, if that statement fails, with settleAfterFailure.
 * `settlement` is null when no call was made.
 */
export async function embedUnsettled(
  owner: Claims,
  key: { id: string; apiKey: () => Promise<string> },
  inputs: string[],
  conversationId: string | null = null,
): Promise<{ result: BudgetedEmbeddings; settlement: EmbeddingSettlement | null }> {
  let reservation: string | null;
  try {
    reservation = await asUserStatement(owner, async (sql, claims) => {
      const [row] = await sql`
        select private.reserve_embedding(${key.id}::uuid, ${conversationId}::uuid, ${EMBEDDING_MODEL},
          ${worstCaseEmbeddingTokens(inputs)}, ${reservationSeconds(env.providers.timeoutMs)}) as id
        from private.act_as(${claims})`;
      return row.id as string | null;
    });
  } catch (err) {
    // The key was deleted or found invalid since it was chosen: nothing to call with.
    if ((err as { code?: string }).code === "P0002") {
      return { result: { outcome: "failed", kind: "key_unavailable" }, settlement: null };
    }
    throw err;
  }
  if (!reservation) return { result: { outcome: "over_budget" }, settlement: null };

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
  return {
    result,
    settlement: {
      reservationId: reservation,
      keyId: key.id,
      promptTokens: tokens,
      usageSource: errorCode ? "estimated" : "provider",
      latencyMs: Date.now() - started,
      errorCode,
    },
  };
}

// Settling twice records once (private.settled_embeddings), so an unconfirmed one can be resent.
const settle = (owner: Claims, s: EmbeddingSettlement) =>
  asUserStatement(
    owner,
    (sql, claims) =>
      sql`select private.settle_embedding(${s.reservationId}::uuid, ${s.keyId}::uuid, ${EMBEDDING_MODEL}, ${s.promptTokens},
         ${s.usageSource}, ${s.latencyMs}, ${s.errorCode})
       from private.act_as(${claims})`,
  );

/**
 * Records the call's usage and releases its reservation. With the database gone the call is
 * billed once it is back (retried in the background) and the caller fails with the database
 * (503 / the batch is tried again).
 */
async function settleEmbedding(owner: Claims, s: EmbeddingSettlement) {
  try {
    await settle(owner, s);
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    keepAlive(retryInBackground("settling an embedding call", () => settle(owner, s), RETRY_RECORDING_MS));
    throw err;
  }
}

/**
 * The statement that was to carry the settlement failed (`cause`), and the settlement with it:
 * settled on its own now, or in the background while the database is gone. Never throws: the
 * caller rethrows `cause`.
 */
export async function settleAfterFailure(owner: Claims, s: EmbeddingSettlement, cause: unknown) {
  if (!isDatabaseUnavailable(cause)) {
    try {
      await settle(owner, s);
      return;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) {
        console.error(
          `settling an embedding call failed: ${(err as Error).name} ${(err as { code?: string }).code ?? ""}`,
        );
        return;
      }
    }
  }
  keepAlive(retryInBackground("settling an embedding call", () => settle(owner, s), RETRY_RECORDING_MS));
}
