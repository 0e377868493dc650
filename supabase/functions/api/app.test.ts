// The function's own behaviour around every route, in-process.
import assert from "node:assert/strict";
import { adminDb, createUser, loadApi, quietTest as test, request } from "./test-support.ts";

const MAX_BODY_BYTES = 262_144;
// A document limit far below the Storage bucket's (25 MB): only the API's own check can refuse.
const DOCUMENT_MAX_BYTES = 4096;
const { app, sql } = await loadApi({
  MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  DOCUMENT_MAX_BYTES: String(DOCUMENT_MAX_BYTES),
});
const db = adminDb();
const user = await createUser();

test("a CORS preflight is answered 204 with the CORS headers, and no route runs", async () => {
  const res = await request(app, "OPTIONS", "/keys", {
    headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" },
  });
  assert.equal(res.status, 204);
  assert.ok(res.headers.get("access-control-allow-origin"));
  assert.equal(res.headers.get("access-control-expose-headers"), "X-Total-Count");
});

test("a large chunked body is refused 413 after reading no more than the limit, even unauthenticated", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= 64 * 1024 * 1024) return controller.close(); // 64 MB, were it all read
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  const res = await request(app, "POST", "/users/login", {
    rawBody: body,
    headers: { "content-type": "application/json" },
  });
  assert.equal(res.status, 413);
  assert.ok(pulled <= MAX_BODY_BYTES + 2 * chunk.byteLength, `${pulled} bytes were read`);
});

test("an upload above DOCUMENT_MAX_BYTES is refused 413 by the API itself, storing nothing; one at the limit is taken", async () => {
  const pdfOf = (size: number) => {
    const bytes = new Uint8Array(size).fill(0x20);
    bytes.set(new TextEncoder().encode("%PDF-1.7\n"));
    return bytes;
  };
  const documents = async () =>
    (await db`select count(*)::int as n from public.documents where user_id = ${user.id}`)[0].n;
  const over = await request(app, "POST", "/documents?filename=over.pdf", {
    token: user.token,
    rawBody: pdfOf(DOCUMENT_MAX_BYTES + 1),
    headers: { "content-type": "application/pdf" },
  });
  assert.equal(over.status, 413);
  assert.equal(over.body.message, `The file is larger than the limit of ${DOCUMENT_MAX_BYTES} bytes`);
  assert.equal(await documents(), 0);
  const at = await request(app, "POST", "/documents?filename=at.pdf", {
    token: user.token,
    rawBody: pdfOf(DOCUMENT_MAX_BYTES),
    headers: { "content-type": "application/pdf" },
  });
  assert.equal(at.status, 201, JSON.stringify(at.body));
  assert.equal(await documents(), 1);
});

test("NUL characters and lone surrogates are 400 naming the field, and change nothing", async () => {
  const cases: Array<[string, string, string, string]> = [
    ["POST", "/conversations", '{"title":"a\\u0000b"}', "title"],
    ["POST", "/conversations", '{"title":"\\ud800 alone"}', "title"],
    ["POST", "/conversations", '{"system_prompt":"ok","title":"tail \\udc00"}', "title"],
    ["POST", "/keys", '{"name":"n\\u0000","provider":"openai","api_key":"sk-test0123456789abcdef"}', "name"],
    ["POST", "/users/login", '{"username":"someone\\u0000","password":"x"}', "username"],
  ];
  for (const [method, path, json, field] of cases) {
    const res = await request(app, method, path, {
      rawBody: json,
      token: user.token,
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 400, `${json}: ${JSON.stringify(res.body)}`);
    assert.ok(res.body.errors?.[field], `${json}: ${JSON.stringify(res.body)}`);
  }
  const conversation = await request(app, "POST", "/conversations", { token: user.token, body: {} });
  const message = await request(app, "POST", `/conversations/${conversation.body.data.id}/messages`, {
    rawBody: '{"message":"hello\\u0000"}',
    token: user.token,
    headers: { "content-type": "application/json" },
  });
  assert.equal(message.status, 400);
  assert.ok(message.body.errors.message);
  const [{ n }] = await db`select count(*)::int as n from public.conversations where user_id = ${user.id}`;
  assert.equal(n, 1, "only the valid conversation was created");
});

test("a body that is not valid UTF-8 is 400, not stored as U+FFFD", async () => {
  const bytes = new Uint8Array([...new TextEncoder().encode('{"title":"caf'), 0xe9, ...new TextEncoder().encode('"}')]);
  const res = await request(app, "POST", "/conversations", {
    rawBody: bytes,
    token: user.token,
    headers: { "content-type": "application/json" },
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.message, "Request body is not valid UTF-8");
});

test("a provider key with non-Latin-1, non-ASCII or control characters is 400 on api_key, with no provider call", async () => {
  for (
    const apiKey of ["sk-test0123456789abcdef\u4e2d", "sk-test0123456789abcdef\u00e9", "sk-test0123456789\u0007abcdef"]
  ) {
    const res = await request(app, "POST", "/keys", {
      token: user.token,
      body: { name: "k", provider: "openai", api_key: apiKey },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.errors.api_key);
  }
});

test("pools close", async () => {
  await sql.end();
  await db.end();
});
