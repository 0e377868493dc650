// One exchange. Before the provider call, one short transaction stores the user's message as
// pending and reserves the request's worst-case cost against the key's budget
// (private.begin_exchange, which serialises reservations per key and refuses what the budget
// cannot cover). The provider is called outside any transaction. Then the answer and its usage
// are stored together (or the failure and the attempt's usage), which settles the reservation.
// An answer the database does not take is retried in the background for a while, so a call
// the provider billed is billed here too; a request that dies leaves a reservation that expires
// and a pending message the sweeper fails.
import { asUserStatement, type CallerDb, type Claims, isDatabaseUnavailable } from "../_shared/db.ts";
import { SqlFragment } from "../_shared/one-round-trip.ts";
import { keepAlive, reservationSeconds, RETRY_RECORDING_MS, retryInBackground } from "../_shared/background.ts";
import { env } from "../_shared/env.ts";
import { ApiError, notFound } from "../_shared/http.ts";
import { secretBox } from "../_shared/secret-box.ts";
import { worstCasePromptTokens } from "../_shared/providers/estimate.ts";
import { ProviderError } from "../_shared/providers/errors.ts";
import { providerFor } from "../_shared/providers/index.ts";
import {
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type LlmProvider,
  MAX_OUTPUT_TOKENS,
  type ProviderName,
  type Usage,
} from "../_shared/providers/types.ts";
import { buildContext, DEFAULT_MODELS, MAX_HISTORY_MESSAGES } from "./context.ts";
import { MESSAGE_COLUMNS } from "./data/messages.ts";
import { citeAnswer } from "./citations.ts";
import { type Grounding, sourcesPrompt } from "./retrieval.ts";
import type { MessageRow } from "./schemas.ts";

export interface PreparedExchange {
  conversationId: string;
  keyId: string;
  provider: LlmProvider;
  request: ChatRequest;
  userMessage: MessageRow;
  /** Passages of the conversation's documents given to the model as numbered sources (null: no documents). */
  grounding: Grounding | null;
}

/** No key to answer with; a conversation with documents still gets an extractive answer. */
export class NoKeyError extends ApiError {
  constructor() {
    super(400, "No API key to answer with: register one with POST /keys, or choose one for this conversation");
  }
}

/** What prepare_exchange read for an exchange: the conversation, its key, the answered history, the key to embed with. */
export interface ExchangeSetup {
  api_key_id: string | null;
  model: string | null;
  system_prompt: string | null;
  documents_attached: boolean;
  key_id: string | null;
  key_provider: string | null;
  key_is_valid: boolean | null;
  key_ciphertext: string | null;
  history: ChatMessage[];
  /** With documents attached: the owner's OpenAI key to embed the question with (private.owner_openai_key). */
  embedding_key_id: string | null;
  embedding_key_ciphertext: string | null;
}

/**
 * One statement as the caller (session checked): the conversation (404 if it is not the
 * caller's), its key (or the selected one) with the ciphertext, whether documents are attached
 * (and then the owner's OpenAI key to embed the question with), and the latest answered turns,
 * oldest first.
 */
export async function loadExchange(db: CallerDb, conversationId: string): Promise<ExchangeSetup> {
  const [row] = await db.statement((sql, claims) =>
    sql`select * from private.prepare_exchange(${claims}, ${conversationId}::uuid, ${MAX_HISTORY_MESSAGES - 1})`
  );
  if (!row) throw notFound("Conversation");
  return row as unknown as ExchangeSetup;
}

/**
 * Stores the message pending with its budget reservation (private.begin_exchange_as: one
 * statement as the caller, session checked, so the key's row lock lasts that statement only).
 */
