// The OpenAPI 3.1 description, generated from the route declarations and their zod schemas.
import { z } from "zod";
import { registry } from "./route.ts";

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  400: "Invalid input (field errors in `errors`)",
  401: "No, bad, expired or revoked token",
  404: "Unknown id, or another user's",
  405: "Wrong method",
  409: "Conflict: a duplicate, or a message deleted while it was being answered",
  413: "Body too large",
  415: "Not JSON",
  422: "The provider rejected the key",
  429: "Rate or budget limit",
  502: "The provider failed",
  503: "A dependency is down",
  504: "The provider timed out",
};

function jsonSchema(schema: z.ZodType, io: "input" | "output") {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

// Text no field can hold (route.ts refuses it in any JSON body): NUL, which Postgres text cannot
// store. (The other, a lone UTF-16 surrogate, is not Unicode, so not a JSON Schema string.)
const STORABLE_TEXT = "^[^\\x00]*$";

/** Adds STORABLE_TEXT to every string of a request schema that has no pattern of its own (those exclude NUL already). */
function storableStrings(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(storableStrings);
  if (!schema || typeof schema !== "object") return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, storableStrings(v)]));
  if (out.type === "string" && out.pattern === undefined && out.format === undefined) out.pattern = STORABLE_TEXT;
  return out;
}

/** The 400 of a route: what its schemas refuse, and each rule beyond them (RouteDef.invalidWhen). */
function invalidInput(def: (typeof registry)[number]): string {
  const beyond = [
    ...(def.invalidWhen ?? []),
    ...(def.body
      ? ["malformed JSON, a body that is not UTF-8, or text with a lone UTF-16 surrogate (not Unicode)"]
      : []),
  ];
  return "Invalid input: the request does not match its schema (field errors in `errors`)" +
    (beyond.length ? `; also when ${beyond.join("; ")}` : "");
}

function envelopeOf(data: Record<string, unknown>) {
  return {
    type: "object",
    required: ["success", "message", "data", "errors"],
    properties: {
      success: { type: "boolean" },
      message: { type: "string" },
      data,
      errors: { type: ["object", "null"] },
    },
  };
}

export function openApiDocument(serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const def of registry) {
    const path = def.path.replace(/:([A-Za-z_]+)/g, "{$1}");
    const params = [...def.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (def.query) {
      const q = jsonSchema(def.query, "input") as { properties?: Record<string, unknown> };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        params.push({ name, in: "query", required: false, schema } as never);
      }
    }
    const text = (status: number) => def.statusText?.[status] ?? STATUS_TEXT[status];
    const success = String(def.status ?? 200);
    const successContent = {
      "application/json": { schema: envelopeOf(def.response ? jsonSchema(def.response, "output") : { type: "null" }) },
    };
    const responses: Record<string, unknown> = {
      [success]: { description: text(def.status ?? 200), content: successContent },
    };
    for (const [status, description] of Object.entries(def.alsoOk ?? {})) {
      responses[status] = { description, content: successContent };
    }
    // What every route of its kind answers, plus the route's own: bad query or body 400, oversized
    // 413, not JSON 415, no/bad token 401, unknown id 404, database unavailable 503.
    const errorStatuses = new Set([
      ...(def.errors ?? []),
      ...(def.body || def.rawBody ? [400, 413, 415] : []),
      ...(def.query ? [400] : []),
      ...(def.auth ? [401, 503] : []),
      ...(params.some((p) => p.in === "path") ? [404] : []),
    ]);
    if (def.streams) {
      // OpenAPI 3.1 reads a text/event-stream schema as the schema of each event (3.2 names it
      // itemSchema): one branch per event name, its `data` a line of JSON with its own schema.
      const events = Object.entries(def.streams.events).map(([name, schema]) => ({
        type: "object",
        required: ["event", "data"],
        properties: {
          event: { const: name },
          data: { type: "string", contentMediaType: "application/json", contentSchema: jsonSchema(schema, "output") },
        },
      }));
      responses["200"] = {
        description: def.streams.description,
        content: {
          "text/event-stream": { schema: { description: "One event: its name and its data", oneOf: events } },
        },
      };
    }
    for (const status of [...errorStatuses].sort()) {
      const data = def.errorsWithData?.includes(status) && def.response
        ? jsonSchema(def.response, "output")
        : { type: "null" };
      const description = status === 400 ? invalidInput(def) : text(status);
      responses[String(status)] = { description, content: { "application/json": { schema: envelopeOf(data) } } };
    }
    paths[path] ??= {};
    paths[path][def.method] = {
      tags: [def.tag],
      summary: def.summary,
      ...(def.description ? { description: def.description } : {}),
      operationId: `${def.method}${
        path.replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string) => (ch ? ch.toUpperCase() : ""))
      }`,
      ...(def.auth ? { security: [{ bearer: [] }] } : { security: [] }),
      ...(params.length ? { parameters: params } : {}),
      // Required unless an empty request (which stands for {}) is valid.
      ...(def.body
        ? {
          requestBody: {
            required: !def.body.safeParse({}).success,
            content: { "application/json": { schema: storableStrings(jsonSchema(def.body, "input")) } },
          },
        }
        : def.rawBody
        ? { requestBody: def.rawBody }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "PDF chatbot API",
      version: "1.0.0",
      description:
        "Every JSON response is the envelope {success, message, data, errors}. Protected routes take `Authorization: Bearer <access token>`.",
    },
    servers: [{ url: serverUrl }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    paths,
  };
}
