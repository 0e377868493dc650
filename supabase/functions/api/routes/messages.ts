import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { type Claims, isDatabaseUnavailable, rawNumber } from "../../_shared/db.ts";
import { ApiError, envelope, JsonText, notFound } from "../../_shared/http.ts";
import type { ChatResult } from "../../_shared/providers/types.ts";
import { storeExtractiveExchange } from "../answers.ts";
import { keepAlive } from "../../_shared/background.ts";
import {
  failExchange,
  loadExchange,
  NoKeyError,
  type PreparedExchange,
  prepareExchange,
  storeAnswer,
} from "../chat.ts";
import { groundQuestion } from "../retrieval.ts";
import { pathId } from "../ids.ts";
import { route } from "../route.ts";
import { Exchange, Message, MessageCreate, Pagination, StreamError } from "../schemas.ts";
import { z } from "zod";

/** Server-Sent Events: `delta` events, then `done` with the stored exchange, or `error` with the envelope. */
function streamExchange(c: Context, user: Claims, ex: PreparedExchange): Response {
  // A client that leaves does not stop the exchange: writes to a closed stream are dropped, and it runs to the end and is stored.
  return streamSSE(c, (stream) => {
    const send = (event: string, data: unknown) => stream.writeSSE({ event, data: JSON.stringify(data) });
    const work = (async () => {
      const started = performance.now();
      await send("start", { user_message: ex.userMessage });
      const fail = (failure: ApiError) =>
        send("error", { ...envelope(false, failure.message, null, failure.errors), status: failure.status });
      try {
        let result: ChatResult | null = null;
        try {
          for await (const event of ex.provider.chatStream(ex.request)) {
            if (event.type === "delta") await send("delta", { text: event.text });
            else result = event.result;
          }
          if (!result) throw new Error("stream ended without a result");
        } catch (err) {
          return await fail(await failExchange(user, ex, err, Math.round(performance.now() - started)));
        }
        await send("done", await storeAnswer(user, ex, result, Math.round(performance.now() - started)));
      } catch (err) {
        // Bookkeeping that failed (the database gone while recording a provider failure): say so.
        if (err instanceof ApiError) await fail(err);
        else if (isDatabaseUnavailable(err)) {
          await fail(new ApiError(503, "The database is unavailable; retry shortly"));
        } else {
          await fail(new ApiError(500, "Internal error"));
          throw err;
        }
      }
    })().catch((err) => console.error(`stream bookkeeping failed: ${(err as Error).name}`));
    keepAlive(work);
    return work;
  });
}

/** An exchange already complete, as the same SSE events a streamed answer ends with. */
// deno-lint-ignore no-explicit-any
function streamStored(c: Context, stored: { user_message: unknown; assistant_message: any }): Response {
  return streamSSE(c, async (stream) => {
    await stream.writeSSE({ event: "start", data: JSON.stringify({ user_message: stored.user_message }) });
    await stream.writeSSE({ event: "delta", data: JSON.stringify({ text: stored.assistant_message.content }) });
    await stream.writeSSE({ event: "done", data: JSON.stringify(stored) });
  });
}

function wantsStream(c: Context, stream: boolean | undefined) {
  return stream ?? (c.req.header("accept") ?? "").includes("text/event-stream");
}

export function messageRoutes(app: Hono) {
  route(app, {
    method: "get",
    path: "/conversations/:id/messages",
    tag: "messages",
    summary: "A conversation's messages, oldest first",
    description: "Paginated with limit/offset; X-Total-Count carries the total.",
    auth: true,
    query: Pagination,
    response: Message.array(),
    handler: async ({ call, params, query }) => {
      const id = pathId(params.id, "Conversation");
      const [page] = await call((sql, claims) =>
        sql`select total, items, data from private.list_messages(${claims}, ${id}::uuid, ${query.limit}, ${query.offset})`
          .raw()
      );
      if (!page) throw notFound("Conversation");
      const [total, items, data] = page;
      const count = rawNumber(total);
      return {
        message: `${rawNumber(items)} of ${count} messages`,
        data: new JsonText(data),
        headers: { "X-Total-Count": String(count) },
      };
    },
  });

  route(app, {
    method: "post",
    path: "/conversations/:id/messages",
    tag: "messages",
    summary: "Send a message and get the answer",
    description:
      "Stores the message, answers it with the conversation's key (else the selected key), stores the answer and its usage. " +
      "With `stream: true` or `Accept: text/event-stream` the answer streams as Server-Sent Events: `start`, `delta`…, then `done` (the stored exchange) or `error`. " +
      "In a conversation with documents attached, the best passages go to the model as numbered sources and the answer carries `citations` " +
      "(quotes checked against the stored pages); with no key at all, the answer is extractive: the passages themselves, with their pages.",
    auth: true,
    body: MessageCreate,
    response: Exchange,
    status: 201,
    streams: {
      description:
        "With `stream: true` or `Accept: text/event-stream`: Server-Sent Events: `start` (the stored question), `delta`… (the answer's text as it comes), " +
        "then `done` with the stored exchange, or `error` with the envelope and its HTTP status",
      events: {
        start: z.object({ user_message: Message }),
        delta: z.object({ text: z.string() }),
        done: Exchange,
        error: StreamError,
      },
    },
    errors: [400, 401, 404, 409, 413, 415, 422, 429, 502, 503, 504],
    invalidWhen: [
      "no key to answer with: none registered or selected, and no documents attached",
      "the conversation's key was rejected by its provider earlier (is_valid false)",
      "a model without a price on a key with a monthly budget (errors.model)",
      "the provider refused the request, e.g. an unknown model (errors.kind bad_request)",
    ],
    statusText: {
      409: "The message was deleted while it was being answered: the answer is discarded, the call billed",
      429: "The provider's rate limit or quota (Retry-After), or the key's monthly budget",
      503:
        "The database is unavailable; the provider's answer, or its failure (errors.kind), is recorded once it is back (errors.user_message_id; the message shows pending until then)",
    },
    handler: async ({ c, caller, user, params, body }) => {
      const id = pathId(params.id, "Conversation");
      // One statement: the conversation (404), its key, whether documents are attached (and the OpenAI key to embed with), the history.
      const setup = await loadExchange(caller, id);
      // Documents attached: retrieve passages for the model (and cite them), or answer extractively without a key.
      const embeddingKey = setup.embedding_key_id
        ? { id: setup.embedding_key_id, ciphertext: setup.embedding_key_ciphertext as string }
        : null;
      const grounding = setup.documents_attached
        ? await groundQuestion(caller, user, id, body.message, embeddingKey)
        : null;
      let ex: PreparedExchange;
      try {
        ex = await prepareExchange(caller, setup, id, body.message, body.model, grounding);
      } catch (err) {
        if (!(err instanceof NoKeyError && grounding)) throw err;
        const stored = await storeExtractiveExchange(caller, id, body.message, grounding);
        return wantsStream(c, body.stream)
          ? streamStored(c, stored)
          : { status: 201, message: "Answered extractively (no API key)", data: stored };
      }
      if (wantsStream(c, body.stream)) return streamExchange(c, user, ex);
      const started = performance.now();
      let result: ChatResult;
      try {
        result = await ex.provider.chat(ex.request);
      } catch (err) {
        throw await failExchange(user, ex, err, Math.round(performance.now() - started));
      }
      const data = await storeAnswer(user, ex, result, Math.round(performance.now() - started));
      return { status: 201, message: "Answered", data };
    },
  });
}
