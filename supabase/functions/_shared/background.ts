// Work that outlives its request: writing down a provider call the database could not take
// when it happened (an answer, an embedding call's usage), once the database is back.

declare const EdgeRuntime: { waitUntil(p: Promise<unknown>): void } | undefined;

/** Keeps work running after the response is done (hosted: EdgeRuntime.waitUntil; locally the process lives on). */
export function keepAlive(work: Promise<unknown>) {
  if (typeof EdgeRuntime !== "undefined") EdgeRuntime.waitUntil(work);
}

/** How long recording a provider call the database did not take is retried: an answer, an embedding call's usage. */
export const RETRY_RECORDING_MS = 120_000;

/**
 * How long a budget reservation holds: the provider call and its one retry (twice the timeout),
 * the background retry of its recording, and a minute. It must outlive every way its call can
 * still be billed, or the budget it holds could be promised twice.
 */
export const reservationSeconds = (providerTimeoutMs: number) =>
  Math.ceil((2 * providerTimeoutMs + RETRY_RECORDING_MS) / 1000) + 60;

/**
 * Tries `attempt` again, after 250 ms and then twice as long each time (up to 5 s), until it
 * succeeds or `giveUpMs` has passed. `what` names it in the log lines (no data of the call).
 * Resolves to whether it succeeded.
 */
export async function retryInBackground(
  what: string,
  attempt: () => Promise<unknown>,
  giveUpMs: number,
): Promise<boolean> {
  const giveUpAt = Date.now() + giveUpMs;
  for (let delay = 250; Date.now() < giveUpAt; delay = Math.min(delay * 2, 5_000)) {
    await new Promise((r) => setTimeout(r, delay));
    try {
      await attempt();
      console.error(`${what}: done on retry`);
      return true;
    } catch (err) {
      console.error(`${what}: failed again: ${(err as Error).name} ${(err as { code?: string }).code ?? ""}`);
    }
  }
  console.error(`${what}: gave up`);
  return false;
}
