// Configuration, read once from the function's environment. Supabase sets the SUPABASE_* values;
// the rest are this project's own (docs/architecture.md, "Configuration").
import { DEFAULT_ANTHROPIC_BASE_URL, DEFAULT_OPENAI_BASE_URL } from "./providers/index.ts";

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
}

function optional(name: string, fallback: string): string {
  return Deno.env.get(name) || fallback;
}

function integer(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

const supabaseUrl = required("SUPABASE_URL");

export const env = {
  supabaseUrl,
  /**
   * Where the function calls Auth. On hosted Supabase there is no other way than the project URL
   * (`SUPABASE_URL/auth/v1`, through Supabase's edge); a stack that can reach the Auth server
   * directly (the local one) sets AUTH_URL, so nothing between the function and Auth rewrites the
   * X-Forwarded-For the function sends.
   */
  authUrl: (Deno.env.get("AUTH_URL") || `${supabaseUrl}/auth/v1`).replace(/\/+$/, ""),
  /** Where clients reach this API (the OpenAPI document's server): on Supabase, the function's URL. */
  publicApiUrl: optional("API_PUBLIC_URL", `${supabaseUrl}/functions/v1/api/v1`),
  anonKey: required("SUPABASE_ANON_KEY"),
  dbUrl: required("SUPABASE_DB_URL"),
  /** HS256 secret for projects that still sign with it; tokens signed with asymmetric keys are checked against the auth server's JWKS. */
  jwtSecret: Deno.env.get("JWT_SECRET") ?? "",
  /** Base64 of 32 random bytes: the AES-256-GCM key that encrypts provider keys at rest. */
  encryptionKey: required("PROVIDER_KEY_ENCRYPTION_KEY"),
  /** Where and how long to talk to the LLM providers (the shape providerFor takes). */
  providers: {
    openaiBaseUrl: optional("OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL),
    anthropicBaseUrl: optional("ANTHROPIC_BASE_URL", DEFAULT_ANTHROPIC_BASE_URL),
    timeoutMs: integer("PROVIDER_TIMEOUT_MS", 60_000),
  },
  maxBodyBytes: integer("MAX_BODY_BYTES", 256 * 1024),
  /** For Storage calls the API makes as the caller, and the worker's reads of any user's file. */
  serviceRoleKey: Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ?? "",
  documents: {
    /** Largest PDF accepted (413 above). */
    maxBytes: integer("DOCUMENT_MAX_BYTES", 25 * 1024 * 1024),
    /** More pages than this fails the document. */
    maxPages: integer("DOCUMENT_MAX_PAGES", 1000),
  },
  ingest: {
    /** The header value pg_net sends to the ingest function (Vault `ingest_secret` on hosted projects). */
    secret: Deno.env.get("INGEST_SECRET") ?? "",
    /** Wall-clock time one call may spend before it commits and hands over to the next call. */
    timeBudgetMs: integer("INGEST_TIME_BUDGET_MS", 1500),
    /** Pages committed together. */
    batchPages: integer("INGEST_BATCH_PAGES", 10),
    /** How long a claimed job is the worker's; after that another call takes it over. */
    leaseSeconds: integer("INGEST_LEASE_SECONDS", 60),
  },
};
