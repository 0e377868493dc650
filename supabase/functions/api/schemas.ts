// Request and response schemas: they validate input and are the source of /openapi.json.
import { z } from "zod";

export const Id = z.string().describe("Opaque id");

export const Pagination = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

/** The conversation list pages only when asked: without `limit` it is the whole list (up to 1,000). */
export const ConversationPagination = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).default(1_000),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const Provider = z.enum(["openai", "anthropic"]);
const Model = z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9._:\/-]+$/, "letters, digits and . _ : / - only");
const Title = z.string().trim().min(1).max(200);
const SystemPrompt = z.string().max(20_000);

export const ConversationCreate = z.strictObject({
  title: Title.optional(),
  api_key_id: Id.nullable().optional(),
  model: Model.nullable().optional(),
  system_prompt: SystemPrompt.nullable().optional(),
});

export const ConversationUpdate = z.strictObject({
  title: Title.optional(),
  api_key_id: Id.nullable().optional(),
  model: Model.nullable().optional(),
  system_prompt: SystemPrompt.nullable().optional(),
}).refine((v) => Object.keys(v).length > 0, "Nothing to change: send title, api_key_id, model or system_prompt")
  .meta({ minProperties: 1 });

export const MessageCreate = z.strictObject({
  message: z.string().trim().min(1, "Message is empty").max(32_000),
  stream: z.boolean().optional(),
  model: Model.optional(),
});

export const Conversation = z.object({
  id: Id,
  title: z.string(),
  api_key_id: Id.nullable(),
  model: z.string().nullable(),
  system_prompt: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  message_count: z.number().int(),
  last_message_at: z.string().nullable(),
  last_activity_at: z.string(),
  preview: z.string().nullable(),
});

export const Message = z.object({
  id: Id,
  conversation_id: Id,
  role: z.enum(["user", "assistant", "system"]),
  content: z.string(),
  model: z.string().nullable(),
  prompt_tokens: z.number().int().nullable(),
  completion_tokens: z.number().int().nullable(),
  api_key_id: Id.nullable(),
  status: z.enum(["pending", "complete", "failed"]).describe("pending: waiting for its answer"),
  error_code: z.string().nullable(),
  citations: z.array(z.object({
    n: z.number().int().describe("The [n] marker in the answer"),
    document_id: Id,
    filename: z.string(),
    page: z.number().int(),
    chunk_id: z.number().int().nullable().describe("null once the document is deleted"),
    quote: z.string().describe("Verbatim from the stored page text"),
    start_offset: z.number().int(),
    end_offset: z.number().int(),
    check: z.enum(["exact", "repaired"]),
    document_deleted: z.boolean().optional(),
  })).describe("Sources of an answer from the conversation's documents; empty otherwise"),
  created_at: z.string(),
});

export type MessageRow = z.output<typeof Message>;

export const ConversationWithMessages = Conversation.extend({ messages: z.array(Message) });

export const Usage = z.object({
  provider: Provider,
  model: z.string(),
  prompt_tokens: z.number().int(),
  cached_prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  cost_usd: z.string().describe("Decimal string, USD"),
  priced: z.boolean(),
  estimated: z.boolean(),
  latency_ms: z.number().int(),
});

export const Exchange = z.object({
  user_message: Message,
  assistant_message: Message,
  usage: Usage.nullable().describe("null for an extractive answer (no provider was called)"),
});

/** A streamed exchange's `error` event: the envelope of the error and the HTTP status it would have had. */
export const StreamError = z.object({
  success: z.literal(false),
  message: z.string(),
  data: z.null(),
  errors: z.record(z.string(), z.unknown()).nullable(),
  status: z.number().int(),
});

export const KeyCreate = z.strictObject({
  name: z.string().trim().min(1).max(100),
  api_key: z.string().trim().min(8, "Too short to be a provider key").max(400).regex(
    /^[\x21-\x7e]+$/,
    "A provider key is printable ASCII: no spaces, control or non-ASCII characters",
  ),
  provider: Provider.optional(),
  kind: z.enum(["open_ai", "claude"]).optional().describe("Legacy name of provider"),
}).refine((v) => v.provider || v.kind, {
  message: "provider (openai | anthropic) or kind (open_ai | claude) is required",
  path: ["provider"],
})
  .refine((v) => !(v.provider && v.kind) || (v.provider === "openai") === (v.kind === "open_ai"), {
    message: "provider and kind disagree",
    path: ["kind"],
  })
  .meta({ anyOf: [{ required: ["provider"] }, { required: ["kind"] }] });

export const KeyUpdate = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  selected: z.literal(true).optional().describe("Select this key (the others are unselected)"),
  monthly_budget_usd: z.number().min(0).max(1_000_000).multipleOf(0.01).nullable().optional(),
}).refine((v) => Object.keys(v).length > 0, "Nothing to change: send name, selected or monthly_budget_usd")
  .meta({ minProperties: 1 });

export const Key = z.object({
  id: Id,
  pk: Id.describe("Same as id (legacy clients)"),
  name: z.string(),
  provider: Provider,
  key_kind: z.enum(["open_ai", "claude"]).describe("Legacy name of provider"),
  hint: z.string().describe("Last characters of the key, never the key"),
  is_valid: z.boolean(),
  is_selected: z.boolean(),
  monthly_budget_usd: z.string().nullable(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  last_validated_at: z.string().nullable(),
});

const UsageFigures = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  prompt_tokens: z.number().int(),
  cached_prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.string(),
});

export const KeyStatistics = z.object({
  key: Key,
  totals: UsageFigures.extend({ unpriced_requests: z.number().int() }),
  this_month: z.object({
    requests: z.number().int(),
    total_tokens: z.number().int(),
    cost_usd: z.string(),
    monthly_budget_usd: z.string().nullable(),
    budget_remaining_usd: z.string().nullable(),
  }),
  by_model: z.array(UsageFigures.extend({ provider: Provider, model: z.string(), priced: z.boolean() })),
  by_day: z.array(UsageFigures.extend({ day: z.string() })),
});

export const Credentials = z.strictObject({
  username: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(72),
});

export const Join = z.strictObject({
  username: z.string().trim().regex(/^[A-Za-z0-9_.-]{3,32}$/, "3–32 letters, digits, _ - ."),
  password: z.string().min(8, "At least 8 characters").max(72),
  // The pattern is the whole check (zod's email rule), so it is what the document declares; the
  // Auth server may still refuse an address it admits (400).
  email: z.string().max(320).regex(z.regexes.email, "Not an email address").optional(),
});

export const Refresh = z.strictObject({ refresh_token: z.string().min(1, "Required").max(200) });

/** What a DELETE answers: the id that is gone (keys also under its legacy name `pk`). */
export const Deleted = z.object({ id: Id });
export const DeletedKey = z.object({ id: Id, pk: Id });

export const Profile = z.object({ id: Id, username: z.string(), email: z.string().nullable(), created_at: z.string() });

export const Session = z.object({
  token: z.string(),
  access_token: z.string(),
  refresh_token: z.string(),
  expires_at: z.number().int(),
  user: Profile,
});
