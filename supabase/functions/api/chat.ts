// One exchange: the user's message is stored first (it stays, whatever the provider does),
// the provider is called outside any transaction, then the answer and its usage are stored
// together. A failure marks the user's message failed and still records the attempt's usage.
import type { Claims, Tx } from "../_shared/db.ts";
import { asUser } from "../_shared/db.ts";
import { env } from "../_shared/env.ts";
import { ApiError } from "../_shared/http.ts";
import { SecretBox } from "../_shared/secrets.ts";
import { ProviderError } from "../_shared/providers/errors.ts";
import { providerFor } from "../_shared/providers/index.ts";
import type { ChatMessage, ChatRequest, ChatResult, LlmProvider, ProviderName, Usage } from "../_shared/providers/types.ts";
import { buildContext, DEFAULT_MODELS, MAX_HISTORY_MESSAGES, MAX_OUTPUT_TOKENS } from "./context.ts";
import { citeAnswer } from "./citations.ts";
import { type Grounding, sourcesPrompt } from "./retrieval.ts";
import type { RouteContext } from "./route.ts";
import { findConversation } from "./routes/conversations.ts";

export const MESSAGE_COLUMNS = "id, conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id, status, error_code, citations, created_at";

const boxPromise = SecretBox.fromBase64(env.encryptionKey);
export const secretBox = () => boxPromise;

export interface PreparedExchange {
  conversationId: string;
  keyId: string;
  provider: LlmProvider;
  request: ChatRequest;
  // deno-lint-ignore no-explicit-any
  userMessage: any;
  /** Passages of the conversation's documents given to the model as numbered sources (null: no documents). */
  grounding: Grounding | null;
}

/** No key to answer with; a conversation with documents still gets an extractive answer. */
export class NoKeyError extends ApiError {
  constructor() {
    super(400, "No API key to answer with: register one with POST /keys, or choose one for this conversation");
  }
}

/** `db` is the route's transaction as the caller, which checks the session is still alive. */
export function prepareExchange(
  db: RouteContext<unknown, unknown>["db"],
  conversationId: string,
  text: string,
  modelOverride?: string,
  grounding: Grounding | null = null,
): Promise<PreparedExchange> {
  return db(async (tx) => {
    const conversation = await findConversation(tx, conversationId);
    const [key] = await tx`
      select k.id, k.provider, k.is_valid, k.monthly_budget_usd,
             case when k.monthly_budget_usd is not null then public.api_key_month_cost(k.id) end as month_cost_usd,
             private.api_key_secret(k.id) as ciphertext
      from public.api_keys k
      where k.id = coalesce(${conversation.api_key_id}::uuid, (select id from public.api_keys where is_selected))`;
    if (!key) throw new NoKeyError();
    if (!key.is_valid) throw new ApiError(400, "This conversation's API key was rejected by its provider; register a new key or choose another");
    if (key.monthly_budget_usd !== null && Number(key.month_cost_usd) >= Number(key.monthly_budget_usd)) {
      throw new ApiError(429, `This key's monthly budget of $${key.monthly_budget_usd} is spent; raise it with PATCH /keys/{id}`);
    }
    const [userMessage] = await tx.unsafe(
      `insert into public.messages (conversation_id, role, content, api_key_id) values ($1, 'user', $2, $3) returning ${MESSAGE_COLUMNS}`,
      [conversationId, text, key.id],
    );
    const history = await tx`
      select role, content from (
        select role, content, created_at, id from public.messages
        where conversation_id = ${conversationId} and status = 'complete' and role <> 'system'
        order by created_at desc, id desc limit ${MAX_HISTORY_MESSAGES}
      ) recent order by created_at, id`;
    const provider = key.provider as ProviderName;
    const model = modelOverride ?? conversation.model ?? DEFAULT_MODELS[provider];
    const apiKey = await (await secretBox()).decrypt(key.ciphertext);
    const system = [conversation.system_prompt, grounding && sourcesPrompt(grounding)].filter(Boolean).join("\n\n") || null;
    return {
      conversationId,
      keyId: key.id,
      provider: providerFor(provider, env.providers),
      request: {
        apiKey,
        model,
        system: system ?? undefined,
        messages: buildContext(history as unknown as ChatMessage[], system, provider, model),
        maxTokens: MAX_OUTPUT_TOKENS,
      },
      userMessage,
      grounding,
    };
  });
}

