// Key statistics (/keys/:id/statistics and its legacy spelling /statics), checked against
// sums computed here straight from usage_events; and, over the whole suite, that no plaintext
// key ever appears in a response or in the functions' log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callApi as api,
  createConversation,
  fakeKey,
  leakedInResponses,
  postMessageStream,
  recordedResponseCount,
  registerKey,
  stackLogText,
  trackedPlaintexts,
} from "../support/providers.ts";
import { createUser, db, type TestUser } from "../support/users.ts";

const DECIMAL = /^-?\d+\.\d{8}$/;

let alice: TestUser;
let bob: TestUser;
let openai: { id: string; apiKey: string };
let claude: { id: string; apiKey: string };
let bobKey: { id: string; apiKey: string };
/** Which key answered each exchange sent through the API. */
const exchangesByKey = new Map<string, number>();

async function exchange(user: TestUser, keyId: string, conversationId: string, body: Record<string, unknown>) {
  exchangesByKey.set(keyId, (exchangesByKey.get(keyId) ?? 0) + 1);
  if (body.stream) {
    const res = await postMessageStream(user.token, conversationId, body);
    return res.events.some((e) => e.event === "done") ? 201 : res.status;
  }
  return (await api("POST", `/conversations/${conversationId}/messages`, { token: user.token, body })).status;
}

// What the statistics should say, computed from the events themselves.
async function expectedTotals(keyId: string) {
  const [t] = await db`
    select count(*)::int as requests,
           count(*) filter (where outcome = 'error')::int as errors,
           coalesce(sum(prompt_tokens), 0)::int as prompt_tokens,
           coalesce(sum(cached_prompt_tokens), 0)::int as cached_prompt_tokens,
           coalesce(sum(completion_tokens), 0)::int as completion_tokens,
           coalesce(sum(prompt_tokens + completion_tokens), 0)::int as total_tokens,
           coalesce(sum(cost_usd), 0)::numeric(14, 8)::text as cost_usd,
           count(*) filter (where not priced)::int as unpriced_requests
    from public.usage_events where api_key_id = ${keyId}`;
  return t;
}

async function expectedThisMonth(keyId: string) {
  const [m] = await db`
    select count(*)::int as requests,
           coalesce(sum(e.prompt_tokens + e.completion_tokens), 0)::int as total_tokens,
           coalesce(sum(e.cost_usd), 0)::numeric(14, 8)::text as cost_usd,
           k.monthly_budget_usd::text as monthly_budget_usd,
           (k.monthly_budget_usd - coalesce(sum(e.cost_usd), 0))::numeric(14, 8)::text as budget_remaining_usd
    from public.api_keys k
    left join public.usage_events e on e.api_key_id = k.id and e.created_at >= date_trunc('month', now(), 'UTC')
    where k.id = ${keyId}
    group by k.monthly_budget_usd`;
  return m;
}

async function expectedByModel(keyId: string) {
  return db`
    select provider, model, count(*)::int as requests,
           count(*) filter (where outcome = 'error')::int as errors,
           sum(prompt_tokens)::int as prompt_tokens,
           sum(cached_prompt_tokens)::int as cached_prompt_tokens,
           sum(completion_tokens)::int as completion_tokens,
           sum(prompt_tokens + completion_tokens)::int as total_tokens,
           sum(cost_usd)::numeric(14, 8)::text as cost_usd,
           bool_and(priced) as priced
    from public.usage_events where api_key_id = ${keyId}
    group by provider, model order by model`;
}

async function expectedByDay(keyId: string) {
  return db`
    select to_char((created_at at time zone 'UTC')::date, 'YYYY-MM-DD') as day, count(*)::int as requests,
           count(*) filter (where outcome = 'error')::int as errors,
           sum(prompt_tokens)::int as prompt_tokens,
           sum(cached_prompt_tokens)::int as cached_prompt_tokens,
           sum(completion_tokens)::int as completion_tokens,
           sum(prompt_tokens + completion_tokens)::int as total_tokens,
           sum(cost_usd)::numeric(14, 8)::text as cost_usd
    from public.usage_events
    where api_key_id = ${keyId} and (created_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - 90
    group by 1 order by 1 desc`;
}

