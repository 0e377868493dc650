// Routes are declared once: the declaration registers the Hono handler, validates input with
// its zod schemas, and is what /openapi.json is generated from.
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { asSessionUser, type CallerDb, type Claims, type StatementSql, statementSql, type Tx } from "../_shared/db.ts";
import { env } from "../_shared/env.ts";
import { ApiError, envelope, envelopeBytes, JsonText } from "../_shared/http.ts";
import { bearerToken, sessionClaims, sessionEnded, verifyAccessToken } from "../_shared/identity.ts";

type Method = "get" | "post" | "patch" | "delete";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified caller, set before the body is read (null on routes without auth). */
    user: Claims | null;
  }
}

export interface Reply<T = unknown> {
  status?: number;
  message: string;
  /** The response's data; a JsonText goes into the envelope as the JSON text it is. */
  data: T;
  headers?: Record<string, string>;
}

export interface RouteContext<B, Q> {
  c: Context;
  body: B;
  query: Q;
  params: Record<string, string>;
  /** The verified caller (routes with auth: true). */
  user: Claims;
  /** Runs work in a transaction as the caller (RLS applies), after checking the session is still alive. */
  db<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * One round trip: work runs one statement calling a private.* function with `claims`; that
   * function becomes the caller, checks the session and does the work (the reads, create).
   */
  call<T>(work: (sql: StatementSql, claims: string) => Promise<T>): Promise<T>;
  /** The same two as domain code takes them (chat.ts, retrieval.ts, answers.ts). */
  caller: CallerDb;
}

export interface EventStream {
  description: string;
  /** Event name to the schema of its `data` (one line of JSON). */
  events: Record<string, z.ZodType>;
}

export interface RouteDef<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  method: Method;
  path: string;
  tag: string;
  summary: string;
  description?: string;
  auth: boolean;
  body?: B;
  query?: Q;
  /**
   * A request body that is not JSON, read by the handler itself (a PDF upload): its media types and
   * their schemas, as OpenAPI's requestBody.content. Only described; `body` is for JSON bodies.
   */
  rawBody?: { required: boolean; description?: string; content: Record<string, { schema: Record<string, unknown> }> };
  /** The most bytes read of a raw body, and its refusal (413); a JSON body's limit is MAX_BODY_BYTES. */
  rawBodyLimit?: { bytes: number; tooLarge: () => ApiError };
  /** Schema of `data` in a successful reply. */
  response?: z.ZodType;
  status?: number;
  /** Other success statuses with the same `data`, and what each means (e.g. 200: the same file was already uploaded). */
  alsoOk?: Record<number, string>;
  /** Why this route answers 400 beyond what its schemas say (a rule they cannot express), each said in the OpenAPI 400. */
  invalidWhen?: string[];
  /** What a status means on this route, where the general wording would mislead (e.g. 415 for an upload). */
  statusText?: Record<number, string>;
  /** Statuses this route answers with beyond those implied by auth, body, query and path ids (OpenAPI). */
  errors?: number[];
  /** Error statuses whose envelope still carries `data` in the response schema (e.g. /health's 503). */
  errorsWithData?: number[];
  /** Answers with Server-Sent Events (status 200): what they are, and each event's JSON `data` by event name (OpenAPI). */
  streams?: EventStream;
  handler: (ctx: RouteContext<Parsed<B>, Parsed<Q>>) => Promise<Reply | Response>;
}

/** What a declared schema gives the handler: its output, or undefined when the route declares none. */
type Parsed<S extends z.ZodType | undefined> = S extends z.ZodType ? z.output<S> : undefined;

// deno-lint-ignore no-explicit-any
export const registry: RouteDef<any, any>[] = [];

function validationError(error: z.ZodError, where: "body" | "query") {
  const { formErrors, fieldErrors } = z.flattenError(error);
  const errors: Record<string, unknown> = { ...fieldErrors };
  if (formErrors.length) errors._ = formErrors;
  return new ApiError(400, `Invalid ${where === "body" ? "request body" : "query parameters"}`, errors);
}

