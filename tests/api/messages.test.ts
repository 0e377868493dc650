// Messages: an exchange with the (fake) provider, plain and streamed, its stored usage and cost,
// listing, the conversation list it feeds, and every way an exchange can fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callApi as api,
  createConversation,
  eventually,
  expectedCost,
  fakeTokens,
  leakedInResponses,
  postMessageStream,
  type Provider,
  registerKey,
  type Switch,
} from "../support/providers.ts";
import { API_URL } from "../support/env.ts";
import { estimateTokens } from "../../supabase/functions/_shared/providers/estimate.ts";
import { createUser, db, type TestUser } from "../support/users.ts";

const tokens = fakeTokens;
const echo = (text: string) => `Echo: ${text}`;

let alice: TestUser;
let aliceKey: { id: string; apiKey: string };

beforeAll(async () => {
  alice = await createUser("msg_alice");
  aliceKey = await registerKey(alice, "openai");
});
afterAll(() => db.end());

const messagesOf = (conversationId: string) =>
  db`select id, role, content, model, status, error_code, api_key_id, prompt_tokens, completion_tokens
     from public.messages where conversation_id = ${conversationId} order by created_at, id`;
const usageOf = (conversationId: string) =>
  db`select api_key_id, message_id, provider, model, prompt_tokens, cached_prompt_tokens, completion_tokens,
            cost_usd::text as cost_usd, priced, usage_source, outcome, error_code
     from public.usage_events where conversation_id = ${conversationId} order by id`;
const send = (user: TestUser, conversationId: string, body: unknown, headers?: Record<string, string>) =>
  api("POST", `/conversations/${conversationId}/messages`, { token: user.token, body, headers });