beforeAll(async () => {
  alice = await createUser("stats_alice");
  bob = await createUser("stats_bob");
  openai = await registerKey(alice, "openai", [], "stats openai");
  claude = await registerKey(alice, "anthropic", [], "stats claude");
  bobKey = await registerKey(bob, "openai", [], "bob's");

  // Exchanges on two models with the OpenAI key, one of them streamed, plus a failed one...
  const first = await createConversation(alice, { title: "stats one" });
  const second = await createConversation(alice, { title: "stats two", model: "gpt-4o" });
  expect(await exchange(alice, openai.id, first, { message: "What is on page one?" })).toBe(201);
  expect(await exchange(alice, openai.id, first, { message: "And page two, in more detail please?" })).toBe(201);
  expect(await exchange(alice, openai.id, first, { message: "Now with the bigger model.", model: "gpt-4o" })).toBe(201);
  expect(await exchange(alice, openai.id, second, { message: "A streamed answer, please.", stream: true })).toBe(201);
  expect(await exchange(alice, openai.id, second, { message: "A model that does not exist.", model: "unknown-model" }))
    .toBe(400);
  // ...one with the Anthropic key, which must not count for the OpenAI key...
  const third = await createConversation(alice, { title: "stats three", api_key_id: claude.id });
  expect(await exchange(alice, claude.id, third, { message: "Claude, count me elsewhere." })).toBe(201);
  // ...and earlier usage: last month (totals, not this month) and 100 days ago (totals, not by day).
  await db`
    insert into public.usage_events (user_id, api_key_id, provider, model, prompt_tokens, cached_prompt_tokens, completion_tokens, usage_source, outcome, created_at)
    values (${alice.id}, ${openai.id}, 'openai', 'gpt-4o-mini', 1200, 200, 300, 'provider', 'ok', now() - interval '40 days'),
           (${alice.id}, ${openai.id}, 'openai', 'gpt-4o', 5000, 0, 700, 'provider', 'ok', now() - interval '100 days')`;
  expect((await api("PATCH", `/keys/${openai.id}`, { token: alice.token, body: { monthly_budget_usd: 2.5 } })).status)
    .toBe(200);
});
afterAll(() => db.end());

describe("key statistics", () => {
  it("/statistics and /statics answer the same data", async () => {
    const a = await api("GET", `/keys/${openai.id}/statistics`, { token: alice.token });
    const b = await api("GET", `/keys/${openai.id}/statics/`, { token: alice.token });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.success).toBe(true);
    expect(b.body.data).toEqual(a.body.data);
  });

  it("totals match the events: requests, errors, tokens, cost as a decimal string", async () => {
    const { data } = (await api("GET", `/keys/${openai.id}/statistics`, { token: alice.token })).body;
    const expected = await expectedTotals(openai.id);
    expect(data.totals).toEqual(expected);
    expect(data.totals.cost_usd).toMatch(DECIMAL);
    // 5 calls through the API (one failed, on an unpriced model) and 2 earlier events.
    expect(data.totals.requests).toBe(exchangesByKey.get(openai.id)! + 2);
    expect(data.totals.errors).toBe(1);
    expect(data.totals.unpriced_requests).toBe(1);
    expect(data.totals.total_tokens).toBe(data.totals.prompt_tokens + data.totals.completion_tokens);
    expect(Number(data.totals.cost_usd)).toBeGreaterThan(0);
  });

  it("this_month leaves out last month's usage and shows the budget left", async () => {
    const { data } = (await api("GET", `/keys/${openai.id}/statistics`, { token: alice.token })).body;
    const expected = await expectedThisMonth(openai.id);
    expect(data.this_month).toEqual(expected);
    expect(data.this_month.requests).toBe(data.totals.requests - 2);
    expect(data.this_month.monthly_budget_usd).toBe("2.50");
    expect(data.this_month.cost_usd).toMatch(DECIMAL);
    expect(data.this_month.budget_remaining_usd).toMatch(DECIMAL);
  });

  it("by_model: one row per model, matching the events, most expensive first", async () => {
    const { data } = (await api("GET", `/keys/${openai.id}/statistics`, { token: alice.token })).body;
    const expected = await expectedByModel(openai.id);
    const byName = [...data.by_model].sort((x: { model: string }, y: { model: string }) =>
      x.model.localeCompare(y.model)
    );
    expect(byName).toEqual(expected);
    expect(data.by_model.map((m: { model: string }) => m.model).sort()).toEqual([
      "gpt-4o",
      "gpt-4o-mini",
      "unknown-model",
    ]);
    const costs = data.by_model.map((m: { cost_usd: string }) => Number(m.cost_usd));
    expect(costs).toEqual([...costs].sort((x, y) => y - x));
    for (const m of data.by_model) expect(m.cost_usd).toMatch(DECIMAL);
    expect(data.by_model.find((m: { model: string }) => m.model === "unknown-model")).toMatchObject({
      priced: false,
      errors: 1,
      cost_usd: "0.00000000",
    });
  });

  it("by_day: UTC days of the last 90 days, newest first, matching the events", async () => {
    const { data } = (await api("GET", `/keys/${openai.id}/statistics`, { token: alice.token })).body;
    const expected = await expectedByDay(openai.id);
    expect(data.by_day).toEqual(expected);
    expect(data.by_day).toHaveLength(2); // today and 40 days ago; 100 days ago is out of the window
    const [{ today }] = await db`select to_char((now() at time zone 'UTC')::date, 'YYYY-MM-DD') as today`;
    expect(data.by_day[0].day).toBe(today);
    for (const d of data.by_day) expect(d.cost_usd).toMatch(DECIMAL);
  });

  it("the key in the statistics is the key as listed", async () => {
    const { data } = (await api("GET", `/keys/${openai.id}/statistics`, { token: alice.token })).body;
    const listed = (await api("GET", "/keys", { token: alice.token })).body.data.find((k: { id: string }) =>
      k.id === openai.id
    );
    expect(data.key).toEqual(listed);
    expect(data.key.last_used_at).not.toBeNull();
  });

  it("the Anthropic key counts only its own exchange", async () => {
    const { data } = (await api("GET", `/keys/${claude.id}/statics`, { token: alice.token })).body;
    expect(data.totals).toEqual(await expectedTotals(claude.id));
    expect(data.totals.requests).toBe(exchangesByKey.get(claude.id));
    expect(data.by_model).toEqual(await expectedByModel(claude.id));
    expect(data.by_model.map((m: { provider: string; model: string }) => [m.provider, m.model])).toEqual([[
      "anthropic",
      "claude-3-5-haiku-latest",
    ]]);
    expect(data.this_month).toMatchObject({ requests: 1, monthly_budget_usd: null, budget_remaining_usd: null });
  });

  it("another user cannot read them (404), and sees zeros for their own key", async () => {
    for (
      const path of [`/keys/${openai.id}/statistics`, `/keys/${openai.id}/statics`, `/keys/${claude.id}/statistics`]
    ) {
      const res = await api("GET", path, { token: bob.token });
      expect(res.status, path).toBe(404);
      expect(res.body).toMatchObject({ success: false, data: null, message: "Key not found" });
    }
    for (const path of [`/keys/${bobKey.id}/statistics`, `/keys/${bobKey.id}/statics`]) {
      const res = await api("GET", path, { token: bob.token });
      expect(res.status, path).toBe(200);
      expect(res.body.data.key).toMatchObject({ id: bobKey.id, pk: bobKey.id });
      expect(res.body.data.totals).toEqual({
        requests: 0,
        errors: 0,
        prompt_tokens: 0,
        cached_prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cost_usd: "0.00000000",
        unpriced_requests: 0,
      });
      expect(res.body.data.this_month).toEqual({
        requests: 0,
        total_tokens: 0,
        cost_usd: "0.00000000",
        monthly_budget_usd: null,
        budget_remaining_usd: null,
      });
      expect(res.body.data.by_model).toEqual([]);
      expect(res.body.data.by_day).toEqual([]);
    }
    // And alice cannot read bob's.
    expect((await api("GET", `/keys/${bobKey.id}/statistics`, { token: alice.token })).status).toBe(404);
  });

  it("without a token: 401", async () => {
    expect((await api("GET", `/keys/${openai.id}/statistics`)).status).toBe(401);
  });
});

