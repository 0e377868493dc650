// An embedding call whose settlement the database does not take, in-process against the test
// stack's database and fake provider: the test stops the database during the call.
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
} from "../api/test-support.ts";

const { app } = await loadApi({ PROVIDER_TIMEOUT_MS: "10000" });
const { embedWithinBudget } = await import("./budgeted-embed.ts");
const { isDatabaseUnavailable } = await import("./db.ts");
const { EMBEDDING_MODEL } = await import("./providers/embeddings.ts");
const db = adminDb();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("an embedding call that returns while the database is down: the caller fails with it, and the call is billed once, when it is back", async () => {
  const user = await createUser();
  const apiKey = fakeKey("slow"); // the fake provider answers after 3 s
  const key = await request(app, "POST", "/keys", {
    token: user.token,
    body: { name: "slow", provider: "openai", api_key: apiKey },
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const keyId = key.body.data.id as string;

  let failure: unknown = null;
  const stop = sleep(500).then(() => postgresCtl("stop"));
  try {
    await Promise.all([
      embedWithinBudget({ sub: user.id, role: "authenticated" }, { id: keyId, apiKey: () => Promise.resolve(apiKey) }, [
        "what does page 3 say?",
      ])
        .catch((err) => (failure = err)),
      stop,
    ]);
  } finally {
    await postgresCtl("start");
  }
  assert.ok(isDatabaseUnavailable(failure), `the caller fails with the database: ${failure}`);

  const billed = () =>
    db`
    select api_key_id, outcome, prompt_tokens from public.usage_events where user_id = ${user.id} and model = ${EMBEDDING_MODEL}`;
  await waitUntil("the call is billed", async () => (await billed()).length > 0);
  await sleep(1_000); // a second settlement, were there one, would land by now
  const usage = await billed();
  assert.equal(usage.length, 1, JSON.stringify(usage));
  assert.deepEqual({ ...usage[0], prompt_tokens: usage[0].prompt_tokens > 0 }, {
    api_key_id: keyId,
    outcome: "ok",
    prompt_tokens: true,
  });
  const open = await db`select count(*)::int as n from private.budget_reservations where user_id = ${user.id}`;
  assert.equal(open[0].n, 0, "the reservation is released");
});
