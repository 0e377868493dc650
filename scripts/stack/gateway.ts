// The small reverse proxy in front of the stack, with Supabase's routes:
//   /auth/v1/*            -> the Auth server (an `apikey` header is required, as Supabase's gateway does)
//   /storage/v1/*         -> the Storage server, prefix stripped (no `apikey` required, as in Supabase's
//                            gateway: Storage checks the JWT itself, and signed URLs carry their own token)
//   /functions/v1/<name>/* -> function <name>, which sees the path /<name>/*
//   /api/v1/*             -> the `api` function (the existing client's base URL)
//   /rest/v1/*            -> 501: PostgREST is not part of the local stack
// It writes the access log (gateway.log), one JSON line per request, as a hosted project's edge
// logs every function invocation: the function does not log its own requests.
import { ANON_KEY, SERVICE_ROLE_KEY } from "./config.ts";

export interface GatewayRoutes {
  authUrl: string;
  storageUrl: string;
  functions: Map<string, number>; // function name -> port
}

const API_KEYS = new Set([ANON_KEY, SERVICE_ROLE_KEY]);
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

function envelope(status: number, message: string) {
  return Response.json({ success: false, message, data: null, errors: null }, { status });
}

/** Bodies up to this size, with a known length, are passed on whole; others (uploads, SSE) stream. */
const WHOLE_BODY_BYTES = 64 * 1024;

function isSmall(headers: Headers) {
  const length = Number(headers.get("content-length") ?? Number.NaN);
  return length <= WHOLE_BODY_BYTES; // false when absent (chunked, a stream)
}

/** One request, as the access log records it: no query string (signed URLs carry tokens), no headers or bodies. */
export interface AccessEntry {
  method: string;
  path: string;
  status: number;
  ms: number; // until the response's head (a stream's body may go on)
}

/**
 * The access log file, appended in batches: a write per request cost the stack's process about
 * 0.1 ms of CPU each (the function's log line, piped through it, did). Lines wait at most
 * FLUSH_MS; flush() writes what waits (on stop).
 */
export class AccessLog {
  static readonly FLUSH_MS = 100;
  #file: Deno.FsFile;
  #waiting: string[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #encoder = new TextEncoder();

  constructor(path: string) {
    this.#file = Deno.openSync(path, { create: true, append: true });
  }

  add(entry: AccessEntry) {
    this.#waiting.push(JSON.stringify(entry) + "\n");
    if (this.#timer === null) {
      const timer = setTimeout(() => this.flush(), AccessLog.FLUSH_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  flush() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const bytes = this.#encoder.encode(this.#waiting.join(""));
    this.#waiting = [];
    for (let done = 0; done < bytes.length;) done += this.#file.writeSync(bytes.subarray(done));
  }
}

async function forward(req: Request, target: string, clientIp: string): Promise<Response> {
  const headers = new Headers(req.headers);
  headers.delete("host");
  // The gateway is the edge: the address it saw is the client's. A client-sent X-Forwarded-For is
  // replaced, never extended, or any client could pick its own key for Auth's per-IP limits.
  headers.set("x-forwarded-for", clientIp);
  try {
    // A small body is read whole and sent as bytes: piping a stream through costs the gateway more
    // CPU per request than the few bytes of a JSON request or answer.
    const upstream = await fetch(target, {
      method: req.method,
      headers,
      body: req.body && isSmall(req.headers) ? await req.arrayBuffer() : req.body,
      redirect: "manual",
      signal: req.signal,
    });
    const body = upstream.body && isSmall(upstream.headers) ? await upstream.arrayBuffer() : upstream.body;
    return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers: upstream.headers });
  } catch (err) {
    if (req.signal.aborted) return new Response(null, { status: 499 });
    console.error(`gateway: upstream ${new URL(target).host} failed: ${(err as Error).message}`);
    return envelope(502, "The upstream service did not answer.");
  }
}

export function gatewayHandler(routes: GatewayRoutes, log?: (entry: AccessEntry) => void) {
  const route = routeHandler(routes);
  if (!log) return route;
  return async (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const started = performance.now();
    const res = await route(req, info);
    log({ method: req.method, path: new URL(req.url).pathname, status: res.status, ms: Math.round(performance.now() - started) });
    return res;
  };
}

function routeHandler(routes: GatewayRoutes) {
  return (req: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response> => {
    // Methods fetch cannot forward (TRACE, CONNECT) or that no route uses: 405, like the function.
    if (!METHODS.has(req.method)) {
      return Response.json({ success: false, message: `Method ${req.method} not allowed`, data: null, errors: null }, {
        status: 405,
        headers: { Allow: [...METHODS].join(", ") },
      });
    }
    const url = new URL(req.url);
    const path = url.pathname;
    const clientIp = (info.remoteAddr as Deno.NetAddr).hostname;

    if (path === "/auth/v1" || path.startsWith("/auth/v1/")) {
      const key = req.headers.get("apikey") ?? url.searchParams.get("apikey");
      if (!key) return Response.json({ message: "No API key found in request", hint: "No `apikey` request header or url param was found." }, { status: 401 });
      if (!API_KEYS.has(key)) return Response.json({ message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." }, { status: 401 });
      return forward(req, routes.authUrl + path.slice("/auth/v1".length) + url.search, clientIp);
    }

    if (path === "/storage/v1" || path.startsWith("/storage/v1/")) {
      return forward(req, routes.storageUrl + path.slice("/storage/v1".length) + url.search, clientIp);
    }

    const fn = path.match(/^\/functions\/v1\/([^/]+)(\/.*)?$/);
    if (fn) {
      const port = routes.functions.get(fn[1]);
      if (!port) return envelope(404, `Function not found: ${fn[1]}`);
      return forward(req, `http://127.0.0.1:${port}/${fn[1]}${fn[2] ?? ""}${url.search}`, clientIp);
    }

    if (path === "/api/v1" || path.startsWith("/api/v1/")) {
      const port = routes.functions.get("api");
      if (!port) return envelope(404, "Function not found: api");
      return forward(req, `http://127.0.0.1:${port}${path}${url.search}`, clientIp);
    }

    if (path === "/rest/v1" || path.startsWith("/rest/v1/")) {
      return envelope(501, "PostgREST (/rest/v1) is not part of the local stack; use /api/v1, or a hosted project or `supabase start` for direct table access.");
    }

    return envelope(404, `No route for ${path}`);
  };
}