describe("plaintext keys never leave the API", () => {
  it("keys whose provider errors quote them (401 on validation and on chat) are still not echoed", async () => {
    // The fake's OpenAI 401 message contains the whole key.
    const refused = fakeKey("openai", "fail401");
    const res = await api("POST", "/keys", {
      token: alice.token,
      body: { name: "refused", api_key: refused, kind: "open_ai" },
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).not.toContain(refused);

    const chatRefused = await registerKey(alice, "openai", ["chatonly", "fail401"], "refused at chat");
    const conversationId = await createConversation(alice, { api_key_id: chatRefused.id });
    const answer = await api("POST", `/conversations/${conversationId}/messages`, {
      token: alice.token,
      body: { message: "hi" },
    });
    expect(answer.status).toBe(422);
    const streamed = await registerKey(alice, "openai", ["chatonly", "fail401"], "refused while streaming");
    const streamedConversation = await createConversation(alice, { api_key_id: streamed.id });
    const stream = await postMessageStream(alice.token, streamedConversation, { message: "hi", stream: true });
    expect(stream.events.at(-1)!.event).toBe("error");
    expect(stream.text).not.toContain(streamed.apiKey);
  });

  it("no response body of this suite contains a plaintext key", () => {
    expect(trackedPlaintexts().length).toBeGreaterThanOrEqual(6);
    expect(recordedResponseCount()).toBeGreaterThan(20);
    expect(leakedInResponses()).toEqual([]);
  });

  it("the gateway's access log has every request, and no log contains any of them", async () => {
    // The access log saw this suite's key registrations (it is written within 100 ms), so the
    // check below reads real traffic.
    const registered = /\{"method":"POST","path":"\/api\/v1\/keys","status":201,"seconds":[\d.]+\}/;
    for (let waited = 0; !registered.test(stackLogText("gateway.log")) && waited < 2000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stackLogText("gateway.log")).toMatch(registered);
    const logs = stackLogText("gateway.log") + stackLogText("functions.log");
    const leaked = trackedPlaintexts().filter((key) => logs.includes(key));
    expect(leaked).toEqual([]);
  });
});
