// Anthropic through its native Messages API (`@anthropic-ai/sdk`); its OpenAI-compatible
// layer is documented as not production-ready.
import type Anthropic from "@anthropic-ai/sdk";
import { call, type CallSetup, retryAfterSeconds, stream } from "./call.ts";
import type { FailureFacts } from "./errors.ts";
import { loadOnce } from "../load-once.ts";
import {
  type ChatRequest,
  type ChatResult,
  type LlmProvider,
  MAX_OUTPUT_TOKENS,
  type StreamEvent,
  type Usage,
} from "./types.ts";

/** The SDK once loaded (on first use: load-once.ts says why); facts() checks errors against it. */
let sdk: typeof Anthropic | undefined;
const anthropicSdk = loadOnce(async () => sdk = (await import("@anthropic-ai/sdk")).default);

export function anthropicProvider(config: { baseUrl: string; timeoutMs: number }): LlmProvider {
  const client = async (apiKey: string) =>
    new (await anthropicSdk())({
      apiKey,
      authToken: null, // never pick up a server-wide ANTHROPIC_AUTH_TOKEN for a user's key
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: 0,
    });

  const setup: CallSetup = { provider: "anthropic", timeoutMs: config.timeoutMs, facts };
  return {
    name: "anthropic",

    chat: (req: ChatRequest): Promise<ChatResult> =>
      call(setup, req, async (signal) => {
        const res = await (await client(req.apiKey)).messages.create(body(req), { signal });
        const text = res.content.map((block) => (block.type === "text" ? block.text : "")).join("");
        return { text, model: res.model || req.model, usage: usageOf(res.usage, res.usage.output_tokens) };
      }),

    chatStream(req: ChatRequest): AsyncIterable<StreamEvent> {
      // message_start reports the input side, message_delta the (cumulative) output tokens.
      let input: InputUsage | undefined;
      return stream(
        setup,
        req,
        async (signal) => (await client(req.apiKey)).messages.create({ ...body(req), stream: true }, { signal }),
        (event, state) => {
          switch (event.type) {
            case "message_start":
              state.model = event.message.model || state.model;
              input = event.message.usage;
              state.known = usageOf(input, 0);
              return;
            case "content_block_delta":
              return event.delta.type === "text_delta" ? event.delta.text : undefined;
            case "message_delta":
              // Newer API versions may restate the input side here; prefer it when present.
              if (event.usage.input_tokens != null) input = { ...input, ...withoutNulls(event.usage) } as InputUsage;
              if (input) state.usage = usageOf(input, event.usage.output_tokens);
              return;
            case "message_stop":
              state.finished = true;
              return;
          }
        },
      );
    },

    validateKey: (apiKey: string): Promise<void> =>
      call(setup, { apiKey }, async (signal) => {
        await (await client(apiKey)).models.list({ limit: 1 }, { signal });
      }),
  };
}

type InputUsage = {
  input_tokens: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
};

function body(req: ChatRequest) {
  // Anthropic takes the system prompt apart from the turns.
  const system = [req.system, ...req.messages.filter((m) => m.role === "system").map((m) => m.content)]
    .filter((s): s is string => !!s)
    .join("\n\n");
  const messages: Anthropic.MessageParam[] = req.messages
    .filter((m) => m.role !== "system")
    .map((m) => ({ role: m.role as "user" | "assistant", content: m.content }));
  return {
    model: req.model,
    max_tokens: req.maxTokens ?? MAX_OUTPUT_TOKENS,
    messages,
    ...(system ? { system } : {}),
  };
}

// Anthropic's input_tokens excludes cache reads and writes; promptTokens counts them all.
function usageOf(u: InputUsage, outputTokens: number): Usage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  return {
    promptTokens: u.input_tokens + cacheRead + (u.cache_creation_input_tokens ?? 0),
    cachedPromptTokens: cacheRead,
    completionTokens: outputTokens,
    source: "provider",
  };
}

function withoutNulls<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v != null)) as Partial<T>;
}

function facts(err: unknown): FailureFacts {
  // An SDK error exists only once the SDK has been loaded.
  if (sdk && err instanceof sdk.APIConnectionTimeoutError) return { timedOut: true };
  if (sdk && err instanceof sdk.APIError) {
    // The SDK keeps the whole body: { type: "error", error: { type, message } }.
    const inner = (err.error as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
    const message = typeof inner?.message === "string" ? inner.message : err.message;
    const type = err.type ?? (typeof inner?.type === "string" ? inner.type : null);
    return { status: err.status, type, message, retryAfter: retryAfterSeconds(err.headers) };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}
