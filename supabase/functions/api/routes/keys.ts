import type { Hono } from "hono";
import type { Tx } from "../../_shared/db.ts";
import { env } from "../../_shared/env.ts";
import { ApiError, notFound } from "../../_shared/http.ts";
import { EMBEDDING_MODEL } from "../../_shared/providers/embeddings.ts";
import { ProviderError } from "../../_shared/providers/errors.ts";
import { providerFor } from "../../_shared/providers/index.ts";
import type { ProviderName } from "../../_shared/providers/types.ts";
import { secretBox } from "../../_shared/secret-box.ts";
import { keyHint } from "../../_shared/secrets.ts";
import { pathId } from "../ids.ts";
import { route } from "../route.ts";
import { DeletedKey, Key, KeyCreate, KeyStatistics, KeyUpdate } from "../schemas.ts";

const FROM_KIND = { open_ai: "openai", claude: "anthropic" } as const;

// Every column but the secret (which `authenticated` cannot select anyway).
const KEY_COLUMNS = `id, id as pk, name, provider,
  case provider when 'openai' then 'open_ai' else 'claude' end as key_kind,
  hint, is_valid, is_selected, monthly_budget_usd, created_at, last_used_at, last_validated_at`;

async function findKey(tx: Tx, id: string) {
  const [key] = await tx.unsafe(`select ${KEY_COLUMNS} from public.api_keys where id = $1`, [id]);
  if (!key) throw notFound("Key");
  return key;
}

const VALIDATION_FAILURES: Partial<Record<ProviderError["kind"], { status: number; message: string }>> = {
  invalid_key: { status: 422, message: "The provider rejected this key" },
  quota_exceeded: { status: 422, message: "The provider accepted this key but its quota or credit is used up" },
  unavailable: {
    status: 502,
    message: "The provider could not be reached to validate the key; nothing was stored, try again",
  },
  timeout: {
    status: 504,
    message: "The provider did not answer in time to validate the key; nothing was stored, try again",
  },
  bad_request: {
    status: 502,
    message: "The provider answered the validation request unexpectedly; nothing was stored",
  },
};

