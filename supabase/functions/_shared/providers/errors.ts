// Provider failures, classified by what the caller should do about them. Only `invalid_key`
// says anything about the key itself; everything else leaves the key's status alone.
import type { ChatResult, ProviderName } from "./types.ts";

export type ProviderErrorKind =
  | "invalid_key" //     401/403: the key is bad
  | "rate_limited" //    429: the key works but is limited right now
  | "quota_exceeded" //  the key works but its account has no quota or credit left
  | "bad_request" //     other 4xx, e.g. an unknown model
  | "unavailable" //     5xx, Anthropic 529, network errors, cut streams: unknown, retry later
  | "timeout"; //        no answer in time

export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly kind: ProviderErrorKind;
  readonly provider?: ProviderName;
  readonly status?: number;
  readonly code?: string;
  /** Seconds the provider asked us to wait (its Retry-After), passed on to the client. */
  readonly retryAfter?: number;
  /** Set when a stream broke after the provider accepted the request: the text so far and estimated usage. */
  readonly partial?: ChatResult;

  constructor(
    kind: ProviderErrorKind,
    message: string,
    options: { provider?: ProviderName; status?: number; code?: string; partial?: ChatResult; retryAfter?: number } =
      {},
  ) {
    super(message);
    this.kind = kind;
    this.provider = options.provider;
    this.status = options.status;
    this.code = options.code;
    this.partial = options.partial;
    this.retryAfter = options.retryAfter;
  }
}

/** What is known about a failure, taken from an SDK error or a broken stream. */
export interface FailureFacts {
  status?: number;
  /** OpenAI's `error.code`, e.g. "insufficient_quota". */
  code?: string | null;
  /** OpenAI's `error.type` or Anthropic's `error.type`, e.g. "overloaded_error". */
  type?: string | null;
  /** The provider's own message (may echo the key; it is scrubbed before use). */
  message?: string;
  timedOut?: boolean;
  /** The provider's Retry-After, in seconds. */
  retryAfter?: number;
}

const QUOTA_CODES = new Set([
  "insufficient_quota",
  "billing_hard_limit_reached",
  "billing_not_active",
  "billing_error",
]);

// Errors sent inside an open stream carry a type but no HTTP status.
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  rate_limit_exceeded: 429,
  api_error: 500,
  server_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function classifyFailure(facts: FailureFacts): ProviderErrorKind {
  if (facts.timedOut) return "timeout";
  if ((facts.code && QUOTA_CODES.has(facts.code)) || (facts.type && QUOTA_CODES.has(facts.type))) {
    return "quota_exceeded";
  }
  const status = facts.status ?? STATUS_OF_TYPE[facts.type ?? facts.code ?? ""];
  if (status === undefined) return "unavailable"; // network error, connection reset, cut stream
  if (status === 401 || status === 403) return "invalid_key";
  if (status === 402) return "quota_exceeded";
  if (status === 429) return "rate_limited";
  // Anthropic answers an exhausted prepaid balance with a plain 400.
  if (status === 400 && /credit balance is too low/i.test(facts.message ?? "")) return "quota_exceeded";
  if (status === 408 || status === 504) return "timeout";
  if (status >= 400 && status < 500) return "bad_request";
  return "unavailable";
}

/** Removes the key, and anything shaped like a provider key (even masked), from text. */
export function scrubSecret(text: string, secret?: string): string {
  let out = text;
  if (secret && secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out.replace(/\bsk-[A-Za-z0-9_\-*]{4,}/g, "[redacted]");
}

const LABEL: Record<ProviderName, string> = { openai: "OpenAI", anthropic: "Anthropic" };

const SUMMARY: Record<ProviderErrorKind, string> = {
  invalid_key: "rejected the API key",
  rate_limited: "rate limit reached",
  quota_exceeded: "quota or credit exhausted",
  bad_request: "rejected the request",
  unavailable: "is unavailable",
  timeout: "did not answer in time",
};

export function providerError(
  provider: ProviderName,
  facts: FailureFacts,
  apiKey: string,
  partial?: ChatResult,
): ProviderError {
  const kind = classifyFailure(facts);
  const detail = facts.message ? scrubSecret(facts.message, apiKey).slice(0, 300) : "";
  const status = facts.status !== undefined ? ` (${facts.status})` : "";
  const message = `${LABEL[provider]} ${SUMMARY[kind]}${status}${detail ? `: ${detail}` : ""}`;
  const code = facts.code ?? facts.type ?? undefined;
  return new ProviderError(kind, message, {
    provider,
    status: facts.status,
    code,
    partial,
    retryAfter: facts.retryAfter,
  });
}