describe("an exchange (not streamed)", () => {
  let conversationId: string;
  const first = "Hello there, what is in my PDF?";
  const second = "And on page two?";
  const third = "Thanks.";

  it("201 with the user's message, the answer and its usage; cost as computed from model_prices; all stored", async () => {
    conversationId = await createConversation(alice, { title: "exchange" });
    const res = await send(alice, conversationId, { message: first });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, errors: null });
    const { user_message: user, assistant_message: answer, usage } = res.body.data;

    expect(user).toMatchObject({
      conversation_id: conversationId,
      role: "user",
      content: first,
      status: "complete",
      api_key_id: aliceKey.id,
      error_code: null,
    });
    expect(answer).toMatchObject({
      conversation_id: conversationId,
      role: "assistant",
      content: echo(first),
      model: "gpt-4o-mini",
      status: "complete",
      api_key_id: aliceKey.id,
    });

    const prompt = tokens(first.length);
    const completion = tokens(echo(first).length);
    expect(usage).toMatchObject({
      provider: "openai",
      model: "gpt-4o-mini",
      prompt_tokens: prompt,
      cached_prompt_tokens: 0,
      completion_tokens: completion,
      priced: true,
      estimated: false,
    });
    expect(answer).toMatchObject({ prompt_tokens: prompt, completion_tokens: completion });
    const cost = await expectedCost("openai", "gpt-4o-mini", prompt, 0, completion);
    expect(cost).not.toBeNull();
    expect(usage.cost_usd).toBe(cost);
    expect(Number.isInteger(usage.latency_ms) && usage.latency_ms >= 0).toBe(true);

    const stored = await messagesOf(conversationId);
    expect(stored.map((m) => [m.id, m.role, m.content, m.status])).toEqual([
      [user.id, "user", first, "complete"],
      [answer.id, "assistant", echo(first), "complete"],
    ]);
    expect(await usageOf(conversationId)).toEqual([{
      api_key_id: aliceKey.id,
      message_id: answer.id,
      provider: "openai",
      model: "gpt-4o-mini",
      prompt_tokens: prompt,
      cached_prompt_tokens: 0,
      completion_tokens: completion,
      cost_usd: cost,
      priced: true,
      usage_source: "provider",
      outcome: "ok",
      error_code: null,
    }]);
    const [key] = await db`select last_used_at from public.api_keys where id = ${aliceKey.id}`;
    expect(key.last_used_at).not.toBeNull();
  });

  it("later messages carry the history: its characters count into the prompt tokens", async () => {
    const res = await send(alice, conversationId, { message: second });
    expect(res.status).toBe(201);
    expect(res.body.data.assistant_message.content).toBe(echo(second));
    expect(res.body.data.usage.prompt_tokens).toBe(tokens(first.length + echo(first).length + second.length));
    const again = await send(alice, conversationId, { message: third });
    expect(again.status).toBe(201);
  });

  it("GET messages: oldest first, paginated with limit/offset and X-Total-Count", async () => {
    const all = await api("GET", `/conversations/${conversationId}/messages`, { token: alice.token });
    expect(all.status).toBe(200);
    expect(all.headers.get("x-total-count")).toBe("6");
    expect(all.body.data.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ["user", first],
      ["assistant", echo(first)],
      ["user", second],
      ["assistant", echo(second)],
      ["user", third],
      ["assistant", echo(third)],
    ]);
    const stored = await messagesOf(conversationId);
    expect(all.body.data.map((m: { id: string }) => m.id)).toEqual(stored.map((m) => m.id));

    const page = await api("GET", `/conversations/${conversationId}/messages/?limit=2&offset=2`, {
      token: alice.token,
    });
    expect(page.status).toBe(200);
    expect(page.headers.get("x-total-count")).toBe("6");
    expect(page.body.data.map((m: { id: string }) => m.id)).toEqual(stored.slice(2, 4).map((m) => m.id));
    const last = await api("GET", `/conversations/${conversationId}/messages?limit=4&offset=4`, { token: alice.token });
    expect(last.body.data.map((m: { id: string }) => m.id)).toEqual(stored.slice(4).map((m) => m.id));
    const past = await api("GET", `/conversations/${conversationId}/messages?offset=6`, { token: alice.token });
    expect(past.body.data).toEqual([]);
    expect(past.headers.get("x-total-count")).toBe("6");
    for (const q of ["limit=0", "limit=101", "offset=-1", "limit=abc"]) {
      const bad = await api("GET", `/conversations/${conversationId}/messages?${q}`, { token: alice.token });
      expect(bad.status, q).toBe(400);
    }
  });

  it("the conversation list shows message_count, last_message_at and preview, newest activity first", async () => {
    const user = await createUser("msg_lister");
    await registerKey(user, "openai");
    const older = await createConversation(user, { title: "older" });
    const newer = await createConversation(user, { title: "newer" });
    let list = await api("GET", "/conversations", { token: user.token });
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([newer, older]);

    const long = "A long question about chapter one. ".repeat(6).trim();
    const res = await send(user, older, { message: long });
    expect(res.status).toBe(201);
    list = await api("GET", "/conversations", { token: user.token });
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([older, newer]);
    const [o, n] = list.body.data;
    expect(o.message_count).toBe(2);
    expect(o.preview).toBe(echo(long).slice(0, 120));
    expect(new Date(o.last_message_at).getTime()).toBe(new Date(res.body.data.assistant_message.created_at).getTime());
    expect(n).toMatchObject({ message_count: 0, last_message_at: null, preview: null });

    // A message in the other one moves it back to the top.
    expect((await send(user, newer, { message: "me too" })).status).toBe(201);
    list = await api("GET", "/conversations", { token: user.token });
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([newer, older]);
    expect(list.body.data[0]).toMatchObject({ message_count: 2, preview: echo("me too") });
  });
});