function recordUsage(tx: Tx, ex: PreparedExchange, usage: Usage, model: string, latencyMs: number, outcome: "ok" | "error", errorCode: string | null, messageId: string | null) {
  return tx`
    select * from private.record_usage(${ex.keyId}::uuid, ${ex.conversationId}::uuid, ${messageId}::uuid, ${ex.provider.name}, ${model},
      ${usage.promptTokens}, ${usage.cachedPromptTokens}, ${usage.completionTokens}, ${usage.source}, ${latencyMs}, ${outcome}, ${errorCode})`;
}

/** Stores the answer and its usage in one transaction. */
export function completeExchange(user: Claims, ex: PreparedExchange, result: ChatResult, latencyMs: number) {
  // With documents: citations checked against the stored pages (unverifiable quotes repaired or dropped).
  const cited = ex.grounding ? citeAnswer(result.text, ex.grounding) : { text: result.text, citations: [] };
  return asUser(user, async (tx) => {
    const [assistant] = await tx.unsafe(
      `insert into public.messages (conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id, citations)
       values ($1, 'assistant', $2, $3, $4, $5, $6, $7::jsonb) returning ${MESSAGE_COLUMNS}`,
      [ex.conversationId, cited.text, result.model, result.usage.promptTokens, result.usage.completionTokens, ex.keyId, tx.json(cited.citations as never)],
    );
    const [event] = await recordUsage(tx, ex, result.usage, result.model, latencyMs, "ok", null, assistant.id);
    return {
      user_message: ex.userMessage,
      assistant_message: assistant,
      usage: {
        provider: ex.provider.name,
        model: result.model,
        prompt_tokens: event.prompt_tokens,
        cached_prompt_tokens: event.cached_prompt_tokens,
        completion_tokens: event.completion_tokens,
        cost_usd: event.cost_usd,
        priced: event.priced,
        estimated: result.usage.source === "estimated",
        latency_ms: latencyMs,
      },
    };
  });
}

const FAILURES: Record<ProviderError["kind"], { status: number; message: string }> = {
  invalid_key: { status: 422, message: "The provider rejected the API key; it is now marked invalid" },
  rate_limited: { status: 429, message: "The provider is rate limiting this key; try again shortly" },
  quota_exceeded: { status: 429, message: "The provider says this key's quota or credit is used up" },
  bad_request: { status: 400, message: "The provider refused the request (check the model name)" },
  unavailable: { status: 502, message: "The provider failed to answer" },
  timeout: { status: 504, message: "The provider did not answer in time" },
};

/** Marks the user's message failed (so it can be retried), records the attempt, and says what happened. */
export async function failExchange(user: Claims, ex: PreparedExchange, err: unknown, latencyMs: number): Promise<ApiError> {
  const pe = err instanceof ProviderError ? err : new ProviderError("unavailable", "provider call failed");
  // Stored codes are our failure classes; the provider's own code (which can mislead, e.g.
  // Anthropic's low-credit `invalid_request_error`) only goes back to the client as a detail.
  const code = pe.kind;
  const zero: Usage = { promptTokens: 0, cachedPromptTokens: 0, completionTokens: 0, source: "estimated" };
  await asUser(user, async (tx) => {
    await tx`update public.messages set status = 'failed', error_code = ${code} where id = ${ex.userMessage.id}`;
    if (pe.kind === "invalid_key") await tx`update public.api_keys set is_valid = false where id = ${ex.keyId}`;
    await recordUsage(tx, ex, pe.partial?.usage ?? zero, ex.request.model, latencyMs, "error", code, null);
  });
  const failure = FAILURES[pe.kind];
  return new ApiError(failure.status, `${failure.message}. Your message was kept (status failed); send it again to retry.`, {
    provider: ex.provider.name,
    kind: pe.kind,
    provider_code: pe.code ?? null,
    user_message_id: ex.userMessage.id,
  });
}
