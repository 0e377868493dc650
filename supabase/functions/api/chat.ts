// One exchange: the user's message is stored first (it stays, whatever the provider does),
// the provider is called outside any transaction, then the answer and its usage are stored
// together. A failure marks the user's message failed and still records the attempt's usage.
import type { Claims } from "../_shared/db.ts";
import { asUser } from "../_shared/db.ts";
import { env } from "../_shared/env.ts";
import { ApiError } from "../_shared/http.ts";
import { secretBox } from "../_shared/secret-box.ts";
import { ProviderError } from "../_shared/providers/errors.ts";
import { providerFor } from "../_shared/providers/index.ts";
import type { ChatMessage, ChatRequest, ChatResult, LlmProvider, ProviderName, Usage } from "../_shared/providers/types.ts";
import { buildContext, DEFAULT_MODELS, MAX_HISTORY_MESSAGES } from "./context.ts";
import type { RouteContext } from "./route.ts";
import type { MessageRow } from "./schemas.ts";
import { findConversation } from "./routes/conversations.ts";

export const MESSAGE_COLUMNS = "id, conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id, status, error_code, created_at";

export interface PreparedExchange {
  conversationId: string;
  keyId: string;
  provider: LlmProvider;
  request: ChatRequest;
  userMessage: MessageRow;
}

/** `db` is the route's transaction as the caller, which checks the session is still alive. */
export function prepareExchange(db: RouteContext<unknown, unknown>["db"], conversationId: string, text: string, modelOverride?: string): Promise<PreparedExchange> {
  return db(async (tx) => {
    const conversation = await findConversation(tx, conversationId);
    const [key] = await tx`
      select k.id, k.provider, k.is_valid, k.monthly_budget_usd,
             case when k.monthly_budget_usd is not null then public.api_key_month_cost(k.id) end as month_cost_usd,
             private.api_key_secret(k.id) as ciphertext
      from public.api_keys k
      where k.id = coalesce(${conversation.api_key_id}::uuid, (select id from public.api_keys where is_selected))`;
    if (!key) throw new ApiError(400, "No API key to answer with: register one with POST /keys, or choose one for this conversation");
    if (!key.is_valid) throw new ApiError(400, "This conversation's API key was rejected by its provider; register a new key or choose another");
    if (key.monthly_budget_usd !== null && Number(key.month_cost_usd) >= Number(key.monthly_budget_usd)) {
      throw new ApiError(429, `This key's monthly budget of $${key.monthly_budget_usd} is spent; raise it with PATCH /keys/{id}`);
    }
    const [userMessage] = await tx.unsafe<MessageRow[]>(
      `select ${MESSAGE_COLUMNS} from private.add_user_message($1, $2, $3)`,
      [conversationId, key.id, text],
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
    return {
      conversationId,
      keyId: key.id,
      provider: providerFor(provider, env.providers),
      request: {
        apiKey,
        model,
        system: conversation.system_prompt ?? undefined,
        messages: buildContext(history as unknown as ChatMessage[], conversation.system_prompt, provider, model),
      },
      userMessage,
    };
  });
}

/** Stores the answer and its usage in one transaction. */
function completeExchange(user: Claims, ex: PreparedExchange, result: ChatResult, latencyMs: number) {
  return asUser(user, async (tx) => {
    const u = result.usage;
    const [{ stored }] = await tx`
      select private.store_answer(${ex.userMessage.id}::uuid, ${result.text}, ${result.model},
        ${u.promptTokens}, ${u.cachedPromptTokens}, ${u.completionTokens}, ${u.source}, ${latencyMs}) as stored`;
    const [event] = await tx`select prompt_tokens, cached_prompt_tokens, completion_tokens, cost_usd, priced from public.usage_events where id = ${stored.usage_event.id}`;
    const [assistant] = await tx.unsafe(`select ${MESSAGE_COLUMNS} from public.messages where id = $1`, [stored.assistant_message.id]);
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

/**
 * Stores a provider's answer. If the database does not take it, the client hears exactly that
 * (503): the provider did answer, and the failure is ours, not the provider's.
 */
export async function storeAnswer(user: Claims, ex: PreparedExchange, result: ChatResult, latencyMs: number) {
  try {
    return await completeExchange(user, ex, result, latencyMs);
  } catch (err) {
    console.error(`storing an answer failed: ${(err as Error).name} ${(err as { code?: string }).code ?? ""}`);
    throw new ApiError(503, "The provider answered, but the answer could not be stored: the database did not take it. Try again shortly.", {
      user_message_id: ex.userMessage.id,
    });
  }
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
  const u = pe.partial?.usage ?? zero;
  await asUser(user, (tx) => tx`
    select private.fail_exchange(${ex.userMessage.id}::uuid, ${code}, ${pe.kind === "invalid_key"}, ${ex.request.model},
      ${u.promptTokens}, ${u.cachedPromptTokens}, ${u.completionTokens}, ${u.source}, ${latencyMs})`);
  const failure = FAILURES[pe.kind];
  return new ApiError(failure.status, `${failure.message}. Your message was kept (status failed); send it again to retry.`, {
    provider: ex.provider.name,
    kind: pe.kind,
    provider_code: pe.code ?? null,
    user_message_id: ex.userMessage.id,
  });
}