describe("models and system prompts", () => {
  it("the conversation's model and system prompt are used; the system prompt counts into the prompt tokens", async () => {
    const system = "You answer questions about PDFs, briefly.";
    const conversationId = await createConversation(alice, { model: "gpt-4.1-mini", system_prompt: system });
    const text = "Summarise it.";
    const res = await send(alice, conversationId, { message: text });
    expect(res.status).toBe(201);
    const { assistant_message: answer, usage } = res.body.data;
    expect(answer.model).toBe("gpt-4.1-mini");
    expect(usage.model).toBe("gpt-4.1-mini");
    expect(usage.prompt_tokens).toBe(tokens(system.length + text.length));
    expect(usage.cost_usd).toBe(
      await expectedCost("openai", "gpt-4.1-mini", usage.prompt_tokens, 0, usage.completion_tokens),
    );

    // A model in the body overrides the conversation's for this message only.
    const next = "And in one word?";
    const override = await send(alice, conversationId, { message: next, model: "gpt-4o" });
    expect(override.status).toBe(201);
    expect(override.body.data.assistant_message.model).toBe("gpt-4o");
    expect(override.body.data.usage.prompt_tokens).toBe(
      tokens(system.length + text.length + echo(text).length + next.length),
    );
    expect(override.body.data.usage.cost_usd).toBe(
      await expectedCost(
        "openai",
        "gpt-4o",
        override.body.data.usage.prompt_tokens,
        0,
        override.body.data.usage.completion_tokens,
      ),
    );
    const [conversation] = await db`select model from public.conversations where id = ${conversationId}`;
    expect(conversation.model).toBe("gpt-4.1-mini");
    expect((await usageOf(conversationId)).map((u) => u.model)).toEqual(["gpt-4.1-mini", "gpt-4o"]);
  });

  it("a conversation's own key (Anthropic) answers instead of the selected one, with its default model", async () => {
    const claude = await registerKey(alice, "anthropic");
    const system = "Be kind.";
    const conversationId = await createConversation(alice, { api_key_id: claude.id, system_prompt: system });
    const text = "What does clause 4 say?";
    const res = await send(alice, conversationId, { message: text });
    expect(res.status).toBe(201);
    const { assistant_message: answer, usage } = res.body.data;
    expect(answer).toMatchObject({ content: echo(text), model: "claude-3-5-haiku-latest", api_key_id: claude.id });
    expect(usage).toMatchObject({
      provider: "anthropic",
      prompt_tokens: tokens(system.length + text.length),
      completion_tokens: tokens(echo(text).length),
      priced: true,
    });
    expect(usage.cost_usd).toBe(
      await expectedCost("anthropic", "claude-3-5-haiku-latest", usage.prompt_tokens, 0, usage.completion_tokens),
    );
    const [event] = await usageOf(conversationId);
    expect(event).toMatchObject({
      api_key_id: claude.id,
      provider: "anthropic",
      outcome: "ok",
      cost_usd: usage.cost_usd,
    });
  });

  it("a conversation whose own key was deleted falls back to the selected key", async () => {
    const user = await createUser("msg_fallback");
    const selected = await registerKey(user, "openai");
    const pinned = await registerKey(user, "anthropic");
    const conversationId = await createConversation(user, { api_key_id: pinned.id });
    const before = await send(user, conversationId, { message: "first, with the pinned key" });
    expect(before.body.data.usage.provider).toBe("anthropic");
    expect((await api("DELETE", `/keys/${pinned.id}`, { token: user.token })).status).toBe(200);
    const after = await send(user, conversationId, { message: "then with the selected one" });
    expect(after.status).toBe(201);
    expect(after.body.data.usage.provider).toBe("openai");
    expect(after.body.data.assistant_message.api_key_id).toBe(selected.id);
    // The earlier messages stay, without the deleted key.
    const stored = await messagesOf(conversationId);
    expect(stored.map((m) => m.api_key_id)).toEqual([null, null, selected.id, selected.id]);
  });

  it("cached prompt tokens are reported and priced at the cached rate (OpenAI and Anthropic)", async () => {
    for (const provider of ["openai", "anthropic"] as const) {
      const cached = await registerKey(alice, provider, ["cached"]);
      const conversationId = await createConversation(alice, { api_key_id: cached.id, system_prompt: "x".repeat(400) });
      const text = "A question that makes the prompt long enough to cache.";
      const res = await send(alice, conversationId, { message: text });
      expect(res.status, provider).toBe(201);
      const prompt = tokens(400 + text.length);
      const { usage } = res.body.data;
      expect(usage, provider).toMatchObject({
        prompt_tokens: prompt,
        cached_prompt_tokens: Math.floor(prompt / 2),
        completion_tokens: tokens(echo(text).length),
      });
      expect(usage.cost_usd, provider).toBe(
        await expectedCost(provider, usage.model, prompt, Math.floor(prompt / 2), usage.completion_tokens),
      );
      const [event] = await usageOf(conversationId);
      expect(event).toMatchObject({
        prompt_tokens: prompt,
        cached_prompt_tokens: Math.floor(prompt / 2),
        cost_usd: usage.cost_usd,
      });
    }
  });

  it("a model with no price is answered and recorded as unpriced (cost 0)", async () => {
    const conversationId = await createConversation(alice, { model: "gpt-5-experimental" });
    const res = await send(alice, conversationId, { message: "hi" });
    expect(res.status).toBe(201);
    expect(res.body.data.usage).toMatchObject({ model: "gpt-5-experimental", priced: false });
    expect(Number(res.body.data.usage.cost_usd)).toBe(0);
    expect(await expectedCost("openai", "gpt-5-experimental", 1, 0, 1)).toBeNull();
  });
});