export function keyRoutes(app: Hono) {
  route(app, {
    method: "get",
    path: "/keys",
    tag: "keys",
    summary: "The caller's provider keys (never the secret; a hint of the last 4 characters)",
    auth: true,
    response: Key.array(),
    handler: async ({ db }) => {
      const keys = await db((tx) => tx.unsafe(`select ${KEY_COLUMNS} from public.api_keys order by created_at, id`));
      return { message: `${keys.length} keys`, data: keys };
    },
  });

  route(app, {
    method: "post",
    path: "/keys",
    tag: "keys",
    summary: "Register a provider key: validated with the provider, then stored encrypted; the first key is selected",
    auth: true,
    body: KeyCreate,
    response: Key,
    status: 201,
    errors: [400, 401, 409, 413, 415, 422, 502, 504],
    invalidWhen: ["`provider` and `kind` name different providers (errors.kind)"],
    handler: async ({ db, body }) => {
      const provider: ProviderName = body.provider ?? FROM_KIND[body.kind!];
      const box = await secretBox();
      const fingerprint = await box.fingerprint(body.api_key);
      const duplicate = () => new ApiError(409, "This key is already registered", { api_key: ["Already registered"] });
      if ((await db((tx) => tx`select 1 from public.api_keys where fingerprint = ${fingerprint}`)).length) {
        throw duplicate();
      }

      try {
        await providerFor(provider, env.providers)
          .validateKey(body.api_key);
      } catch (err) {
        // A rate limit means the key is valid but busy: accept it.
        const failure = err instanceof ProviderError ? VALIDATION_FAILURES[err.kind] : VALIDATION_FAILURES.unavailable;
        if (failure) throw new ApiError(failure.status, failure.message, { api_key: [failure.message] });
      }

      const ciphertext = await box.encrypt(body.api_key);
      const key = await db(async (tx) => {
        const [{ id }] = await tx`
          select private.register_api_key(${body.name}, ${provider}, ${ciphertext}, ${
          keyHint(body.api_key)
        }, ${fingerprint}) as id`;
        if (!id) throw duplicate();
        // A valid OpenAI key: the documents ingested without vectors of the current model get them (billed to it).
        if (provider === "openai") await tx`select private.queue_embedding(${EMBEDDING_MODEL})`;
        return findKey(tx, id);
      });
      return { status: 201, message: `Key registered${key.is_selected ? " and selected" : ""}`, data: key };
    },
  });

  route(app, {
    method: "patch",
    path: "/keys/:id",
    tag: "keys",
    summary: "Rename a key, select it, or set its monthly budget (USD; null removes it)",
    auth: true,
    body: KeyUpdate,
    response: Key,
    handler: async ({ db, params, body }) => {
      const id = pathId(params.id, "Key");
      const key = await db(async (tx) => {
        await findKey(tx, id);
        const changes: Record<string, unknown> = {};
        if (body.name !== undefined) changes.name = body.name;
        if (body.monthly_budget_usd !== undefined) changes.monthly_budget_usd = body.monthly_budget_usd;
        if (Object.keys(changes).length) await tx`update public.api_keys set ${tx(changes)} where id = ${id}`;
        if (body.selected) await tx`select public.select_api_key(${id}::uuid)`;
        return findKey(tx, id);
      });
      return { message: "Key updated", data: key };
    },
  });

  route(app, {
    method: "delete",
    path: "/keys/:id",
    tag: "keys",
    summary: "Delete a key (its usage history stays, without the key)",
    auth: true,
    response: DeletedKey,
    handler: async ({ db, params }) => {
      const id = pathId(params.id, "Key");
      const deleted = await db((tx) => tx`delete from public.api_keys where id = ${id} returning id`);
      if (!deleted.length) throw notFound("Key");
      return { message: "Key deleted", data: { id, pk: id } };
    },
  });

  for (const path of ["/keys/:id/statistics", "/keys/:id/statics"]) {
    route(app, {
      method: "get",
      path,
      tag: "keys",
      summary: "A key's requests, tokens and cost: totals, this month, by model, by day (last 90 days)",
      description: path.endsWith("statics") ? "Legacy spelling of /statistics." : undefined,
      auth: true,
      response: KeyStatistics,
      handler: async ({ db, params }) => {
        const id = pathId(params.id, "Key");
        const data = await db(async (tx) => {
          const key = await findKey(tx, id);
          const [t] = await tx`select * from public.api_key_usage_totals where api_key_id = ${id}`;
          const byModel = await tx`
            select provider, model, requests, errors, prompt_tokens, cached_prompt_tokens, completion_tokens, total_tokens, cost_usd, priced
            from public.api_key_usage_by_model where api_key_id = ${id} order by cost_usd desc, requests desc, model`;
          const byDay = await tx`
            select to_char(day, 'YYYY-MM-DD') as day, requests, errors, prompt_tokens, cached_prompt_tokens, completion_tokens, total_tokens, cost_usd
            from public.api_key_usage_daily where api_key_id = ${id} and day > (now() at time zone 'utc')::date - 90 order by day desc`;
          return {
            key,
            totals: {
              requests: t.requests,
              errors: t.errors,
              prompt_tokens: t.prompt_tokens,
              cached_prompt_tokens: t.cached_prompt_tokens,
              completion_tokens: t.completion_tokens,
              total_tokens: t.total_tokens,
              cost_usd: t.cost_usd,
              unpriced_requests: t.unpriced_requests,
            },
            this_month: {
              requests: t.month_requests,
              total_tokens: t.month_tokens,
              cost_usd: t.month_cost_usd,
              monthly_budget_usd: t.monthly_budget_usd,
              budget_remaining_usd: t.budget_remaining_usd,
            },
            by_model: byModel,
            by_day: byDay,
          };
        });
        return { message: "Key statistics", data };
      },
    });
  }
}
