// Sending messages, in-process against the test stack's database and fake provider, where a
// test must break the database in the middle of an exchange.
import assert from "node:assert/strict";
import {
  adminDb,
  createUser,
  fakeKey,
  loadApi,
  postgresCtl,
  quietTest as test,
  request,
  waitUntil,
} from "../test-support.ts";

const { app, sql } = await loadApi({ PROVIDER_TIMEOUT_MS: "10000" });
const db = adminDb();
const call = (method: string, path: string, opts: Parameters<typeof request>[3] = {}) =>
  request(app, method, path, opts);

/** A user with a key whose answers take the fake provider's slow time, and a conversation. */
async function slowExchange() {
  const user = await createUser();
  const key = await call("POST", "/keys", {
    token: user.token,
    body: { name: "slow", provider: "openai", api_key: fakeKey("slow", "chatonly") },
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const conversation = await call("POST", "/conversations", { token: user.token, body: {} });
  return { user, conversationId: conversation.body.data.id as string };
}

/** Runs `send` with the database stopped from shortly after the provider call starts; starts it again after. */
async function withDatabaseDown<T>(send: () => Promise<T>): Promise<T> {
  const stop = new Promise((r) => setTimeout(r, 500)).then(() => postgresCtl("stop"));
  try {
    const [result] = await Promise.all([send(), stop]);
    return result;
  } finally {
    await postgresCtl("start");
  }
}

const NOT_STORED = /^The provider answered, but the answer could not be stored: the database is unavailable/;

/** Once the database is back, the answer is stored and billed exactly once, and the message is complete. */
async function billedOnce(user: { id: string }, userMessageId: string) {
  await waitUntil(
    "the answer is stored",
    async () => (await db`select status from public.messages where id = ${userMessageId}`)[0]?.status === "complete",
  );
  await new Promise((r) => setTimeout(r, 1_000)); // a second store, were there one, would land by now
  const usage = await db`select outcome, completion_tokens from public.usage_events where user_id = ${user.id}`;
  assert.deepEqual(usage.map((u) => u.outcome), ["ok"]);
  assert.ok(usage[0].completion_tokens > 0);
  const answers =
    await db`select count(*)::int as n from public.messages where user_id = ${user.id} and role = 'assistant'`;
  assert.equal(answers[0].n, 1);
}

test("an answer that arrives while the database is down: 503 saying so, then stored and billed once it is back", async () => {
  const { user, conversationId } = await slowExchange();
  const res = await withDatabaseDown(() =>
    call("POST", `/conversations/${conversationId}/messages`, { token: user.token, body: { message: "hi" } })
  );
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.match(res.body.message, NOT_STORED);
  await billedOnce(user, res.body.errors.user_message_id);
});

test("streamed: the error event says the answer could not be stored (503), and it is billed once the database is back", async () => {
  const { user, conversationId } = await slowExchange();
  const res = await withDatabaseDown(() =>
    call("POST", `/conversations/${conversationId}/messages`, {
      token: user.token,
      body: { message: "hi", stream: true },
    })
  );
  assert.equal(res.status, 200);
  const events = String(res.body).split("\n\n").filter(Boolean).map((block) => ({
    event: block.match(/^event: (.*)$/m)?.[1],
    data: JSON.parse(block.match(/^data: (.*)$/m)?.[1] ?? "null"),
  }));
  assert.ok(events.some((e) => e.event === "delta"), "the answer streamed");
  const error = events.find((e) => e.event === "error");
  assert.ok(error, JSON.stringify(events));
  assert.equal(error.data.status, 503);
  assert.match(error.data.message, NOT_STORED);
  await billedOnce(user, error.data.errors.user_message_id);
});

test("a message waiting for its answer is pending: listed so, and not part of another message's context", async () => {
  const { user, conversationId } = await slowExchange();
  const first = call("POST", `/conversations/${conversationId}/messages`, {
    token: user.token,
    body: { message: "the first question, still waiting" },
  });
  await waitUntil(
    "the first message is stored",
    async () => (await db`select 1 from public.messages where conversation_id = ${conversationId}`).length === 1,
  );
  const listed = await call("GET", `/conversations/${conversationId}/messages`, { token: user.token });
  assert.deepEqual(listed.body.data.map((m: { status: string }) => m.status), ["pending"]);

  // Meanwhile a second message, answered at once by another key: the fake provider counts the
  // prompt's characters (ceil(chars / 4) tokens), so its prompt holds only "second" (2 tokens).
  const fast = await call("POST", "/keys", {
    token: user.token,
    body: { name: "fast", provider: "openai", api_key: fakeKey() },
  });
  await call("PATCH", `/conversations/${conversationId}`, {
    token: user.token,
    body: { api_key_id: fast.body.data.id },
  });
  const second = await call("POST", `/conversations/${conversationId}/messages`, {
    token: user.token,
    body: { message: "second" },
  });
  assert.equal(second.status, 201, JSON.stringify(second.body));
  assert.equal(second.body.data.usage.prompt_tokens, 2);
  assert.equal(second.body.data.user_message.status, "complete");

  assert.equal((await first).status, 201);
  const after = await call("GET", `/conversations/${conversationId}/messages`, { token: user.token });
  assert.deepEqual(after.body.data.map((m: { status: string }) => m.status), [
    "complete",
    "complete",
    "complete",
    "complete",
  ]);
});

test("a message whose request died shows failed (interrupted) once its reservation expired, not pending forever", async () => {
  const user = await createUser();
  const key = await call("POST", "/keys", {
    token: user.token,
    body: { name: "k", provider: "openai", api_key: fakeKey() },
  });
  const conversation = await call("POST", "/conversations", { token: user.token, body: {} });
  const conversationId = conversation.body.data.id;
  // What a request leaves behind when its function instance dies after begin_exchange.
  const claims = JSON.stringify({ sub: user.id, role: "authenticated" });
  await db.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
    await tx`select private.begin_exchange(${conversationId}, ${key.body.data.id}, 'lost', 'gpt-4o-mini', 10, 10, 600)`;
  });
  const before = await call("GET", `/conversations/${conversationId}/messages`, { token: user.token });
  assert.deepEqual(before.body.data.map((m: { status: string }) => m.status), ["pending"]);
  await db`update private.budget_reservations set expires_at = now() - interval '1 second' where user_id = ${user.id}`;
  const after = await call("GET", `/conversations/${conversationId}/messages`, { token: user.token });
  assert.deepEqual(after.body.data.map((m: { status: string; error_code: string }) => [m.status, m.error_code]), [[
    "failed",
    "interrupted",
  ]]);
});

test("deleting the pending message during the provider call: 409, and the call is still billed", async () => {
  const { user, conversationId } = await slowExchange();
  const sending = call("POST", `/conversations/${conversationId}/messages`, {
    token: user.token,
    body: { message: "never mind" },
  });
  await waitUntil(
    "the message is stored",
    async () => (await db`select 1 from public.messages where conversation_id = ${conversationId}`).length === 1,
  );
  // What a supabase-js client may do directly: delete its own message.
  const claims = JSON.stringify({ sub: user.id, role: "authenticated" });
  await db.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
    await tx`delete from public.messages where conversation_id = ${conversationId}`;
  });
  const res = await sending;
  assert.equal(res.status, 409, JSON.stringify(res.body));
  const usage = await db`select outcome, message_id from public.usage_events where user_id = ${user.id}`;
  assert.deepEqual(usage.map((u) => [u.outcome, u.message_id]), [["ok", null]]);
});

test("pools close", async () => {
  await sql.end();
  await db.end();
});