export async function prepareExchange(
  db: CallerDb,
  setup: ExchangeSetup,
  conversationId: string,
  text: string,
  modelOverride?: string,
  grounding: Grounding | null = null,
): Promise<PreparedExchange> {
  try {
    if (!setup.key_id) throw new NoKeyError();
    if (!setup.key_is_valid) {
      throw new ApiError(
        400,
        "This conversation's API key was rejected by its provider; register a new key or choose another",
      );
    }
    const keyId = setup.key_id;
    const provider = setup.key_provider as ProviderName;
    const model = modelOverride ?? setup.model ?? DEFAULT_MODELS[provider];
    const system = [setup.system_prompt, grounding && sourcesPrompt(grounding)].filter(Boolean).join("\n\n") || null;
    const messages = buildContext([...setup.history, { role: "user", content: text }], system, provider, model);
    const request: ChatRequest = {
      apiKey: "",
      model,
      system: system ?? undefined,
      messages,
      maxTokens: MAX_OUTPUT_TOKENS,
    };
    const expiresInSeconds = reservationSeconds(env.providers.timeoutMs);
    // Decrypted before the message is stored: a key that cannot be decrypted leaves nothing behind.
    request.apiKey = await (await secretBox()).decrypt(setup.key_ciphertext as string);
    const [userMessage] = await db.statement((sql, claims) =>
      sql<MessageRow[]>`select ${new SqlFragment(MESSAGE_COLUMNS)}
        from private.begin_exchange_as(${claims}, ${conversationId}, ${keyId}, ${text}, ${model},
          ${worstCasePromptTokens(request)}, ${MAX_OUTPUT_TOKENS}, ${expiresInSeconds})`
    );
    return { conversationId, keyId, provider: providerFor(provider, env.providers), request, userMessage, grounding };
  } catch (err) {
    // begin_exchange's refusal: the budget cannot cover this message beside what is spent and reserved.
    if ((err as { code?: string }).code === "PT429") {
      throw new ApiError(
        429,
        `${(err as Error).message}. Raise the budget with PATCH /keys/{id}, or wait for messages in progress.`,
      );
    }
    // begin_exchange's refusal of a model without a price on a budgeted key.
    if ((err as { code?: string }).code === "22023") {
      throw new ApiError(400, (err as Error).message, { model: ["No price is known for this model"] });
    }
    throw err;
  }
}

/** Stores the answer and its usage in one statement. */
function completeExchange(user: Claims, ex: PreparedExchange, result: ChatResult, latencyMs: number) {
  // With documents: citations checked against the stored pages (unverifiable quotes repaired or dropped).
  const cited = ex.grounding ? citeAnswer(result.text, ex.grounding) : { text: result.text, citations: [] };
  return asUserStatement(user, async (sql, claims) => {
    const u = result.usage;
    // One statement as the user: store_answer returns the answer, the question as it now stands
    // and the usage event as jsonb; jsonb_populate_record gives them back their columns' types.
    const rows = await sql`with s as materialized (
         select private.store_answer(${ex.userMessage.id}::uuid, ${cited.text}, ${result.model}, ${u.promptTokens},
                  ${u.cachedPromptTokens}, ${u.completionTokens}, ${u.source}, ${latencyMs},
                  ${JSON.stringify(cited.citations)}::text::jsonb) as stored
         from private.act_as(${claims}))
       select coalesce((s.stored ->> 'already_stored')::boolean, false) as already_stored,
              coalesce((s.stored ->> 'answer_discarded')::boolean, false) as answer_discarded,
              m.which, ${new SqlFragment(MESSAGE_COLUMNS.split(", ").map((c) => `m.${c}`).join(", "))},
              e.prompt_tokens as usage_prompt_tokens, e.cached_prompt_tokens as usage_cached_prompt_tokens,
              e.completion_tokens as usage_completion_tokens, e.cost_usd as usage_cost_usd, e.priced as usage_priced
       from s
       left join lateral jsonb_populate_record(null::public.usage_events, s.stored -> 'usage_event') e on true
       left join lateral (
         select 'assistant' as which, * from jsonb_populate_record(null::public.messages, s.stored -> 'assistant_message')
         union all
         select 'user' as which, * from jsonb_populate_record(null::public.messages, s.stored -> 'user_message')
       ) m on true`;
    const first = rows[0];
    if (first.already_stored) return null; // a retry whose earlier attempt did commit
    if (first.answer_discarded) return "discarded" as const; // (a throw here would roll back the billing)
    const pick = (which: string) => {
      const row = rows.find((r) => r.which === which);
      if (!row) throw new Error(`store_answer returned no ${which} message`);
      return Object.fromEntries(MESSAGE_COLUMNS.split(", ").map((c) => [c, row[c]])) as MessageRow;
    };
    return {
      user_message: pick("user"),
      assistant_message: pick("assistant"),
      usage: {
        provider: ex.provider.name,
        model: result.model,
        prompt_tokens: first.usage_prompt_tokens,
        cached_prompt_tokens: first.usage_cached_prompt_tokens,
        completion_tokens: first.usage_completion_tokens,
        cost_usd: first.usage_cost_usd,
        priced: first.usage_priced,
        estimated: result.usage.source === "estimated",
        latency_ms: latencyMs,
      },
    };
  });
}