describe("streamed exchanges (SSE)", () => {
  const checkStream = async (
    conversationId: string,
    stream: Awaited<ReturnType<typeof postMessageStream>>,
    text: string,
    provider: Provider,
  ) => {
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const names = stream.events.map((e) => e.event);
    expect(names[0]).toBe("start");
    expect(names.at(-1)).toBe("done");
    expect(names.slice(1, -1).every((n) => n === "delta")).toBe(true);
    expect(names.length).toBeGreaterThan(2);
    const deltas = stream.events.filter((e) => e.event === "delta").map((e) => e.data.text).join("");
    const done = stream.events.at(-1)!.data;
    expect(deltas).toBe(echo(text));
    expect(done.assistant_message.content).toBe(deltas);
    expect(stream.events[0].data.user_message).toMatchObject({ id: done.user_message.id, role: "user", content: text });
    expect(done.usage).toMatchObject({
      provider,
      prompt_tokens: tokens(text.length),
      completion_tokens: tokens(echo(text).length),
      estimated: false,
    });
    expect(done.usage.cost_usd).toBe(
      await expectedCost(provider, done.usage.model, done.usage.prompt_tokens, 0, done.usage.completion_tokens),
    );

    const stored = await messagesOf(conversationId);
    expect(stored.map((m) => [m.id, m.role, m.content, m.status])).toEqual([
      [done.user_message.id, "user", text, "complete"],
      [done.assistant_message.id, "assistant", deltas, "complete"],
    ]);
    const [event] = await usageOf(conversationId);
    expect(event).toMatchObject({
      message_id: done.assistant_message.id,
      outcome: "ok",
      usage_source: "provider",
      prompt_tokens: done.usage.prompt_tokens,
      completion_tokens: done.usage.completion_tokens,
      cost_usd: done.usage.cost_usd,
    });
  };

  it("stream: true gives start, delta…, done with the stored ids and usage; the deltas are the stored answer", async () => {
    const conversationId = await createConversation(alice);
    const text = "Stream me a short answer please";
    const stream = await postMessageStream(alice.token, conversationId, { message: text, stream: true });
    await checkStream(conversationId, stream, text, "openai");
  });

  it("Accept: text/event-stream asks for a stream too; stream: false overrides it", async () => {
    const conversationId = await createConversation(alice);
    const text = "Streamed because of the Accept header";
    const stream = await postMessageStream(alice.token, conversationId, { message: text }, {
      accept: "text/event-stream",
    });
    await checkStream(conversationId, stream, text, "openai");

    const plain = await send(alice, await createConversation(alice), { message: "not streamed", stream: false }, {
      accept: "text/event-stream",
    });
    expect(plain.status).toBe(201);
    expect(plain.body.data.assistant_message.content).toBe(echo("not streamed"));
  });

  it("an Anthropic stream reports its usage from message_start and message_delta", async () => {
    const user = await createUser("msg_claude_stream");
    await registerKey(user, "anthropic");
    const conversationId = await createConversation(user);
    const text = "Stream from Claude";
    const stream = await postMessageStream(user.token, conversationId, { message: text, stream: true });
    await checkStream(conversationId, stream, text, "anthropic");
  });

  it("a client that disconnects mid-stream still gets the answer stored", async () => {
    const conversationId = await createConversation(alice);
    const text = Array.from({ length: 700 }, (_, i) => `w${i}`).join(" ");
    const controller = new AbortController();
    const res = await fetch(`${API_URL}/api/v1/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
      body: JSON.stringify({ message: text, stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const chunk = await reader.read();
    expect(chunk.done).toBe(false);
    const firstText = new TextDecoder().decode(chunk.value);
    expect(firstText).toContain("event: start");
    expect(firstText).not.toContain("event: done"); // the client really leaves before the end
    controller.abort();
    await reader.cancel().catch(() => {});

    const answer = await eventually(async () => {
      const rows =
        await db`select id, content, status from public.messages where conversation_id = ${conversationId} and role = 'assistant'`;
      return rows.length ? rows[0] : undefined;
    });
    expect(answer).toMatchObject({ content: echo(text), status: "complete" });
    const [userMessage] =
      await db`select status from public.messages where conversation_id = ${conversationId} and role = 'user'`;
    expect(userMessage.status).toBe("complete");
    const events = await eventually(async () => {
      const rows = await usageOf(conversationId);
      return rows.length ? rows : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      message_id: answer.id,
      outcome: "ok",
      usage_source: "provider",
      completion_tokens: tokens(echo(text).length),
    });
  });
});

describe("no usable key, budgets", () => {
  const nothingStored = async (user: TestUser, conversationId: string) => {
    expect(await messagesOf(conversationId)).toEqual([]);
    expect((await db`select count(*)::int as n from public.usage_events where user_id = ${user.id}`)[0].n).toBe(0);
  };

  it("no key at all: 400, and nothing is stored", async () => {
    const user = await createUser("msg_nokey");
    const conversationId = await createConversation(user);
    const res = await send(user, conversationId, { message: "anyone there?" });
    expect(res.status).toBe(400);
    expect(res.body.success).toBe(false);
    expect(res.body.message).toMatch(/key/i);
    const streamed = await postMessageStream(user.token, conversationId, { message: "anyone there?", stream: true });
    expect(streamed.status).toBe(400);
    await nothingStored(user, conversationId);
  });

  it("a key the provider has rejected: 4xx, and nothing is stored", async () => {
    const user = await createUser("msg_invalidkey");
    const key = await registerKey(user, "openai");
    await db`update public.api_keys set is_valid = false where id = ${key.id}`;
    const conversationId = await createConversation(user);
    const res = await send(user, conversationId, { message: "hello?" });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.success).toBe(false);
    await nothingStored(user, conversationId);
  });

  it("a monthly budget of 0 is spent before the first message: 429 before any provider call, nothing stored", async () => {
    const user = await createUser("msg_budget0");
    // This key fails every chat call with a 500: a provider call would show as 502.
    const key = await registerKey(user, "openai", ["chatonly", "fail500"]);
    expect((await api("PATCH", `/keys/${key.id}`, { token: user.token, body: { monthly_budget_usd: 0 } })).status).toBe(
      200,
    );
    const conversationId = await createConversation(user);
    const res = await send(user, conversationId, { message: "over budget" });
    expect(res.status).toBe(429);
    expect(res.body.success).toBe(false);
    expect(res.body.message).toMatch(/budget/i);
    const streamed = await postMessageStream(user.token, conversationId, { message: "over budget", stream: true });
    expect(streamed.status).toBe(429);
    await nothingStored(user, conversationId);
  });

  it("a budget spent this month blocks the key until it is raised", async () => {
    const user = await createUser("msg_budget");
    const key = await registerKey(user, "openai");
    const conversationId = await createConversation(user);
    // Spending recorded earlier this month: 1M output tokens of gpt-4o-mini.
    await db`insert into public.usage_events (user_id, api_key_id, provider, model, completion_tokens, usage_source, outcome)
             values (${user.id}, ${key.id}, 'openai', 'gpt-4o-mini', 1000000, 'provider', 'ok')`;
    const [{ cost }] =
      await db`select sum(cost_usd)::float8 as cost from public.usage_events where api_key_id = ${key.id}`;
    expect(cost).toBeGreaterThan(0);
    await api("PATCH", `/keys/${key.id}`, {
      token: user.token,
      body: { monthly_budget_usd: Math.floor(cost * 100) / 100 },
    });
    const blocked = await send(user, conversationId, { message: "one more" });
    expect(blocked.status).toBe(429);
    expect(await messagesOf(conversationId)).toEqual([]);
    expect((await db`select count(*)::int as n from public.usage_events where user_id = ${user.id}`)[0].n).toBe(1);

    await api("PATCH", `/keys/${key.id}`, {
      token: user.token,
      body: { monthly_budget_usd: Math.ceil(cost * 100) / 100 + 1 },
    });
    const allowed = await send(user, conversationId, { message: "one more" });
    expect(allowed.status).toBe(201);
  });
});

describe("provider failures", () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await createUser("msg_failures");
    await registerKey(user, "openai"); // the selected key; each case below uses its own
  });

  const cases: {
    name: string;
    provider: Provider;
    switches: Switch[];
    status: number;
    kind: string;
    model?: string;
  }[] = [
    { name: "OpenAI 401", provider: "openai", switches: ["chatonly", "fail401"], status: 422, kind: "invalid_key" },
    {
      name: "Anthropic 401",
      provider: "anthropic",
      switches: ["chatonly", "fail401"],
      status: 422,
      kind: "invalid_key",
    },
    { name: "OpenAI 429", provider: "openai", switches: ["chatonly", "fail429"], status: 429, kind: "rate_limited" },
    {
      name: "Anthropic 429",
      provider: "anthropic",
      switches: ["chatonly", "fail429"],
      status: 429,
      kind: "rate_limited",
    },
    {
      name: "OpenAI insufficient_quota",
      provider: "openai",
      switches: ["chatonly", "quota"],
      status: 429,
      kind: "quota_exceeded",
    },
    {
      name: "Anthropic credit balance too low",
      provider: "anthropic",
      switches: ["chatonly", "quota"],
      status: 429,
      kind: "quota_exceeded",
    },
    { name: "OpenAI 500", provider: "openai", switches: ["chatonly", "fail500"], status: 502, kind: "unavailable" },
    {
      name: "Anthropic 500",
      provider: "anthropic",
      switches: ["chatonly", "fail500"],
      status: 502,
      kind: "unavailable",
    },
    {
      name: "Anthropic 529 overloaded",
      provider: "anthropic",
      switches: ["chatonly", "fail529"],
      status: 502,
      kind: "unavailable",
    },
    {
      name: "OpenAI 503 overloaded",
      provider: "openai",
      switches: ["chatonly", "fail529"],
      status: 502,
      kind: "unavailable",
    },
    {
      name: "OpenAI connection cut without a body",
      provider: "openai",
      switches: ["chatonly", "cut"],
      status: 502,
      kind: "unavailable",
    },
    {
      name: "Anthropic connection cut without a body",
      provider: "anthropic",
      switches: ["chatonly", "cut"],
      status: 502,
      kind: "unavailable",
    },
    { name: "OpenAI too slow", provider: "openai", switches: ["chatonly", "slow"], status: 504, kind: "timeout" },
    { name: "Anthropic too slow", provider: "anthropic", switches: ["chatonly", "slow"], status: 504, kind: "timeout" },
    {
      name: "unknown model",
      provider: "openai",
      switches: [],
      status: 400,
      kind: "bad_request",
      model: "unknown-model",
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status}; the message stays (failed), no answer, an error usage row`, async () => {
      const key = await registerKey(user, c.provider, c.switches);
      const conversationId = await createConversation(user, {
        api_key_id: key.id,
        ...(c.model ? { model: c.model } : {}),
      });
      const text = `a message for ${c.name}`;
      const res = await send(user, conversationId, { message: text });
      expect(res.status).toBe(c.status);
      expect(res.body).toMatchObject({ success: false, data: null });
      expect(res.body.errors).toMatchObject({ provider: c.provider, kind: c.kind });
      expect(JSON.stringify(res.body)).not.toContain(key.apiKey);
      // The fake provider's 429s (rate limits, OpenAI's exhausted quota) say Retry-After: 1; the client is told the same.
      const provider429 = c.kind === "rate_limited" || (c.kind === "quota_exceeded" && c.provider === "openai");
      expect(res.headers.get("retry-after")).toBe(provider429 ? "1" : null);

      const stored = await messagesOf(conversationId);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        id: res.body.errors.user_message_id,
        role: "user",
        content: text,
        status: "failed",
        api_key_id: key.id,
      });
      expect(stored[0].error_code).toBe(c.kind);
      const events = await usageOf(conversationId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ api_key_id: key.id, message_id: null, provider: c.provider, outcome: "error" });
      expect(events[0].error_code).toBe(c.kind);

      const [row] = await db`select is_valid from public.api_keys where id = ${key.id}`;
      expect(row.is_valid).toBe(c.kind !== "invalid_key");

      // The listing shows the failed message as failed.
      const listed = await api("GET", `/conversations/${conversationId}/messages`, { token: user.token });
      expect(listed.body.data).toHaveLength(1);
      expect(listed.body.data[0]).toMatchObject({ status: "failed", role: "user" });

      if (c.kind === "invalid_key") {
        // The key is now known to be bad: the next message is refused before any provider call.
        const again = await send(user, conversationId, { message: "again" });
        expect(again.status).toBeGreaterThanOrEqual(400);
        expect(again.status).toBeLessThan(500);
        expect(await messagesOf(conversationId)).toHaveLength(1);
        expect(await usageOf(conversationId)).toHaveLength(1);
        const keys = (await api("GET", "/keys", { token: user.token })).body.data;
        expect(keys.find((k: { id: string }) => k.id === key.id).is_valid).toBe(false);
      }
    });
  }

  for (
    const [switches, status, kind] of [[["chatonly", "fail429"], 429, "rate_limited"], [
      ["chatonly", "slow"],
      504,
      "timeout",
    ]] as const
  ) {
    it(`a failure while streaming (${switches[1]}) ends with an \`error\` event carrying ${status}`, async () => {
      const key = await registerKey(user, "openai", [...switches]);
      const conversationId = await createConversation(user, { api_key_id: key.id });
      const stream = await postMessageStream(user.token, conversationId, {
        message: `streamed into ${kind}`,
        stream: true,
      });
      expect(stream.status).toBe(200);
      expect(stream.events.map((e) => e.event)).toEqual(["start", "error"]);
      expect(stream.events[1].data).toMatchObject({
        success: false,
        data: null,
        status,
        errors: { kind, user_message_id: stream.events[0].data.user_message.id },
      });
      expect(stream.text).not.toContain(key.apiKey);
      const stored = await messagesOf(conversationId);
      expect(stored.map((m) => [m.role, m.status])).toEqual([["user", "failed"]]);
      expect((await usageOf(conversationId)).map((u) => u.outcome)).toEqual(["error"]);
    });
  }

  for (const provider of ["openai", "anthropic"] as const) {
    it(`a cut ${provider} stream: deltas, then an \`error\` event; the usage row is marked estimated`, async () => {
      const key = await registerKey(user, provider, ["chatonly", "cut"]);
      const conversationId = await createConversation(user, { api_key_id: key.id });
      const text = "one two three four five six seven eight";
      const stream = await postMessageStream(user.token, conversationId, { message: text, stream: true });
      expect(stream.status).toBe(200);
      const names = stream.events.map((e) => e.event);
      expect(names[0]).toBe("start");
      expect(names.at(-1)).toBe("error");
      expect(names).not.toContain("done");
      const partial = stream.events.filter((e) => e.event === "delta").map((e) => e.data.text).join("");
      expect(echo(text).startsWith(partial)).toBe(true);
      expect(partial.length).toBeLessThan(echo(text).length);
      expect(stream.events.at(-1)!.data).toMatchObject({
        success: false,
        status: 502,
        errors: { provider, kind: "unavailable" },
      });

      const stored = await messagesOf(conversationId);
      expect(stored.map((m) => [m.role, m.status])).toEqual([["user", "failed"]]);
      const events = await usageOf(conversationId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        outcome: "error",
        usage_source: "estimated",
        message_id: null,
        api_key_id: key.id,
      });
      expect(events[0].prompt_tokens).toBe(tokens(text.length));
      // No count came with the cut: the function's own estimate, which errs high.
      expect(events[0].completion_tokens).toBe(estimateTokens(partial));
      expect(events[0].cost_usd).toBe(
        await expectedCost(provider, events[0].model, events[0].prompt_tokens, 0, events[0].completion_tokens),
      );
      // A cut stream says nothing about the key.
      expect((await db`select is_valid from public.api_keys where id = ${key.id}`)[0].is_valid).toBe(true);
    });
  }
});

