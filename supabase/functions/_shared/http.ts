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
 * A response's `data` as JSON text already made by Postgres (in the one statement of a read or
 * create), as the bytes it sent (postgres.js's raw rows): put into the envelope as they are.
 * Parsing the rows only to serialise them again was most of the function's CPU on those routes;
 * decoding the text only to encode it again was the next thing.
 */
export class JsonText {
  constructor(readonly bytes: Uint8Array) {}
}

const utf8 = new TextEncoder();
const ENVELOPE_END = utf8.encode(',"errors":null}');

/** The successful envelope around `data`: the same bytes `JSON.stringify(envelope(true, message, data))` makes. */
export function envelopeBytes(message: string, data: JsonText): Uint8Array<ArrayBuffer> {
  const start = utf8.encode(`{"success":true,"message":${JSON.stringify(message)},"data":`);
  const body = new Uint8Array(start.length + data.bytes.length + ENVELOPE_END.length);
  body.set(start);
  body.set(data.bytes, start.length);
  body.set(ENVELOPE_END, start.length + data.bytes.length);
  return body;
}

export const notFound = (what: string) => new ApiError(404, `${what} not found`);

/** What every response of the API carries for browsers: any origin may read it, the list totals included. */
export const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": corsHeaders["Access-Control-Allow-Origin"],
  "Access-Control-Expose-Headers": "X-Total-Count",
};

/**
 * What a CORS preflight (OPTIONS) is answered with: supabase-js's CORS headers (the request
 * headers and methods its clients send). Browsers read Allow-Headers and Allow-Methods only on a
 * preflight, so other responses go without them (each header costs the function a little).
 */
export const PREFLIGHT_HEADERS: Record<string, string> = { ...corsHeaders, ...CORS_HEADERS };
