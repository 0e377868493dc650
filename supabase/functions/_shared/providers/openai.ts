// OpenAI through the official `openai` package: Chat Completions, plain and streamed.
import type OpenAI from "openai";
import { call, type CallSetup, retryAfterSeconds, stream } from "./call.ts";
import type { FailureFacts } from "./errors.ts";
import { estimatedUsage } from "./estimate.ts";
import { loadOnce } from "../load-once.ts";
import {
  type ChatRequest,
  type ChatResult,
  type LlmProvider,
  MAX_OUTPUT_TOKENS,
  type StreamEvent,
  type Usage,
} from "./types.ts";

type CompletionUsage = OpenAI.CompletionUsage;
type MessageParam = OpenAI.Chat.ChatCompletionMessageParam;

/** The SDK once loaded (on first use: load-once.ts says why); facts() checks errors against it. */
let sdk: typeof OpenAI | undefined;
export const openaiSdk = loadOnce(async () => sdk = (await import("openai")).default);

export function openaiProvider(config: { baseUrl: string; timeoutMs: number }): LlmProvider {
  const client = async (apiKey: string) =>
    new (await openaiSdk())({
      apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: 0,
      // Never pick up server-wide OPENAI_* settings for a user's key.
      organization: null,
      project: null,
      adminAPIKey: null,
    });

  const setup: CallSetup = { provider: "openai", timeoutMs: config.timeoutMs, facts };

  return {
    name: "openai",

    chat: (req: ChatRequest): Promise<ChatResult> =>
      call(setup, req, async (signal) => {
        const res = await (await client(req.apiKey)).chat.completions.create(body(req), { signal });
        const message = res.choices[0]?.message;
        const text = message?.content ?? message?.refusal ?? "";
        return {
          text,
          model: res.model || req.model,
          usage: res.usage ? usageOf(res.usage) : estimatedUsage(req, text),
        };
      }),

    chatStream: (req: ChatRequest): AsyncIterable<StreamEvent> =>
      stream(
        setup,
        req,
        async (signal) =>
          (await client(req.apiKey)).chat.completions.create({
            ...body(req),
            stream: true,
            stream_options: { include_usage: true },
          }, { signal }),
        (chunk, state) => {
          state.model = chunk.model || state.model;
          if (chunk.usage) state.usage = usageOf(chunk.usage);
          let delta = "";
          for (const choice of chunk.choices ?? []) {
            delta += choice.delta?.content ?? "";
            if (choice.finish_reason) state.finished = true;
          }
          return delta;
        },
      ),

    validateKey: (apiKey: string): Promise<void> =>
      call(setup, { apiKey }, async (signal) => {
        await (await client(apiKey)).models.list({ signal });
      }),
  };
}

function body(req: ChatRequest) {
  const messages: MessageParam[] = [
    ...(req.system ? [{ role: "system" as const, content: req.system }] : []),
    ...req.messages.map((m) => ({ role: m.role, content: m.content })),
  ];
  return {
    model: req.model,
    messages,
    max_completion_tokens: req.maxTokens ?? MAX_OUTPUT_TOKENS,
  };
}

function usageOf(u: CompletionUsage): Usage {
  return {
    promptTokens: u.prompt_tokens ?? 0,
    cachedPromptTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    completionTokens: u.completion_tokens ?? 0,
    source: "provider",
  };
}

export function facts(err: unknown): FailureFacts {
  // An SDK error exists only once the SDK has been loaded.
  if (sdk && err instanceof sdk.APIConnectionTimeoutError) return { timedOut: true };
  if (sdk && err instanceof sdk.APIError) {
    const body = err.error as { message?: unknown } | undefined;
    const message = typeof body?.message === "string" ? body.message : err.message;
    return { status: err.status, code: err.code, type: err.type, message, retryAfter: retryAfterSeconds(err.headers) };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}
