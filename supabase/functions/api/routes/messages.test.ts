// Sending messages, in-process against the test stack's database and fake provider, where a
// test must break the database in the middle of an exchange.
import assert from "node:assert/strict";
import { adminDb, createUser, fakeKey, loadApi, quietTest as test, request } from "../test-support.ts";

const { app, sql } = await loadApi({ PROVIDER_TIMEOUT_MS: "10000" });
const db = adminDb();
const call = (method: string, path: string, opts: Parameters<typeof request>[3] = {}) => request(app, method, path, opts);
const STORE_ANSWER = "private.store_answer(uuid, text, text, integer, integer, integer, text, integer)";

/** A user with a key whose answers take the fake provider's slow time, and a conversation. */
async function slowExchange() {
  const user = await createUser(db);
  const key = await call("POST", "/keys", { token: user.token, body: { name: "slow", provider: "openai", api_key: fakeKey("slow", "chatonly") } });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const conversation = await call("POST", "/conversations", { token: user.token, body: {} });
  return { user, conversationId: conversation.body.data.id as string };
}

/** Runs `send` while the database refuses to store answers from shortly after the provider call starts. */
async function withAnswersRefused<T>(send: () => Promise<T>): Promise<T> {
  const refuse = new Promise((r) => setTimeout(r, 500)).then(() => db.unsafe(`revoke execute on function ${STORE_ANSWER} from authenticated`));
  try {
    const [result] = await Promise.all([send(), refuse]);
    return result;
  } finally {
    await db.unsafe(`grant execute on function ${STORE_ANSWER} to authenticated`);
  }
}

const NOT_STORED = /^The provider answered, but the answer could not be stored/;

test("an answer the database does not take is 503 saying so, not a provider failure or a bare 500", async () => {
  const { user, conversationId } = await slowExchange();
  const res = await withAnswersRefused(() => call("POST", `/conversations/${conversationId}/messages`, { token: user.token, body: { message: "hi" } }));
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.match(res.body.message, NOT_STORED);
  assert.equal(typeof res.body.errors.user_message_id, "string");
});

test("streamed: the error event says the answer could not be stored (503), not that the provider failed", async () => {
  const { user, conversationId } = await slowExchange();
  const res = await withAnswersRefused(() =>
    call("POST", `/conversations/${conversationId}/messages`, { token: user.token, body: { message: "hi", stream: true } })
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
});

test("pools close", async () => {
  await sql.end();
  await db.end();
});
