// What both adapters do around a provider call: a deadline, turning any failure into a
// classified ProviderError (with the text so far when a stream broke after the provider
// accepted it), and noticing a stream that ended without the provider saying it was done.
import { abortFacts, Deadline } from "./deadline.ts";
import { type FailureFacts, ProviderError, providerError } from "./errors.ts";
import { estimatedUsage } from "./estimate.ts";
import type { ChatRequest, ChatResult, ProviderName, StreamEvent, Usage } from "./types.ts";

export interface CallSetup {
  provider: ProviderName;
  timeoutMs: number;
  /** The SDK's error, as facts the classifier understands. */
  facts: (err: unknown) => FailureFacts;
}

function failure(
  setup: CallSetup,
  err: unknown,
  req: { apiKey: string; signal?: AbortSignal },
  deadline: Deadline,
  partial?: ChatResult,
) {
  return err instanceof ProviderError
    ? err
    : providerError(setup.provider, abortFacts(deadline, req.signal) ?? setup.facts(err), req.apiKey, partial);
}

/** One request/response call (a plain answer, a key validation) under the deadline. */
export async function call<T>(
  setup: CallSetup,
  req: { apiKey: string; signal?: AbortSignal },
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new Deadline(setup.timeoutMs, req.signal);
  try {
    return await run(deadline.signal);
  } catch (err) {
    throw failure(setup, err, req, deadline);
  } finally {
    deadline.clear();
  }
}

/** What a stream has delivered so far; the adapter's `read` updates it for each event. */
export interface StreamState {
  text: string;
  model: string;
  /** The provider said the answer is complete. */
  finished: boolean;
  /** Usage the provider reported (OpenAI's last chunk, Anthropic's message_delta). */
  usage?: Usage;
  /** Prompt-side usage known before the end (Anthropic's message_start). */
  known?: { promptTokens?: number; cachedPromptTokens?: number };
}

/**
 * A streamed answer: yields deltas, then `done`. `read` takes one SDK event, updates the state
 * and returns the text it adds. A break after the provider accepted the request throws with
 * the text so far and estimated usage.
 */
export async function* stream<E>(
  setup: CallSetup,
  req: ChatRequest,
  open: (signal: AbortSignal) => Promise<AsyncIterable<E>>,
  read: (event: E, state: StreamState) => string | undefined,
): AsyncGenerator<StreamEvent> {
  const deadline = new Deadline(setup.timeoutMs, req.signal);
  const state: StreamState = { text: "", model: req.model, finished: false };
  let accepted = false;
  const partial = (): ChatResult => ({
    text: state.text,
    model: state.model,
    usage: estimatedUsage(req, state.text, state.known),
  });
  try {
    const events = await open(deadline.signal);
    accepted = true;
    for await (const event of events) {
      const delta = read(event, state);
      if (delta) {
        state.text += delta;
        deadline.clear(); // the consumer's pace is not the provider's
        yield { type: "delta", text: delta };
      }
      deadline.touch();
    }
  } catch (err) {
    throw failure(setup, err, req, deadline, accepted ? partial() : undefined);
  } finally {
    deadline.clear();
  }
  // The SDKs end the iteration quietly when the request is aborted or the body just stops.
  if (!state.finished) {
    throw failure(setup, new Error("the stream ended before the answer was complete"), req, deadline, partial());
  }
  yield {
    type: "done",
    result: {
      text: state.text,
      model: state.model,
      usage: state.usage ?? estimatedUsage(req, state.text, state.known),
    },
  };
}

/** The provider's Retry-After (seconds or an HTTP date), as whole seconds; undefined when absent or unreadable. */
export function retryAfterSeconds(
  headers: Headers | Record<string, string | null | undefined> | undefined,
): number | undefined {
  const raw = headers instanceof Headers ? headers.get("retry-after") : headers?.["retry-after"];
  if (!raw) return undefined;
  const seconds = /^\d+$/.test(raw.trim()) ? Number(raw) : Math.ceil((Date.parse(raw) - Date.now()) / 1000);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 86_400) : undefined;
}