const tooLarge = () => new ApiError(413, `Request body too large (limit ${env.maxBodyBytes} bytes)`);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text Postgres cannot store (NUL) or that is not Unicode (a lone surrogate), with its field's path. */
function badText(value: unknown, path: string[] = []): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const field = (p: string[]) => p.join(".") || "_";
  if (typeof value === "string") {
    if (value.includes("\u0000")) found[field(path)] = ["Contains a NUL character (\\u0000), which text cannot hold"];
    else if (LONE_SURROGATE.test(value)) {
      found[field(path)] = ["Contains a lone UTF-16 surrogate: not valid Unicode text"];
    }
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes("\u0000") || LONE_SURROGATE.test(k)) {
        found[field(path)] = ["Contains a key that is not valid text"];
      }
      Object.assign(found, badText(v, [...path, k]));
    }
  }
  return found;
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  const raw = new Uint8Array(await c.req.arrayBuffer()); // at most MAX_BODY_BYTES: bodyLimit in route()
  // A body, or a declared content type, must be JSON; a bare empty request stands for {}.
  if ((raw.byteLength > 0 || type) && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new ApiError(415, "Content-Type must be application/json");
  }
  if (raw.byteLength === 0) return {};
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new ApiError(400, "Request body is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, "Malformed JSON in request body");
  }
  const bad = badText(parsed);
  if (Object.keys(bad).length) throw new ApiError(400, "Invalid request body", bad);
  return parsed;
}

export function route<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
  app: Hono,
  def: RouteDef<B, Q>,
) {
  registry.push(def);
  // The caller is verified first, so an unauthenticated request never gets its body read.
  const authenticate = createMiddleware(async (c, next) => {
    c.set("user", def.auth ? await verifyAccessToken(bearerToken(c.req.header("authorization"))) : null);
    await next();
  });
  // A larger body (declared, or chunked and endless) is refused as soon as the limit is passed.
  const limit = def.rawBodyLimit ?? { bytes: env.maxBodyBytes, tooLarge };
  const limitBody = bodyLimit({
    maxSize: limit.bytes,
    onError: () => {
      throw limit.tooLarge();
    },
  });
  const readsBody = Boolean(def.body || def.rawBody);
  app.on(def.method.toUpperCase(), def.path, authenticate, ...(readsBody ? [limitBody] : []), async (c: Context) => {
    const user = c.get("user");
    let body = undefined as Parsed<B>;
    if (def.body) {
      const parsed = def.body.safeParse(await readJson(c));
      if (!parsed.success) throw validationError(parsed.error, "body");
      body = parsed.data as Parsed<B>;
    }
    let query = undefined as Parsed<Q>;
    if (def.query) {
      const parsed = def.query.safeParse(c.req.query());
      if (!parsed.success) throw validationError(parsed.error, "query");
      query = parsed.data as Parsed<Q>;
    }
    const db = <T>(work: (tx: Tx) => Promise<T>) => {
      if (!user) throw new Error("db() needs an authenticated route");
      return asSessionUser(sessionClaims(user), work).catch(sessionEnded);
    };
    const call = <T>(work: (sql: StatementSql, claims: string) => Promise<T>) => {
      if (!user) throw new Error("call() needs an authenticated route");
      return work(statementSql, sessionClaims(user)).catch(sessionEnded);
    };
    const ctx: RouteContext<Parsed<B>, Parsed<Q>> = {
      c,
      body,
      query,
      params: c.req.param() as Record<string, string>,
      user: user as Claims,
      db,
      call,
      caller: { transaction: db, statement: call },
    };
    const reply = await def.handler(ctx);
    if (reply instanceof Response) return reply;
    const status = (reply.status ?? def.status ?? 200) as 200;
    if (reply.data instanceof JsonText) {
      return c.body(envelopeBytes(reply.message, reply.data), status, {
        "Content-Type": "application/json",
        ...reply.headers,
      });
    }
    return c.json(envelope(true, reply.message, reply.data ?? null), status, reply.headers);
  });
}

/** Does some declared route have this path (for 405 versus 404)? Returns the methods it answers. */
export function allowedMethods(path: string, base: string): string[] {
  const methods = new Set<string>();
  for (const def of registry) {
    const pattern = new RegExp("^" + (base + def.path).replace(/:[A-Za-z_]+/g, "[^/]+").replace(/\/$/, "") + "/?$");
    if (pattern.test(path)) methods.add(def.method.toUpperCase());
  }
  return [...methods];
}