describe("whose conversation, and bad input", () => {
  it("another user's conversation is 404 and nothing is stored in it", async () => {
    const mallory = await createUser("msg_mallory");
    await registerKey(mallory, "openai");
    const conversationId = await createConversation(alice, { title: "alice only" });
    const before = await messagesOf(conversationId);
    for (const body of [{ message: "let me in" }, { message: "let me in", stream: true }]) {
      const res = await send(mallory, conversationId, body);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, message: "Conversation not found" });
    }
    expect((await api("GET", `/conversations/${conversationId}/messages`, { token: mallory.token })).status).toBe(404);
    expect(await messagesOf(conversationId)).toEqual(before);
    expect((await db`select count(*)::int as n from public.usage_events where user_id = ${mallory.id}`)[0].n).toBe(0);
  });

  it("an unknown or malformed conversation id is 404", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "nope"]) {
      expect((await send(alice, id, { message: "hi" })).status).toBe(404);
    }
  });

  const bad: { name: string; body: unknown; headers?: Record<string, string>; status: number; field?: string }[] = [
    { name: "empty message", body: { message: "" }, status: 400, field: "message" },
    { name: "blank message", body: { message: "  \n " }, status: 400, field: "message" },
    { name: "no message", body: {}, status: 400, field: "message" },
    { name: "message not a string", body: { message: 42 }, status: 400, field: "message" },
    { name: "message null", body: { message: null }, status: 400, field: "message" },
    { name: "stream not a boolean", body: { message: "hi", stream: "yes" }, status: 400, field: "stream" },
    { name: "model not a string", body: { message: "hi", model: 4 }, status: 400, field: "model" },
    { name: "model with odd characters", body: { message: "hi", model: "gpt 4o; drop" }, status: 400, field: "model" },
    { name: "unknown field", body: { message: "hi", temperature: 2 }, status: 400 },
    { name: "message too long", body: { message: "x".repeat(32_001) }, status: 400, field: "message" },
    { name: "malformed JSON", body: '{"message": "hi"', status: 400 },
    { name: "not JSON", body: "message=hi", headers: { "content-type": "text/plain" }, status: 415 },
    { name: "oversized body", body: { message: "x".repeat(300 * 1024) }, status: 413 },
  ];

  for (const c of bad) {
    it(`${c.name}: ${c.status}, nothing stored`, async () => {
      const conversationId = await createConversation(alice);
      const usageBefore =
        (await db`select count(*)::int as n from public.usage_events where user_id = ${alice.id}`)[0].n;
      const res = await send(alice, conversationId, c.body, c.headers);
      expect(res.status).toBe(c.status);
      expect(res.body).toMatchObject({ success: false, data: null });
      if (c.field) expect(res.body.errors?.[c.field], JSON.stringify(res.body.errors)).toBeDefined();
      expect(await messagesOf(conversationId)).toEqual([]);
      expect((await db`select count(*)::int as n from public.usage_events where user_id = ${alice.id}`)[0].n).toBe(
        usageBefore,
      );
    });
  }

  it("no response of this suite carried a plaintext key", () => {
    expect(leakedInResponses()).toEqual([]);
  });
});
