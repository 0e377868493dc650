// Calls to /api/v1 with the session's access token. Every JSON answer is the envelope
// {success, message, data, errors}; Server-Sent Events (answers, ingestion progress) are read
// from fetch's body, since EventSource cannot send the Authorization header.
import { API_URL, type DocumentRow, supabase } from "./supabase.ts";

export class ApiFailure extends Error {
  constructor(public status: number, message: string, public errors: Record<string, unknown> | null = null) {
    super(message);
  }
}

/** Called when a protected call answers 401: the session ended (logout elsewhere, or revoked). */
let onSessionEnded: () => void = () => {};
export function whenSessionEnds(handler: () => void) {
  onSessionEnded = handler;
}

async function authHeader(): Promise<Record<string, string>> {
  const { data } = await supabase.auth.getSession();
  return data.session ? { Authorization: `Bearer ${data.session.access_token}` } : {};
}

async function failureOf(res: Response): Promise<ApiFailure> {
  const body = await res.json().catch(() => null) as { message?: string; errors?: Record<string, unknown> } | null;
  if (res.status === 401) onSessionEnded();
  return new ApiFailure(res.status, body?.message ?? `HTTP ${res.status}`, body?.errors ?? null);
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: { anonymous?: boolean } = {},
): Promise<T> {
  const res = await fetch(`${API_URL}${path}`, {
    method,
    headers: {
      ...(opts.anonymous ? {} : await authHeader()),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    if (opts.anonymous) {
      const env = await res.json().catch(() => null) as { message?: string } | null;
      throw new ApiFailure(res.status, env?.message ?? `HTTP ${res.status}`);
    }
    throw await failureOf(res);
  }
  return (await res.json()).data as T;
}

/** Reads a Server-Sent Events stream, calling `onEvent` per event; resolves when it ends. */
export async function readEvents(
  path: string,
  init: RequestInit,
  onEvent: (event: string, data: unknown) => void,
): Promise<void> {
  const res = await fetch(`${API_URL}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), ...(await authHeader()), Accept: "text/event-stream" },
  });
  if (!res.ok || !res.headers.get("content-type")?.includes("text/event-stream")) throw await failureOf(res);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

// The API's shapes the app reads (docs/api.md; /api/v1/openapi.json is the reference).
export interface Conversation {
  id: string;
  title: string;
  api_key_id: string | null;
  model: string | null;
  updated_at: string;
}
export interface Citation {
  n: number;
  document_id: string;
  filename: string;
  page: number;
  chunk_id: number | null;
  quote: string;
  start_offset: number;
  end_offset: number;
  check: "exact" | "repaired";
  document_deleted?: boolean;
}
export interface Message {
  id: string;
  conversation_id: string;
  role: "user" | "assistant";
  content: string;
  model: string | null;
  status: "pending" | "complete" | "failed";
  error_code: string | null;
  citations: Citation[];
  created_at: string;
}
export interface Exchange {
  user_message: Message;
  assistant_message: Message;
}
export interface Key {
  id: string;
  name: string;
  provider: "openai" | "anthropic";
  hint: string;
  is_valid: boolean;
  is_selected: boolean;
  monthly_budget_usd: string | null;
  created_at: string;
}
export interface UsageRow {
  requests: number;
  total_tokens: number;
  cost_usd: string;
}
export interface KeyStatistics {
  totals: UsageRow;
  this_month: {
    requests: number;
    total_tokens: number;
    cost_usd: string;
    monthly_budget_usd: string | null;
    budget_remaining_usd: string | null;
  };
  by_model: (UsageRow & { provider: string; model: string })[];
  by_day: (UsageRow & { day: string })[];
}
/** A document as the API returns it: the table's columns (typed from the schema) and its progress. */
export type Doc =
  & Pick<DocumentRow, "id" | "filename" | "failure_reason" | "pages_total" | "pages_done" | "size_bytes" | "created_at">
  & {
    status: "queued" | "processing" | "ready" | "failed";
    progress_percent: number;
  };