/**
 * Stores a provider's answer. If the database is unavailable, the client hears exactly that
 * (503: the provider did answer; the failure is ours), and storing is retried in the background
 * for RETRY_RECORDING_MS, so the call the provider billed is recorded once the database is back.
 * Any other failure is a 500 that says the answer was not stored.
 */
export async function storeAnswer(user: Claims, ex: PreparedExchange, result: ChatResult, latencyMs: number) {
  try {
    const stored = await completeExchange(user, ex, result, latencyMs);
    if (stored === "discarded") {
      throw new ApiError(
        409,
        "Your message was deleted while it was being answered: the answer was discarded (its usage is recorded)",
        {
          user_message_id: ex.userMessage.id,
        },
      );
    }
    if (stored) return stored;
    throw new Error("the answer was already stored");
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const kind = `${(err as Error).name} ${(err as { code?: string }).code ?? ""}`;
    if (!isDatabaseUnavailable(err)) {
      console.error(`storing an answer failed: ${kind}`);
      throw new ApiError(500, "The provider answered, but storing the answer failed; it was not stored.", {
        user_message_id: ex.userMessage.id,
      });
    }
    console.error(`storing an answer failed, retrying in the background: ${kind}`);
    // If it still fails, the reservation expires and the sweeper marks the message failed.
    keepAlive(
      retryInBackground("storing an answer", () => completeExchange(user, ex, result, latencyMs), RETRY_RECORDING_MS),
    );
    throw new ApiError(
      503,
      "The provider answered, but the answer could not be stored: the database is unavailable. It will be stored (and its usage recorded) when the database is back; until then your message shows as pending.",
      { user_message_id: ex.userMessage.id },
      { "Retry-After": "5" },
    );
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

/**
 * Marks the user's message failed (so it can be retried), records the attempt, and says what
 * happened. If the database is unavailable, the client hears that (503, with the call's failure
 * in the details), and recording is retried in the background like a provider's answer, so the
 * message is failed with its real cause and the attempt billed once the database is back
 * (private.fail_exchange records an attempt once however often it runs).
 */
export async function failExchange(
  user: Claims,
  ex: PreparedExchange,
  err: unknown,
  latencyMs: number,
): Promise<ApiError> {
  const pe = err instanceof ProviderError ? err : new ProviderError("unavailable", "provider call failed");
  // Stored codes are our failure classes; the provider's own code (which can mislead, e.g.
  // Anthropic's low-credit `invalid_request_error`) only goes back to the client as a detail.
  const code = pe.kind;
  const zero: Usage = { promptTokens: 0, cachedPromptTokens: 0, completionTokens: 0, source: "estimated" };
  const u = pe.partial?.usage ?? zero;
  const record = () =>
    asUserStatement(user, (sql, claims) =>
      sql`
      select private.fail_exchange(${ex.userMessage.id}::uuid, ${code}, ${
        pe.kind === "invalid_key"
      }, ${ex.request.model},
        ${u.promptTokens}, ${u.cachedPromptTokens}, ${u.completionTokens}, ${u.source}, ${latencyMs})
      from private.act_as(${claims})`);
  const details = {
    provider: ex.provider.name,
    kind: pe.kind,
    provider_code: pe.code ?? null,
    user_message_id: ex.userMessage.id,
    ...(pe.retryAfter !== undefined ? { retry_after: pe.retryAfter } : {}),
  };
  const failure = FAILURES[pe.kind];
  try {
    await record();
  } catch (dbErr) {
    if (!isDatabaseUnavailable(dbErr)) throw dbErr;
    console.error(
      `recording a failed provider call failed, retrying in the background: ${(dbErr as Error).name} ${
        (dbErr as { code?: string }).code ?? ""
      }`,
    );
    // If it still fails, the reservation expires and the sweeper marks the message failed (interrupted).
    keepAlive(retryInBackground("recording a failed provider call", record, RETRY_RECORDING_MS));
    return new ApiError(
      503,
      `${failure.message}, and the database is unavailable. The failure will be recorded when the database is back: your message then shows as failed (until then pending); send it again to retry.`,
      details,
      { "Retry-After": "5" },
    );
  }
  return new ApiError(
    failure.status,
    `${failure.message}. Your message was kept (status failed); send it again to retry.`,
    details,
    pe.retryAfter !== undefined ? { "Retry-After": String(pe.retryAfter) } : {},
  );
}
