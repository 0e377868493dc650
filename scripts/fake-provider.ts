// A local fake LLM provider for tests and offline demos. It speaks just enough of the OpenAI
// and Anthropic HTTP APIs (same paths, headers, JSON and SSE shapes) for the official SDKs to
// talk to it through a configured base URL:
//   OpenAI     POST /v1/chat/completions (plain, or `stream: true` SSE; a usage chunk at the end
//              when `stream_options.include_usage`), GET /v1/models. Auth: `Authorization: Bearer <key>`.
//   Anthropic  POST /v1/messages (plain, or streaming SSE: message_start, content_block_start,
//              ping, content_block_delta*, content_block_stop, message_delta, message_stop),
//              GET /v1/models. Auth: `x-api-key: <key>` plus `anthropic-version` (else 400).
//              GET /v1/models is Anthropic's when the request carries `x-api-key`, else OpenAI's.
//   GET /health -> 200.
//
// Embeddings are hashed word vectors: each lower-cased word (and each 3-character piece of it,
// at a third of the weight, so inflected forms stay close) adds ±1 at a position chosen by its
// hash; the vector is L2-normalised. Texts sharing words are near, others nearly orthogonal.
// `dimensions` is honoured (default 1536); an input over 8,192 tokens is refused (400), as
// OpenAI does. Usage: prompt tokens by the token rule below.
//
// With sources: when the system prompt lists numbered sources (`[1] (file, page N) text`), the
// answer quotes the sentence of source 1 sharing most words with the question as `"..." [1]`. A question containing
// `misquote` gets that quote with its case and spacing changed; one containing `fabricate`
// gets a quote that is in no source.
//
// Answers are deterministic: the text is `Echo: <last user message>` (cut to max_tokens by the
// token rule if longer), the model is echoed back. Usage: prompt tokens by the token rule of
// the system prompt and all input messages, completion tokens of the answer, each at least 1.
//
// TOKEN RULE: a quarter token per ASCII character (rounded up), one per other character (about
// what GPT-4o's tokenizer gives Hangul; English at four characters a token). So Korean costs
// what it really does, more than "characters / 4", and a reservation made from that would show.
//
// KEY RULE (tests rely on it):
//   - OpenAI keys must start with `sk-` (and not `sk-ant-`), Anthropic keys with `sk-ant-`, and
//     both must be at least 20 characters; otherwise 401 with the provider's error JSON. The
//     OpenAI 401 message echoes the full key on purpose, to prove that callers scrub it.
//   - Switches by key content (they apply to GET /v1/models too, unless noted):
//       -fail401  401 (OpenAI invalid_api_key, Anthropic authentication_error)
//       -fail429  429 rate limit (OpenAI code rate_limit_exceeded, Anthropic rate_limit_error)
//       -quota    OpenAI 429 insufficient_quota; Anthropic 400 "Your credit balance is too low..."
//       -fail500  500 (OpenAI server_error, Anthropic api_error)
//       -fail529  Anthropic 529 overloaded_error (the OpenAI endpoints answer 503, OpenAI's overload)
//       -slow     wait FAKE_SLOW_MS (default 3000) ms before answering
//       -cut      streams: send two deltas, then drop the connection without the final events;
//                 non-streams: send the headers, then drop the connection without a body
//       -drip     streams: each frame waits DRIP_MS (40) after the one before, as a model writing
//                 word by word does (a client can be seen streaming, and stopped halfway)
//       -cached   report half of the prompt tokens (rounded down) as cache reads
//                 (OpenAI prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens)
//       -chatonly the switches above apply only to chat/messages, so GET /v1/models accepts the key
//                 (lets an API store a key whose messages then fail)
//   - The model `unknown-model` -> 404 (OpenAI model_not_found, Anthropic not_found_error).
//
// Run: deno run --allow-net --allow-env scripts/fake-provider.ts  (env PORT, default 54329; PORT=0
// picks a free port; the first stdout line is `fake provider listening on http://127.0.0.1:<port>`).

type Flavor = "openai" | "anthropic";
type Msg = { role?: unknown; content?: unknown };

const enc = new TextEncoder();

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function providerError(flavor: Flavor, status: number, type: string, message: string, code: string | null = null) {
  const extra: Record<string, string> = status === 429 ? { "retry-after": "1" } : {};
  if (flavor === "openai") return json(status, { error: { message, type, param: null, code } }, extra);
  return json(status, { type: "error", error: { type, message }, request_id: "req_fake" }, extra);
}

