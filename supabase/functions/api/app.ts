import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { isDatabaseUnavailable } from "../_shared/db.ts";
import { ApiError, CORS_HEADERS, envelope, PREFLIGHT_HEADERS } from "../_shared/http.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { docsRoutes } from "./routes/docs.ts";
import { documentRoutes } from "./routes/documents.ts";
import { healthRoutes } from "./routes/health.ts";
import { keyRoutes } from "./routes/keys.ts";
import { messageRoutes } from "./routes/messages.ts";
import { userRoutes } from "./routes/users.ts";
import { allowedMethods } from "./route.ts";

export const BASE = "/api/v1";

// strict: false — every route answers with and without a trailing slash.
export const app = new Hono({ strict: false }).basePath(BASE);

// No access log here: requests are logged where they arrive, by the platform on a hosted project
// (each invocation: method, path, status, duration) and by the local stack's gateway (gateway.log).
// The function logs only what goes wrong (console.error).
app.use("*", async (c, next) => {
  // CORS preflight: no route runs
  if (c.req.method === "OPTIONS") return new Response(null, { status: 204, headers: PREFLIGHT_HEADERS });
  await next();
  for (const [k, v] of Object.entries(CORS_HEADERS)) c.res.headers.set(k, v);
  return c.res;
});

healthRoutes(app);
userRoutes(app);
conversationRoutes(app);
messageRoutes(app);
keyRoutes(app);
documentRoutes(app);
docsRoutes(app);

app.notFound((c) => {
  const allow = allowedMethods(c.req.path, BASE);
  if (allow.length) {
    return c.json(envelope(false, `Method ${c.req.method} not allowed here; use ${allow.join(", ")}`), 405, {
      Allow: allow.join(", "),
    });
  }
  return c.json(envelope(false, `No route for ${c.req.method} ${c.req.path}`), 404);
});

app.onError((err, c) => {
  if (err instanceof ApiError) {
    return c.json(envelope(false, err.message, null, err.errors), err.status as 400, err.headers);
  }
  if (err instanceof HTTPException) return c.json(envelope(false, err.message || "Request failed"), err.status);
  if (isDatabaseUnavailable(err)) {
    console.error(
      `database unavailable on ${c.req.method} ${c.req.path}: ${(err as { code?: string }).code ?? err.name}`,
    );
    return c.json(envelope(false, "The database is unavailable; retry shortly"), 503, { "Retry-After": "2" });
  }
  // Unexpected: log the kind of error for the operator, show nothing internal to the client.
  console.error(
    `unhandled error on ${c.req.method} ${c.req.path}: ${err.name}: ${(err as { code?: string }).code ?? ""}`,
  );
  return c.json(envelope(false, "Internal error"), 500);
});
