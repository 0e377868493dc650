// A budget is a promise: many messages sent at once on a budgeted key never record more than
// the budget (each reserves its worst case before the provider call; the rest are refused 429).
import { afterAll, describe, expect, it } from "vitest";
import { callApi as api, createConversation, expectedCost, registerKey } from "../support/providers.ts";
import { createUser, db } from "../support/users.ts";

afterAll(() => db.end());

describe("budget under concurrency", () => {
  it("50 messages at once on a $0.10 key: recorded spend stays within the budget, the rest are 429", async () => {
    const user = await createUser("budget_race");
    const key = await registerKey(user, "openai");
    expect((await api("PATCH", `/keys/${key.id}`, { token: user.token, body: { monthly_budget_usd: 0.1 } })).status)
      .toBe(200);
    // A month of earlier, free calls on the key (a model without a price costs nothing): summing
    // this month's spend now takes milliseconds, so answers are stored while a reservation is
    // being decided. Read in two snapshots, the spend misses such an answer while the
    // reservation no longer shows it either, and the budget is exceeded.
    await db`
      insert into public.usage_events (user_id, api_key_id, provider, model, usage_source, outcome)
      select ${user.id}, ${key.id}, 'openai', 'free-model', 'provider', 'ok' from generate_series(1, 40000)`;
    // Long enough that the fake provider's answer uses the whole 1,024-token limit: about $0.0128
    // per message on gpt-4o, close to its worst case, so the budget is really at stake.
    const text = "budget ".repeat(600);
    const conversations = await Promise.all(
      Array.from({ length: 5 }, () => createConversation(user, { model: "gpt-4o" })),
    );
    const replies = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          api("POST", `/conversations/${conversations[i % 5]}/messages`, {
            token: user.token,
            body: { message: text },
          }),
      ),
    );

    const statuses = replies.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 429), JSON.stringify(statuses)).toBe(true);
    const answered = statuses.filter((s) => s === 201).length;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(50);
    for (const r of replies.filter((r) => r.status === 429)) expect(r.body.message).toMatch(/budget/i);

    const [{ spent, events }] = await db`
      select coalesce(sum(cost_usd), 0)::numeric as spent, count(*)::int as events from public.usage_events
      where api_key_id = ${key.id} and model <> 'free-model'`;
    expect(events).toBe(answered);
    expect(Number(spent)).toBeGreaterThan(0.05);
    expect(Number(spent)).toBeLessThanOrEqual(0.1);
    // Nothing is left waiting, and a refused message was never stored.
    const [{ pending, stored }] = await db`
      select count(*) filter (where status = 'pending')::int as pending, count(*) filter (where role = 'user')::int as stored
      from public.messages where user_id = ${user.id}`;
    expect(pending).toBe(0);
    expect(stored).toBe(answered);
  });

  it("a Korean message the budget cannot pay is refused: its reservation counts Korean tokens as they are billed", async () => {
    // 6,000 Hangul syllables: about 6,000 tokens in GPT-4o's tokenizer (and in the fake's rule),
    // where "characters / 4" would say 1,500. On gpt-4o with a full answer that is about $0.025,
    // over this key's $0.02; reserved from "characters / 4" it would have looked like $0.015.
    const user = await createUser("budget_korean");
    const key = await registerKey(user, "openai");
    expect((await api("PATCH", `/keys/${key.id}`, { token: user.token, body: { monthly_budget_usd: 0.02 } })).status)
      .toBe(200);
    const text = "예산을확인합니다".repeat(750);
    const billed = Number(await expectedCost("openai", "gpt-4o", text.length, 0, 1024));
    expect(billed).toBeGreaterThan(0.02);
    const conversation = await createConversation(user, { model: "gpt-4o" });

    const refused = await api("POST", `/conversations/${conversation}/messages`, {
      token: user.token,
      body: { message: text },
    });
    expect(refused.status, `answered: ${JSON.stringify(refused.body.data?.usage)}`).toBe(429);
    expect(refused.body.message).toMatch(/budget/i);
    const [{ spent }] = await db`
      select coalesce(sum(cost_usd), 0)::numeric as spent from public.usage_events where api_key_id = ${key.id}`;
    expect(Number(spent)).toBe(0);

    // With room for what it really costs, the same message is answered and billed that.
    expect((await api("PATCH", `/keys/${key.id}`, { token: user.token, body: { monthly_budget_usd: 0.1 } })).status)
      .toBe(200);
    const answered = await api("POST", `/conversations/${conversation}/messages`, {
      token: user.token,
      body: { message: text },
    });
    expect(answered.status, answered.body.message).toBe(201);
    const [event] = await db`
      select prompt_tokens, completion_tokens, cost_usd::float8 as cost from public.usage_events where api_key_id = ${key.id}`;
    expect(event).toMatchObject({ prompt_tokens: text.length, completion_tokens: 1024 });
    expect(event.cost).toBeCloseTo(billed, 8);
  });
});
