// Anthropic through its native Messages API (`@anthropic-ai/sdk`); its OpenAI-compatible
// layer is documented as not production-ready.
import Anthropic from "@anthropic-ai/sdk";
import { abortFacts, Deadline } from "./deadline.ts";
import { type FailureFacts, ProviderError, providerError } from "./errors.ts";
import { estimatedUsage } from "./estimate.ts";
import { type ChatRequest, type ChatResult, DEFAULT_MAX_TOKENS, type LlmProvider, type StreamEvent, type Usage } from "./types.ts";

export function anthropicProvider(config: { baseUrl: string; timeoutMs: number }): LlmProvider {
  const client = (apiKey: string) =>
    new Anthropic({
      apiKey,
      authToken: null, // never pick up a server-wide ANTHROPIC_AUTH_TOKEN for a user's key
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: 0,
    });

  const fail = (err: unknown, req: { apiKey: string; signal?: AbortSignal }, deadline: Deadline, partial?: ChatResult) =>
    err instanceof ProviderError
      ? err
      : providerError("anthropic", abortFacts(deadline, req.signal) ?? facts(err), req.apiKey, partial);

  return {
    name: "anthropic",

    async chat(req: ChatRequest): Promise<ChatResult> {
      const deadline = new Deadline(config.timeoutMs, req.signal);
      try {
        const res = await client(req.apiKey).messages.create(body(req), { signal: deadline.signal });
        const text = res.content.map((block) => (block.type === "text" ? block.text : "")).join("");
        return { text, model: res.model || req.model, usage: usageOf(res.usage, res.usage.output_tokens) };
      } catch (err) {
        throw fail(err, req, deadline);
      } finally {
        deadline.clear();
      }
    },

    async *chatStream(req: ChatRequest): AsyncGenerator<StreamEvent> {
      const deadline = new Deadline(config.timeoutMs, req.signal);
      let accepted = false, finished = false, text = "", model = req.model;
      // message_start reports the input side, message_delta the (cumulative) output tokens.
      let input: InputUsage | undefined;
      let outputTokens: number | undefined;
      const partial = (): ChatResult => {
        const known = input ? usageOf(input, 0) : undefined;
        return { text, model, usage: estimatedUsage(req, text, known) };
      };
      try {
        const stream = await client(req.apiKey).messages.create({ ...body(req), stream: true }, { signal: deadline.signal });
        accepted = true;
        for await (const event of stream) {
          switch (event.type) {
            case "message_start":
              model = event.message.model || model;
              input = event.message.usage;
              break;
            case "content_block_delta":
              if (event.delta.type === "text_delta" && event.delta.text) {
                text += event.delta.text;
                deadline.clear(); // the consumer's pace is not the provider's
                yield { type: "delta", text: event.delta.text };
              }
              break;
            case "message_delta":
              outputTokens = event.usage.output_tokens;
              // Newer API versions may restate the input side here; prefer it when present.
              if (event.usage.input_tokens != null) input = { ...input, ...withoutNulls(event.usage) } as InputUsage;
              break;
            case "message_stop":
              finished = true;
              break;
          }
          deadline.touch();
        }
      } catch (err) {
        throw fail(err, req, deadline, accepted ? partial() : undefined);
      } finally {
        deadline.clear();
      }
      // The SDK ends the iteration quietly when the request is aborted or the body just stops.
      if (!finished) throw fail(new Error("the stream ended before the answer was complete"), req, deadline, partial());
      const usage = input && outputTokens !== undefined
        ? usageOf(input, outputTokens)
        : estimatedUsage(req, text, input ? usageOf(input, 0) : undefined);
      yield { type: "done", result: { text, model, usage } };
    },

    async validateKey(apiKey: string): Promise<void> {
      const deadline = new Deadline(config.timeoutMs);
      try {
        await client(apiKey).models.list({ limit: 1 }, { signal: deadline.signal });
      } catch (err) {
        throw fail(err, { apiKey }, deadline);
      } finally {
        deadline.clear();
      }
    },
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
    max_tokens: req.maxTokens ?? DEFAULT_MAX_TOKENS,
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
  if (err instanceof Anthropic.APIConnectionTimeoutError) return { timedOut: true };
  if (err instanceof Anthropic.APIError) {
    // The SDK keeps the whole body: { type: "error", error: { type, message } }.
    const inner = (err.error as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
    const message = typeof inner?.message === "string" ? inner.message : err.message;
    const type = err.type ?? (typeof inner?.type === "string" ? inner.type : null);
    return { status: err.status, type, message };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}