function unauthorized(flavor: Flavor, key: string): Response {
  if (flavor === "anthropic") return providerError(flavor, 401, "authentication_error", "invalid x-api-key");
  return providerError(
    flavor,
    401,
    "invalid_request_error",
    `Incorrect API key provided: ${key}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    "invalid_api_key",
  );
}

function keyIsWellFormed(flavor: Flavor, key: string): boolean {
  if (key.length < 20) return false;
  return flavor === "anthropic" ? key.startsWith("sk-ant-") : key.startsWith("sk-") && !key.startsWith("sk-ant-");
}

function switchedFailure(flavor: Flavor, key: string): Response | null {
  const openai = flavor === "openai";
  if (key.includes("-fail401")) return unauthorized(flavor, key);
  if (key.includes("-fail429")) {
    return openai
      ? providerError(flavor, 429, "requests", "Rate limit reached for requests (fake).", "rate_limit_exceeded")
      : providerError(flavor, 429, "rate_limit_error", "Number of requests has exceeded your rate limit (fake).");
  }
  if (key.includes("-quota")) {
    return openai
      ? providerError(
        flavor,
        429,
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
      )
      : providerError(
        flavor,
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
      );
  }
  if (key.includes("-fail500")) {
    return openai
      ? providerError(
        flavor,
        500,
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
      )
      : providerError(flavor, 500, "api_error", "Internal server error");
  }
  if (key.includes("-fail529")) {
    return openai
      ? providerError(flavor, 503, "server_error", "The engine is currently overloaded, please try again later.")
      : providerError(flavor, 529, "overloaded_error", "Overloaded");
  }
  return null;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (part && typeof part.text === "string" ? part.text : "")).join("");
  }
  return "";
}

const tokens = (text: string) => {
  let ascii = 0, other = 0;
  for (const ch of text) ch.codePointAt(0)! < 0x80 ? ascii++ : other++;
  return Math.max(1, Math.ceil(ascii / 4) + other);
};

/** The longest start of `text` (whole characters) of at most `limit` tokens. */
function within(text: string, limit: number): string {
  let ascii = 0, other = 0, end = 0;
  for (const ch of text) {
    ch.codePointAt(0)! < 0x80 ? ascii++ : other++;
    if (Math.ceil(ascii / 4) + other > limit) break;
    end += ch.length;
  }
  return text.slice(0, end);
}

// Splits into word-sized deltas, e.g. "Echo: hi there" -> ["Echo: ", "hi ", "there"].
const pieces = (text: string) => text.match(/\S+\s*|\s+/g) ?? [""];

interface Turn {
  model: string;
  text: string;
  truncated: boolean;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

function answer(model: string, system: string, messages: Msg[], maxTokens: unknown, key: string): Turn {
  const input = system + messages.map((m) => textOf(m.content)).join("");
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const question = lastUser ? textOf(lastUser.content) : "";
  let text = `Echo: ${question}` + citedSentence(system, question);
  const limit = typeof maxTokens === "number" && maxTokens > 0 ? maxTokens : Infinity;
  const truncated = tokens(text) > limit;
  if (truncated) text = within(text, limit);
  const promptTokens = tokens(input);
  const cachedTokens = key.includes("-cached") ? Math.floor(promptTokens / 2) : 0;
  return { model, text, truncated, promptTokens, cachedTokens, completionTokens: tokens(text) };
}

function citedSentence(system: string, question: string): string {
  const source = system.match(/^\[1\] \([^)]*\) ([\s\S]*?)(?=\n\[\d+\] \(|$)/m);
  if (!source) return "";
  // The sentence of source 1 sharing most words with the question (the first on a tie).
  const words = new Set(question.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
  const sentences = source[1].match(/[^.!?。]+[.!?。]*/gu) ?? [source[1]];
  const shared = (s: string) => (s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => words.has(w)).length;
  const best = sentences.reduce((a, b) => (shared(b) > shared(a) ? b : a));
  let quote = best.replace(/\s+/g, " ").trim();
  if (question.includes("misquote")) quote = quote.toUpperCase().replace(/ /g, "  ");
  if (question.includes("fabricate")) quote = "The moon is made of green cheese according to this file.";
  return `\n\nAccording to the document, "${quote}" [1].`;
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of enc.encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** A deterministic, similarity-preserving stand-in for an embedding model. */
export function fakeEmbedding(text: string, dimensions = 1536): number[] {
  const v = new Float64Array(dimensions);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const add = (token: string, weight: number) => {
      const h = hash32(token);
      v[h % dimensions] += (h & 0x80000000 ? -1 : 1) * weight;
    };
    add(word, 1);
    const chars = [...word];
    for (let i = 0; i + 3 <= chars.length; i++) add(`#${chars.slice(i, i + 3).join("")}`, 1 / 3);
  }
  const norm = Math.hypot(...v) || 1;
  return Array.from(v, (x) => x / norm);
}

