// The OpenAPI document is the contract: real responses of every documented operation, success
// and errors, must have a documented status and a body that validates against its schema.
import { runInNewContext } from "node:vm";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_URL } from "../support/env.ts";
import { settled } from "../support/documents.ts";
import { makePdf } from "../support/pdfs.ts";
import { fakeKey } from "../support/providers.ts";
import { api, type ApiReply, createUser, db, type TestUser } from "../support/users.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

let doc: Doc;
let user: TestUser;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
const validators = new Map<string, ValidateFunction>();
const exercised = new Set<string>();
const unknownId = "00000000-0000-4000-8000-000000000000";

beforeAll(async () => {
  doc = (await api("GET", "/openapi.json")).body;
  user = await createUser("contract");
});
afterAll(() => db.end());

/** `template` is the documented path (with {id}); `path` the one requested. Checks the reply against the document. */
function conforms(method: string, template: string, reply: ApiReply, streamed = false) {
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  const documented = op.responses[String(reply.status)];
  expect(
    documented,
    `${method} ${template} answered ${reply.status}, documented: ${Object.keys(op.responses)}; ${
      JSON.stringify(reply.body)
    }`,
  )
    .toBeDefined();
  exercised.add(`${method} ${template}`);
  if (streamed) {
    expect(reply.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const media = documented.content["text/event-stream"];
    expect(media).toBeDefined();
    eventsConform(`${method} ${template}`, media.schema, reply.body as string);
    return;
  }
  const key = `${method} ${template} ${reply.status}`;
  if (!validators.has(key)) validators.set(key, ajv.compile(documented.content["application/json"].schema));
  const validate = validators.get(key)!;
  expect(
    validate(reply.body),
    `${key}: ${ajv.errorsText(validate.errors)}; ${JSON.stringify(reply.body).slice(0, 400)}`,
  ).toBe(true);
}

/**
 * Every event of a stream is one the document declares (its schema describes each event: name and
 * data), and its data validates against the schema declared for that event's name.
 */
// deno-lint-ignore no-explicit-any
function eventsConform(operation: string, schema: any, text: string) {
  expect(schema?.oneOf, `${operation}: its events are declared`).toBeDefined();
  const frames = text.split("\n\n").filter((f) => f.trim());
  expect(frames.length, `${operation}: some events were sent`).toBeGreaterThan(0);
  for (const frame of frames) {
    const sent = {
      event: frame.match(/^event: (.*)$/m)?.[1] ?? "message",
      data: frame.match(/^data: (.*)$/m)?.[1] ?? "",
    };
    const key = `${operation} events`;
    if (!validators.has(key)) validators.set(key, ajv.compile(schema));
    const validate = validators.get(key)!;
    expect(validate(sent), `${key}: ${ajv.errorsText(validate.errors)}; ${frame.slice(0, 200)}`).toBe(true);
    // deno-lint-ignore no-explicit-any
    const declared = schema.oneOf.find((e: any) =>
      e.properties.event.const === sent.event
    ).properties.data.contentSchema;
    const dataKey = `${operation} event ${sent.event}`;
    if (!validators.has(dataKey)) validators.set(dataKey, ajv.compile(declared));
    const validateData = validators.get(dataKey)!;
    expect(
      validateData(JSON.parse(sent.data)),
      `${dataKey}: ${ajv.errorsText(validateData.errors)}; ${sent.data.slice(0, 400)}`,
    ).toBe(true);
  }
}

const requestForms = new Set<string>();

/**
 * The request side: every query parameter sent is documented for the operation, and the body's
 * media type is one its requestBody lists; `sent`, when given, must validate against that schema
 * (for a multipart body: its fields, by name).
 */
function requestConforms(method: string, template: string, path: string, contentType: string | null, sent?: unknown) {
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  const documentedQuery = (op.parameters ?? []).filter((p: { in: string }) => p.in === "query").map((
    p: { name: string },
  ) => p.name);
  for (const name of new URL(path, "http://x").searchParams.keys()) {
    expect(documentedQuery, `${method} ${template}: query parameter ${name} is documented`).toContain(name);
  }
  if (contentType === null) return;
  const media = op.requestBody?.content?.[contentType];
  expect(
    media,
    `${method} ${template}: a ${contentType} body is documented (documented: ${
      Object.keys(op.requestBody?.content ?? {})
    })`,
  ).toBeDefined();
  requestForms.add(`${method} ${template} ${contentType}`);
  if (sent === undefined) return;
  const validate = ajv.compile(media.schema);
  expect(validate(sent), `${method} ${template} ${contentType} request: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

/** POST /documents in one of its request forms; the reply is checked against the document by the caller. */
async function upload(
  form: "multipart/form-data" | "application/pdf" | "application/octet-stream",
  bytes: Uint8Array<ArrayBuffer>,
  filename: string,
) {
  let path = "/documents", body: BodyInit, sent: unknown;
  const headers: Record<string, string> = { authorization: `Bearer ${user.token}` };
  if (form === "multipart/form-data") {
    const data = new FormData();
    data.set("file", new Blob([bytes], { type: "application/pdf" }), filename);
    body = data;
    sent = { file: filename };
  } else {
    path += `?filename=${encodeURIComponent(filename)}`;
    headers["content-type"] = form;
    body = bytes;
    sent = "<the PDF's bytes>";
  }
  requestConforms("POST", "/documents", path, form, sent);
  const res = await fetch(`${API_URL}/api/v1${path}`, { method: "POST", headers, body });
  const reply: ApiReply = { status: res.status, headers: res.headers, body: await res.json() };
  conforms("POST", "/documents", reply);
  return reply;
}

async function check(
  method: string,
  template: string,
  opts: { path?: string; body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
) {
  requestConforms(
    method,
    template,
    opts.path ?? template,
    opts.body === undefined ? null : (opts.headers?.["content-type"] ?? "application/json"),
  );
  const reply = await api(method, opts.path ?? template, {
    token: opts.token === null ? undefined : (opts.token ?? user.token),
    body: opts.body,
    headers: opts.headers,
  });
  conforms(method, template, reply, (reply.headers.get("content-type") ?? "").startsWith("text/event-stream"));
  return reply;
}

describe("the OpenAPI document matches what the API does", () => {
  it("names the URL the stack serves the API at, from configuration, never one a client sent", async () => {
    const forged = await api("GET", "/openapi.json", { headers: { "x-forwarded-host": "evil.example" } });
    expect(forged.body.servers).toEqual([{ url: `${API_URL}/api/v1` }]);
  });

  it("the /docs page renders every documented operation", async () => {
    // The page's own script, run against the real /openapi.json with a stand-in for the DOM.
    const html = await (await fetch(`${API_URL}/api/v1/docs`)).text();
    const script = html.match(/<script>([\s\S]*?)<\/script>/)![1];
    // A page whose script throws stays at "Loading…".
    const shown = { intro: { textContent: "" }, ops: { innerHTML: "Loading…" } };
    runInNewContext(script, {
      document: { getElementById: (id: "intro" | "ops") => shown[id] },
      location: { pathname: "/api/v1/docs" },
      fetch: (path: string) => fetch(`${API_URL}${path}`).then((r) => r.json()).then((body) => ({ json: () => body })),
    });
    for (let i = 0; i < 100 && shown.ops.innerHTML === "Loading…"; i++) await new Promise((r) => setTimeout(r, 50));
    const page = (await api("GET", "/openapi.json")).body;
    const operations = Object.values(page.paths).flatMap((ops) => Object.keys(ops as object));
    expect(shown.ops.innerHTML.match(/class="op"/g)?.length, "every operation is on the page").toBe(operations.length);
    expect(shown.ops.innerHTML).toContain("application/pdf");
  });

  it("validates real responses of every documented operation", async () => {
    // health and accounts (Auth's answers are 503 where the stack runs no Auth server; both are documented)
    await check("GET", "/health", { token: null });
    await check("POST", "/users/join", {
      token: null,
      body: { username: `contract_${Date.now() % 1e8}`, password: "long-enough-password" },
    });
    await check("POST", "/users/join", { token: null, body: { username: "x", password: "long-enough-password" } });
    await check("POST", "/users/login", {
      token: null,
      body: { username: "nobody_here", password: "whatever-password" },
    });
    await check("POST", "/users/login", { token: null, body: { username: "nobody_here" } });
    await check("POST", "/users/refresh", { token: null, body: {} });
    await check("POST", "/users/refresh", { token: null, body: { refresh_token: "not-a-real-one" } });
    await check("GET", "/users/me");
    await check("GET", "/users/me", { token: null });

    // keys
    const created = await check("POST", "/keys", {
      body: { name: "contract", provider: "openai", api_key: fakeKey("openai") },
    });
    expect(created.status).toBe(201);
    const keyId = created.body.data.id;
    await check("POST", "/keys", { body: { name: "no provider", api_key: fakeKey("openai") } });
    await check("POST", "/keys", {
      body: { name: "refused", provider: "openai", api_key: fakeKey("openai", "fail401") },
    });
    await check("GET", "/keys");
    await check("PATCH", "/keys/{id}", { path: `/keys/${keyId}`, body: { name: "renamed", monthly_budget_usd: 5 } });
    await check("PATCH", "/keys/{id}", { path: `/keys/${keyId}`, body: {} });
    await check("PATCH", "/keys/{id}", { path: `/keys/${unknownId}`, body: { name: "x" } });

    // conversations and messages
    const conversation = await check("POST", "/conversations", { body: { title: "contract" } });
    expect(conversation.status).toBe(201);
    const conversationId = conversation.body.data.id;
    await check("POST", "/conversations");
    await check("POST", "/conversations", { body: { title: 5 } });
    await check("GET", "/conversations");
    await check("GET", "/conversations", { path: "/conversations?limit=0" });
    const answered = await check("POST", "/conversations/{id}/messages", {
      path: `/conversations/${conversationId}/messages`,
      body: { message: "hello" },
    });
    expect(answered.status).toBe(201);
    await check("POST", "/conversations/{id}/messages", {
      path: `/conversations/${conversationId}/messages`,
      body: { message: "hello", stream: true },
    });
    await check("POST", "/conversations/{id}/messages", {
      path: `/conversations/${conversationId}/messages`,
      body: {},
    });
    // A streamed answer that fails ends with the `error` event.
    const failing = await check("POST", "/keys", {
      body: { name: "fails", provider: "openai", api_key: fakeKey("openai", "chatonly", "fail500") },
    });
    const failingConversation = await check("POST", "/conversations", { body: { api_key_id: failing.body.data.id } });
    const streamedFailure = await check("POST", "/conversations/{id}/messages", {
      path: `/conversations/${failingConversation.body.data.id}/messages`,
      body: { message: "hello", stream: true },
    });
    expect(streamedFailure.body).toMatch(/^event: error$/m);
    await check("GET", "/conversations/{id}/messages", { path: `/conversations/${conversationId}/messages` });
    await check("GET", "/conversations/{id}/messages", { path: `/conversations/${conversationId}/messages?offset=-1` });
    await check("GET", "/conversations/{id}", { path: `/conversations/${conversationId}` });
    await check("GET", "/conversations/{id}", { path: `/conversations/${unknownId}` });
    await check("PATCH", "/conversations/{id}", {
      path: `/conversations/${conversationId}`,
      body: { title: "renamed" },
    });
    await check("PATCH", "/conversations/{id}", { path: `/conversations/${conversationId}`, body: {} });
    for (const template of ["/keys/{id}/statistics", "/keys/{id}/statics"]) {
      await check("GET", template, { path: template.replace("{id}", keyId) });
      await check("GET", template, { path: template.replace("{id}", unknownId) });
    }
    // documents, and a conversation's documents
    // Every documented request form of the upload is accepted; a duplicate is the documented 200.
    const contractPdf = await makePdf([{ lines: ["The contract page says hello."] }]);
    const uploaded = await upload("multipart/form-data", contractPdf, "contract.pdf");
    expect(uploaded.status).toBe(201);
    expect(uploaded.body.data.filename).toBe("contract.pdf");
    const asBody = await upload(
      "application/pdf",
      await makePdf([{ lines: ["Sent as the bare body."] }]),
      "bare body.pdf",
    );
    expect(asBody.status).toBe(201);
    expect(asBody.body.data.filename).toBe("bare body.pdf");
    const asOctets = await upload(
      "application/octet-stream",
      await makePdf([{ lines: ["Sent as octets."] }]),
      "octets.pdf",
    );
    expect(asOctets.status).toBe(201);
    expect(asOctets.body.data.filename).toBe("octets.pdf");
    const again = await upload("application/pdf", contractPdf, "again.pdf");
    expect([again.status, again.body.data.id]).toEqual([200, uploaded.body.data.id]);
    const notPdf = await upload(
      "multipart/form-data",
      new TextEncoder().encode("not a pdf at all") as Uint8Array<ArrayBuffer>,
      "fake.pdf",
    );
    expect(notPdf.status).toBe(415);
    // A body of an undocumented type (JSON here) is the documented 415.
    const asJson = await api("POST", "/documents", { token: user.token, body: { file: "contract.pdf" } });
    conforms("POST", "/documents", asJson);
    expect(asJson.status).toBe(415);
    const documentId = uploaded.body.data.id;
    await settled(documentId);
    await check("GET", "/documents");
    await check("GET", "/documents/{id}", { path: `/documents/${documentId}` });
    await check("GET", "/documents/{id}", { path: `/documents/${unknownId}` });
    await check("GET", "/documents/{id}/file", { path: `/documents/${documentId}/file` });
    await check("GET", "/documents/{id}/progress", { path: `/documents/${documentId}/progress` });
    await check("POST", "/documents/{id}/reindex", { path: `/documents/${documentId}/reindex` });
    await check("POST", "/documents/{id}/reindex", { path: `/documents/${unknownId}/reindex` });
    await check("POST", "/conversations/{id}/documents", {
      path: `/conversations/${conversationId}/documents`,
      body: { document_id: documentId },
    });
    await check("POST", "/conversations/{id}/documents", {
      path: `/conversations/${conversationId}/documents`,
      body: { document_id: unknownId },
    });
    await check("GET", "/conversations/{id}/documents", { path: `/conversations/${conversationId}/documents` });
    await check("DELETE", "/conversations/{id}/documents/{document_id}", {
      path: `/conversations/${conversationId}/documents/${documentId}`,
    });
    await check("DELETE", "/documents/{id}", { path: `/documents/${documentId}` });
    await check("DELETE", "/documents/{id}", { path: `/documents/${documentId}` });

    await check("DELETE", "/conversations/{id}", { path: `/conversations/${conversationId}` });
    await check("DELETE", "/conversations/{id}", { path: `/conversations/${conversationId}` });
    await check("DELETE", "/keys/{id}", { path: `/keys/${keyId}` });
    await check("DELETE", "/keys/{id}", { path: `/keys/${keyId}` });
    await check("POST", "/users/logout");
    await check("POST", "/users/logout", { token: null });

    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`)
    );
    expect([...exercised].sort()).toEqual(documented.sort());
    // ...and every documented request body, in each of its media types.
    const documentedForms = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops as Record<string, { requestBody?: { content: object } }>).flatMap(([m, op]) =>
        Object.keys(op.requestBody?.content ?? {}).map((type) => `${m.toUpperCase()} ${path} ${type}`)
      )
    );
    expect([...requestForms].sort()).toEqual(documentedForms.sort());
  });
});
