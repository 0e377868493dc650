// OpenAI through the official `openai` package: Chat Completions, plain and streamed.
import OpenAI from "openai";
import { Deadline, abortFacts } from "./deadline.ts";
import { type FailureFacts, ProviderError, providerError } from "./errors.ts";
import { estimatedUsage } from "./estimate.ts";
import type { ChatRequest, ChatResult, LlmProvider, StreamEvent, Usage } from "./types.ts";

type CompletionUsage = OpenAI.CompletionUsage;
type MessageParam = OpenAI.Chat.ChatCompletionMessageParam;

export function openaiProvider(config: { baseUrl: string; timeoutMs: number }): LlmProvider {
  const client = (apiKey: string) =>
    new OpenAI({
      apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: 0,
      // Never pick up server-wide OPENAI_* settings for a user's key.
      organization: null,
      project: null,
      adminAPIKey: null,
    });

  const fail = (err: unknown, req: { apiKey: string; signal?: AbortSignal }, deadline: Deadline, partial?: ChatResult) =>
    err instanceof ProviderError
      ? err
      : providerError("openai", abortFacts(deadline, req.signal) ?? facts(err), req.apiKey, partial);

  return {
    name: "openai",

    async chat(req: ChatRequest): Promise<ChatResult> {
      const deadline = new Deadline(config.timeoutMs, req.signal);
      try {
        const res = await client(req.apiKey).chat.completions.create(body(req), { signal: deadline.signal });
        const message = res.choices[0]?.message;
        const text = message?.content ?? message?.refusal ?? "";
        return { text, model: res.model || req.model, usage: res.usage ? usageOf(res.usage) : estimatedUsage(req, text) };
      } catch (err) {
        throw fail(err, req, deadline);
      } finally {
        deadline.clear();
      }
    },

    async *chatStream(req: ChatRequest): AsyncGenerator<StreamEvent> {
      const deadline = new Deadline(config.timeoutMs, req.signal);
      let accepted = false, finished = false, text = "", model = req.model;
      let usage: Usage | undefined;
      const partial = (): ChatResult => ({ text, model, usage: estimatedUsage(req, text) });
      try {
        const stream = await client(req.apiKey).chat.completions.create(
          { ...body(req), stream: true, stream_options: { include_usage: true } },
          { signal: deadline.signal },
        );
        accepted = true;
        for await (const chunk of stream) {
          model = chunk.model || model;
          if (chunk.usage) usage = usageOf(chunk.usage);
          for (const choice of chunk.choices ?? []) {
            const delta = choice.delta?.content;
            if (delta) {
              text += delta;
              deadline.clear(); // the consumer's pace is not the provider's
              yield { type: "delta", text: delta };
            }
            if (choice.finish_reason) finished = true;
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
      yield { type: "done", result: { text, model, usage: usage ?? estimatedUsage(req, text) } };
    },

    async validateKey(apiKey: string): Promise<void> {
      const deadline = new Deadline(config.timeoutMs);
      try {
        await client(apiKey).models.list({ signal: deadline.signal });
      } catch (err) {
        throw fail(err, { apiKey }, deadline);
      } finally {
        deadline.clear();
      }
    },
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
    ...(req.maxTokens ? { max_completion_tokens: req.maxTokens } : {}),
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
  if (err instanceof OpenAI.APIConnectionTimeoutError) return { timedOut: true };
  if (err instanceof OpenAI.APIError) {
    const body = err.error as { message?: unknown } | undefined;
    const message = typeof body?.message === "string" ? body.message : err.message;
    return { status: err.status, code: err.code, type: err.type, message };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}