function embeddings(body: Record<string, unknown>): Response {
  const input = body.input;
  const texts = typeof input === "string"
    ? [input]
    : Array.isArray(input) && input.every((t) => typeof t === "string")
    ? (input as string[])
    : null;
  if (!texts || texts.length === 0) {
    return providerError("openai", 400, "invalid_request_error", "'input' must be a string or an array of strings.");
  }
  // Like text-embedding-3-small: an input over 8,192 tokens is refused, not cut.
  const tooLong = texts.find((t) => tokens(t) > 8192);
  if (tooLong !== undefined) {
    return providerError(
      "openai",
      400,
      "invalid_request_error",
      `This model's maximum context length is 8192 tokens, however you requested ${tokens(tooLong)} tokens. ` +
        "Please reduce your prompt.",
    );
  }
  const dimensions = typeof body.dimensions === "number" ? body.dimensions : 1536;
  const base64 = body.encoding_format === "base64";
  const data = texts.map((t, index) => {
    const vector = fakeEmbedding(t, dimensions);
    const embedding = base64 ? btoa(String.fromCharCode(...new Uint8Array(new Float32Array(vector).buffer))) : vector;
    return { object: "embedding", index, embedding };
  });
  const promptTokens = texts.reduce((n, t) => n + tokens(t), 0);
  return json(200, {
    object: "list",
    data,
    model: body.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

const DRIP_MS = 40;

// An SSE body. With `cut`, only the first two deltas go out, then the connection is dropped; with
// `drip`, the frames go out DRIP_MS apart.
function sse(frames: string[], deltaFrames: [number, number], cut: boolean, drip: boolean): Response {
  const [firstDelta, afterDeltas] = deltaFrames;
  const sent = cut ? frames.slice(0, Math.min(firstDelta + 2, afterDeltas)) : frames;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const frame of sent) {
        controller.enqueue(enc.encode(frame));
        if (drip) await new Promise((r) => setTimeout(r, DRIP_MS));
      }
      if (!cut) return controller.close();
      await new Promise((r) => setTimeout(r, 20)); // let the deltas reach the client first
      controller.error(new Error("fake provider: connection cut on purpose (-cut key)"));
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

function cutWithoutBody(): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.error(new Error("fake provider: connection cut on purpose (-cut key)"));
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}

function openaiChat(body: Record<string, unknown>, key: string): Response {
  const messages = Array.isArray(body.messages) ? (body.messages as Msg[]) : [];
  if (typeof body.model !== "string" || !body.model || messages.length === 0) {
    return providerError(
      "openai",
      400,
      "invalid_request_error",
      "`model` and a non-empty `messages` array are required.",
    );
  }
  if (body.model === "unknown-model") {
    return providerError(
      "openai",
      404,
      "invalid_request_error",
      "The model `unknown-model` does not exist or you do not have access to it.",
      "model_not_found",
    );
  }
  const chat = messages.filter((m) => m.role !== "system" && m.role !== "developer");
  const system = messages.filter((m) => !chat.includes(m)).map((m) => textOf(m.content)).join("");
  const t = answer(body.model, system, chat, body.max_completion_tokens ?? body.max_tokens, key);
  const id = `chatcmpl-fake${crypto.randomUUID().slice(0, 8)}`;
  const created = Math.floor(Date.now() / 1000);
  const finish = t.truncated ? "length" : "stop";
  const usage = {
    prompt_tokens: t.promptTokens,
    completion_tokens: t.completionTokens,
    total_tokens: t.promptTokens + t.completionTokens,
    prompt_tokens_details: { cached_tokens: t.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  };
  if (body.stream !== true) {
    if (key.includes("-cut")) return cutWithoutBody();
    return json(200, {
      id,
      object: "chat.completion",
      created,
      model: t.model,
      system_fingerprint: "fp_fake",
      choices: [{
        index: 0,
        message: { role: "assistant", content: t.text, refusal: null },
        logprobs: null,
        finish_reason: finish,
      }],
      usage,
    });
  }
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${
      JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model: t.model,
        system_fingerprint: "fp_fake",
        choices,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      })
    }\n\n`;
  const delta = (d: Record<string, unknown>, finish_reason: string | null = null) =>
    chunk([{ index: 0, delta: d, logprobs: null, finish_reason }]);
  const deltas = pieces(t.text).map((content) => delta({ content }));
  const frames = [delta({ role: "assistant", content: "", refusal: null }), ...deltas, delta({}, finish)];
  if (includeUsage) frames.push(chunk([], { usage }));
  frames.push("data: [DONE]\n\n");
  return sse(frames, [1, 1 + deltas.length], key.includes("-cut"), key.includes("-drip"));
}

function anthropicMessages(body: Record<string, unknown>, key: string): Response {
  const messages = Array.isArray(body.messages) ? (body.messages as Msg[]) : [];
  if (typeof body.model !== "string" || !body.model || messages.length === 0 || typeof body.max_tokens !== "number") {
    return providerError("anthropic", 400, "invalid_request_error", "model, messages and max_tokens are required.");
  }
  if (messages.some((m) => m.role !== "user" && m.role !== "assistant")) {
    return providerError("anthropic", 400, "invalid_request_error", "messages: roles must be `user` or `assistant`.");
  }
  if (body.model === "unknown-model") {
    return providerError("anthropic", 404, "not_found_error", "model: unknown-model");
  }
  const t = answer(body.model, textOf(body.system), messages, body.max_tokens, key);
  const id = `msg_fake${crypto.randomUUID().slice(0, 8)}`;
  const stop_reason = t.truncated ? "max_tokens" : "end_turn";
  const usage = {
    input_tokens: t.promptTokens - t.cachedTokens, // like the real API: cache reads are not included
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: t.cachedTokens,
    output_tokens: t.completionTokens,
  };
  if (body.stream !== true) {
    if (key.includes("-cut")) return cutWithoutBody();
    return json(200, {
      id,
      type: "message",
      role: "assistant",
      model: t.model,
      content: [{ type: "text", text: t.text }],
      stop_reason,
      stop_sequence: null,
      usage,
    });
  }
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const deltas = pieces(t.text).map((text) =>
    event("content_block_delta", { index: 0, delta: { type: "text_delta", text } })
  );
  const frames = [
    event("message_start", {
      message: {
        id,
        type: "message",
        role: "assistant",
        model: t.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    event("ping", {}),
    ...deltas,
    event("content_block_stop", { index: 0 }),
    event("message_delta", {
      delta: { stop_reason, stop_sequence: null },
      usage: { output_tokens: t.completionTokens },
    }),
    event("message_stop", {}),
  ];
  return sse(frames, [3, 3 + deltas.length], key.includes("-cut"), key.includes("-drip"));
}

function models(flavor: Flavor): Response {
  if (flavor === "openai") {
    const data = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"].map((id) => ({
      id,
      object: "model",
      created: 1715367049,
      owned_by: "system",
    }));
    return json(200, { object: "list", data });
  }
  const data = ["claude-sonnet-4-5", "claude-haiku-4-5"].map((id) => ({
    type: "model",
    id,
    display_name: id,
    created_at: "2025-10-01T00:00:00Z",
  }));
  return json(200, { data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id });
}

export async function handleFakeProvider(req: Request, slowMs: number): Promise<Response> {
  const path = new URL(req.url).pathname.replace(/\/+$/, "");
  if (path === "/health") return json(200, { status: "ok" });
  const route = `${req.method} ${path}`;
  const flavor: Flavor = path === "/v1/messages" || (path === "/v1/models" && req.headers.has("x-api-key"))
    ? "anthropic"
    : "openai";
  const known = ["POST /v1/chat/completions", "POST /v1/messages", "GET /v1/models", "POST /v1/embeddings"];
  if (!known.includes(route)) {
    return providerError(
      flavor,
      404,
      flavor === "openai" ? "invalid_request_error" : "not_found_error",
      `Unknown route: ${route}`,
    );
  }

  const key = flavor === "openai"
    ? (req.headers.get("authorization") ?? "").replace(/^Bearer\s+/i, "")
    : req.headers.get("x-api-key") ?? "";
  if (!keyIsWellFormed(flavor, key)) return unauthorized(flavor, key);
  if (flavor === "anthropic" && !req.headers.get("anthropic-version")) {
    return providerError(flavor, 400, "invalid_request_error", "anthropic-version: header is required");
  }
  const switched = path !== "/v1/models" || !key.includes("-chatonly");
  if (switched && key.includes("-slow")) await sleep(slowMs, req.signal);
  const failure = switched ? switchedFailure(flavor, key) : null;
  if (failure) return failure;
  if (path === "/v1/models") return switched && key.includes("-cut") ? cutWithoutBody() : models(flavor);

  let body: Record<string, unknown>;
  try {
    const parsed = await req.json();
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    body = parsed;
  } catch {
    return providerError(flavor, 400, "invalid_request_error", "The request body is not a JSON object.");
  }
  if (path === "/v1/embeddings") return embeddings(body);
  return flavor === "openai" ? openaiChat(body, key) : anthropicMessages(body, key);
}

export function serveFakeProvider(options: { port: number; hostname?: string; slowMs?: number }): Deno.HttpServer {
  const slowMs = options.slowMs ?? 3000;
  return Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: ({ hostname, port }) => console.log(`fake provider listening on http://${hostname}:${port}`),
  }, (req) => handleFakeProvider(req, slowMs));
}

if (import.meta.main) {
  serveFakeProvider({
    port: Number(Deno.env.get("PORT") ?? 54329),
    slowMs: Number(Deno.env.get("FAKE_SLOW_MS") ?? 3000),
  });
}
