import { corsHeaders } from "@supabase/supabase-js/cors";

// The response envelope every route answers with: { success, message, data, errors }.
export interface Envelope<T = unknown> {
  success: boolean;
  message: string;
  data: T | null;
  errors: Record<string, unknown> | null;
}

/** An error that becomes an envelope with its status. The message is shown to the client: never put a secret in it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: Record<string, unknown> | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function envelope<T>(
  success: boolean,
  message: string,
  data: T | null = null,
  errors: Record<string, unknown> | null = null,
): Envelope<T> {
  return { success, message, data, errors };
}

/**
 * A response's `data` as JSON text already made (by Postgres, in the one statement of a read or
 * create), put into the envelope as it is: parsing it only to serialise it again was most of the
 * function's CPU on those routes.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** The successful envelope around `data` given as JSON text: the same bytes `JSON.stringify(envelope(true, message, data))` makes. */
export function envelopeText(message: string, data: JsonText): string {
  return `{"success":true,"message":${JSON.stringify(message)},"data":${data.text},"errors":null}`;
}

export const notFound = (what: string) => new ApiError(404, `${what} not found`);

/** What every response of the API carries for browsers: supabase-js's CORS headers, and the list totals readable. */
export const CORS_HEADERS: Record<string, string> = {
  ...corsHeaders,
  "Access-Control-Expose-Headers": "X-Total-Count",
};

/** Responses made with CORS_HEADERS already among their headers (the app adds them to the others). */
export const withCorsHeaders = new WeakSet<Response>();

/**
 * The successful envelope around JSON text, as a response made with all its headers at once:
 * adding headers to a response after it is made costs the function more than the rest of a read.
 */
export function jsonTextResponse(
  message: string,
  data: JsonText,
  status: number,
  headers: Record<string, string> = {},
) {
  const response = new Response(envelopeText(message, data), {
    status,
    headers: { ...CORS_HEADERS, "Content-Type": "application/json", ...headers },
  });
  withCorsHeaders.add(response);
  return response;
}
