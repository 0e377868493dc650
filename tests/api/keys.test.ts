// Provider keys: registration (validated against the fake provider, stored encrypted), listing,
// selection, renaming, budgets, deletion, and everything that must be refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callApi as api, fakeKey, leakedInResponses, registerKey, trackPlaintext } from "../support/providers.ts";
import { createUser, db, type TestUser } from "../support/users.ts";

let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  alice = await createUser("keys_alice");
  bob = await createUser("keys_bob");
});
afterAll(() => db.end());

const keyCount = async (user: TestUser) =>
  (await db`select count(*)::int as n from public.api_keys where user_id = ${user.id}`)[0].n as number;
const selectedIds = async (user: TestUser) =>
  (await db`select id from public.api_keys where user_id = ${user.id} and is_selected`).map((r) => r.id as string);

describe("registering keys", () => {
  let openaiId: string;
  let anthropicId: string;
  let openaiKey: string;
  let anthropicKey: string;

  it("an OpenAI key with the legacy body {name, api_key, kind: open_ai}: 201, selected, a hint, never the secret", async () => {
    openaiKey = fakeKey("openai");
    const res = await api("POST", "/keys", {
      token: alice.token,
      body: { name: "Work", api_key: openaiKey, kind: "open_ai" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, errors: null });
    expect(typeof res.body.message).toBe("string");
    expect(res.body.data).toMatchObject({
      name: "Work",
      provider: "openai",
      key_kind: "open_ai",
      hint: openaiKey.slice(-4),
      is_valid: true,
      is_selected: true,
      monthly_budget_usd: null,
    });
    expect(res.body.data.pk).toBe(res.body.data.id);
    expect(res.body.data.last_validated_at).not.toBeNull();
    expect(JSON.stringify(res.body)).not.toContain(openaiKey);
    expect(Object.keys(res.body.data)).not.toContain("secret_ciphertext");
    expect(Object.keys(res.body.data)).not.toContain("fingerprint");
    openaiId = res.body.data.id;

    const [row] =
      await db`select user_id, provider, hint, is_selected, secret_ciphertext from public.api_keys where id = ${openaiId}`;
    expect(row).toMatchObject({ user_id: alice.id, provider: "openai", hint: openaiKey.slice(-4), is_selected: true });
    expect(row.secret_ciphertext).not.toContain(openaiKey);
  });

  it("an Anthropic key with {provider: anthropic}: 201, not selected (there already is one)", async () => {
    anthropicKey = fakeKey("anthropic");
    const res = await api("POST", "/keys", {
      token: alice.token,
      body: { name: "Claude", api_key: anthropicKey, provider: "anthropic" },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      name: "Claude",
      provider: "anthropic",
      key_kind: "claude",
      hint: anthropicKey.slice(-4),
      is_selected: false,
    });
    expect(JSON.stringify(res.body)).not.toContain(anthropicKey);
    anthropicId = res.body.data.id;
    expect(await selectedIds(alice)).toEqual([openaiId]);
  });

  it("the legacy kind claude means anthropic; kind and provider that agree are accepted", async () => {
    const user = await createUser("keys_kind");
    const claude = await api("POST", "/keys", {
      token: user.token,
      body: { name: "c", api_key: fakeKey("anthropic"), kind: "claude" },
    });
    expect(claude.status).toBe(201);
    expect(claude.body.data).toMatchObject({ provider: "anthropic", key_kind: "claude", is_selected: true });
    const both = await api("POST", "/keys", {
      token: user.token,
      body: { name: "o", api_key: fakeKey("openai"), kind: "open_ai", provider: "openai" },
    });
    expect(both.status).toBe(201);
    expect(both.body.data).toMatchObject({ provider: "openai", key_kind: "open_ai", is_selected: false });
  });

  it("GET /keys lists them in order of creation with pk, key_kind and provider, never the secret", async () => {
    const res = await api("GET", "/keys/", { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data.map((k: { id: string }) => k.id)).toEqual([openaiId, anthropicId]);
    for (const k of res.body.data) {
      expect(k.pk).toBe(k.id);
      expect(k).not.toHaveProperty("secret_ciphertext");
      expect(k).not.toHaveProperty("api_key");
    }
    expect(res.body.data[0]).toMatchObject({ provider: "openai", key_kind: "open_ai", is_selected: true });
    expect(res.body.data[1]).toMatchObject({ provider: "anthropic", key_kind: "claude", is_selected: false });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(openaiKey);
    expect(text).not.toContain(anthropicKey);
    // Bob sees none of them.
    const bobs = await api("GET", "/keys", { token: bob.token });
    expect(bobs.status).toBe(200);
    expect(bobs.body.data).toEqual([]);
  });

  it("PATCH selected: true moves the selection: exactly one key is selected, in the API and in the database", async () => {
    const res = await api("PATCH", `/keys/${anthropicId}`, { token: alice.token, body: { selected: true } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: anthropicId, is_selected: true });
    const list = (await api("GET", "/keys", { token: alice.token })).body.data;
    expect(list.filter((k: { is_selected: boolean }) => k.is_selected).map((k: { id: string }) => k.id)).toEqual([
      anthropicId,
    ]);
    expect(await selectedIds(alice)).toEqual([anthropicId]);
    // Selecting the selected key again changes nothing.
    expect((await api("PATCH", `/keys/${anthropicId}`, { token: alice.token, body: { selected: true } })).status).toBe(
      200,
    );
    expect(await selectedIds(alice)).toEqual([anthropicId]);
    // And back.
    expect(
      (await api("PATCH", `/keys/${openaiId}`, { token: alice.token, body: { selected: true } })).body.data.is_selected,
    ).toBe(true);
    expect(await selectedIds(alice)).toEqual([openaiId]);
  });

  it("PATCH renames, and sets and clears the monthly budget", async () => {
    const renamed = await api("PATCH", `/keys/${openaiId}`, {
      token: alice.token,
      body: { name: "  Work (renamed) " },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ id: openaiId, name: "Work (renamed)", is_selected: true });

    const budget = await api("PATCH", `/keys/${openaiId}`, { token: alice.token, body: { monthly_budget_usd: 12.5 } });
    expect(budget.status).toBe(200);
    expect(budget.body.data.monthly_budget_usd).toBe("12.50");
    expect((await db`select monthly_budget_usd::text as b from public.api_keys where id = ${openaiId}`)[0].b).toBe(
      "12.50",
    );

    // Cents that binary floating point cannot represent exactly are still whole cents.
    for (const cents of [19.99, 0.07, 4.35]) {
      const res = await api("PATCH", `/keys/${openaiId}`, { token: alice.token, body: { monthly_budget_usd: cents } });
      expect(res.status, String(cents)).toBe(200);
      expect(res.body.data.monthly_budget_usd).toBe(cents.toFixed(2));
    }

    const zero = await api("PATCH", `/keys/${openaiId}`, { token: alice.token, body: { monthly_budget_usd: 0 } });
    expect(zero.status).toBe(200);
    expect(zero.body.data.monthly_budget_usd).toBe("0.00");

    const cleared = await api("PATCH", `/keys/${openaiId}`, { token: alice.token, body: { monthly_budget_usd: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.data.monthly_budget_usd).toBeNull();
    const [row] = await db`select name, monthly_budget_usd from public.api_keys where id = ${openaiId}`;
    expect(row).toEqual({ name: "Work (renamed)", monthly_budget_usd: null });
  });

  it("PATCH with bad input is 400 and changes nothing", async () => {
    const [before] =
      await db`select name, monthly_budget_usd, is_selected, updated_at from public.api_keys where id = ${anthropicId}`;
    for (
      const body of [
        {},
        { name: "" },
        { name: 7 },
        { selected: false },
        { selected: "yes" },
        { monthly_budget_usd: -1 },
        { monthly_budget_usd: "10" },
        { monthly_budget_usd: 1.234 },
        { name: "x", is_valid: true },
      ]
    ) {
      const res = await api("PATCH", `/keys/${anthropicId}`, { token: alice.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.success).toBe(false);
    }
    const [after] =
      await db`select name, monthly_budget_usd, is_selected, updated_at from public.api_keys where id = ${anthropicId}`;
    expect(after).toEqual(before);
  });

  it("the same key twice is 409, and the first stays as it was", async () => {
    const before = await keyCount(alice);
    const res = await api("POST", "/keys", {
      token: alice.token,
      body: { name: "again", api_key: openaiKey, kind: "open_ai" },
    });
    expect(res.status).toBe(409);
    expect(res.body.success).toBe(false);
    expect(res.body.errors.api_key).toBeDefined();
    expect(JSON.stringify(res.body)).not.toContain(openaiKey);
    expect(await keyCount(alice)).toBe(before);
    // Surrounding whitespace does not make it another key.
    const padded = await api("POST", "/keys", {
      token: alice.token,
      body: { name: "again", api_key: `  ${anthropicKey} `, provider: "anthropic" },
    });
    expect(padded.status).toBe(409);
    expect(await keyCount(alice)).toBe(before);
  });

  it("DELETE removes the key; after that it is 404 for DELETE, PATCH and statistics", async () => {
    const extra = await registerKey(alice, "openai", [], "to delete");
    const before = await keyCount(alice);
    const res = await api("DELETE", `/keys/${extra.id}`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { id: extra.id, pk: extra.id } });
    expect(await keyCount(alice)).toBe(before - 1);
    expect((await db`select 1 from public.api_keys where id = ${extra.id}`).length).toBe(0);
    const list = (await api("GET", "/keys", { token: alice.token })).body.data;
    expect(list.some((k: { id: string }) => k.id === extra.id)).toBe(false);
    for (
      const [method, path, body] of [
        ["DELETE", `/keys/${extra.id}`, undefined],
        ["PATCH", `/keys/${extra.id}`, { name: "ghost" }],
        ["GET", `/keys/${extra.id}/statistics`, undefined],
      ] as const
    ) {
      const again = await api(method, path, { token: alice.token, body });
      expect(again.status, `${method} ${path}`).toBe(404);
      expect(again.body).toMatchObject({ success: false, message: "Key not found" });
    }
    // The key may be registered again once deleted.
    const back = await api("POST", "/keys", {
      token: alice.token,
      body: { name: "back", api_key: extra.apiKey, provider: "openai" },
    });
    expect(back.status).toBe(201);
    expect((await api("DELETE", `/keys/${back.body.data.id}`, { token: alice.token })).status).toBe(200);
  });

  it("deleting the selected key leaves exactly one selected key when others remain", async () => {
    const user = await createUser("keys_reselect");
    const first = await registerKey(user, "openai");
    const second = await registerKey(user, "anthropic");
    expect(await selectedIds(user)).toEqual([first.id]);
    expect((await api("DELETE", `/keys/${first.id}`, { token: user.token })).status).toBe(200);
    expect(await selectedIds(user)).toEqual([second.id]);
    const list = (await api("GET", "/keys", { token: user.token })).body.data;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: second.id, is_selected: true });
  });
});

describe("concurrent registrations", () => {
  it("several first keys at once: all stored, exactly one selected", async () => {
    const user = await createUser("keys_race");
    const results = await Promise.all(
      (["openai", "anthropic", "openai", "anthropic", "openai"] as const).map((provider, i) =>
        api("POST", "/keys", { token: user.token, body: { name: `k${i}`, api_key: fakeKey(provider), provider } })
      ),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(results.filter((r) => r.body.data.is_selected)).toHaveLength(1);
    expect(await keyCount(user)).toBe(5);
    expect(await selectedIds(user)).toEqual([results.find((r) => r.body.data.is_selected)!.body.data.id]);
  });

  it("the same key sent three times at once: one 201, the others 409", async () => {
    const user = await createUser("keys_race_dup");
    const apiKey = fakeKey("openai");
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        api("POST", "/keys", { token: user.token, body: { name: "dup", api_key: apiKey, kind: "open_ai" } })
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    expect(await keyCount(user)).toBe(1);
  });
});

describe("what the provider says about a key", () => {
  it("a key the provider refuses (401) is 422 and nothing is stored; the provider's echo of the key is not passed on", async () => {
    const user = await createUser("keys_refused");
    // The fake's OpenAI 401 message quotes the whole key.
    for (
      const [provider, apiKey] of [
        ["openai", fakeKey("openai", "fail401")],
        ["anthropic", fakeKey("anthropic", "fail401")],
        ["openai", trackPlaintext("sk-tooshort-12345")], // under 20 characters: the fake's 401
        ["anthropic", fakeKey("openai")], // an OpenAI-shaped key declared as Anthropic
      ] as const
    ) {
      const res = await api("POST", "/keys", { token: user.token, body: { name: "bad", api_key: apiKey, provider } });
      expect(res.status, apiKey).toBe(422);
      expect(res.body.success).toBe(false);
      expect(res.body.errors.api_key).toBeDefined();
      expect(JSON.stringify(res.body)).not.toContain(apiKey);
    }
    expect(await keyCount(user)).toBe(0);
  });

  it("a provider failure (500, 529/503) during validation is 502 and nothing is stored", async () => {
    const user = await createUser("keys_502");
    for (
      const [provider, apiKey] of [
        ["openai", fakeKey("openai", "fail500")],
        ["anthropic", fakeKey("anthropic", "fail500")],
        ["anthropic", fakeKey("anthropic", "fail529")],
        ["openai", fakeKey("openai", "fail529")],
      ] as const
    ) {
      const res = await api("POST", "/keys", { token: user.token, body: { name: "flaky", api_key: apiKey, provider } });
      expect(res.status, apiKey).toBe(502);
      expect(res.body.success).toBe(false);
      expect(JSON.stringify(res.body)).not.toContain(apiKey);
    }
    expect(await keyCount(user)).toBe(0);
  });

  it("a provider that does not answer in time is 504 and nothing is stored", async () => {
    const user = await createUser("keys_504");
    const res = await api("POST", "/keys", {
      token: user.token,
      body: { name: "slow", api_key: fakeKey("openai", "slow"), provider: "openai" },
    });
    expect(res.status).toBe(504);
    expect(await keyCount(user)).toBe(0);
  });

  it("a rate-limited key (429) is valid but busy: it is accepted", async () => {
    const user = await createUser("keys_429");
    for (const provider of ["openai", "anthropic"] as const) {
      const apiKey = fakeKey(provider, "fail429");
      const res = await api("POST", "/keys", { token: user.token, body: { name: "busy", api_key: apiKey, provider } });
      expect(res.status, provider).toBe(201);
      expect(res.body.data).toMatchObject({ provider, is_valid: true, hint: apiKey.slice(-4) });
    }
    expect(await keyCount(user)).toBe(2);
    expect((await selectedIds(user)).length).toBe(1);
  });
});

describe("bad input to POST /keys changes nothing", () => {
  const valid = () => ({ name: "k", api_key: fakeKey("openai"), kind: "open_ai" });

  const cases: { name: string; body: unknown; headers?: Record<string, string>; status: number; field?: string }[] = [
    {
      name: "missing kind and provider",
      body: { name: "k", api_key: "sk-testmissingkindprovider00" },
      status: 400,
      field: "provider",
    },
    { name: "unknown kind", body: { ...valid(), kind: "gemini" }, status: 400, field: "kind" },
    {
      name: "unknown provider",
      body: { name: "k", api_key: "sk-testunknownprovider00000", provider: "mistral" },
      status: 400,
      field: "provider",
    },
    { name: "kind and provider disagree", body: { ...valid(), provider: "anthropic" }, status: 400, field: "kind" },
    { name: "missing api_key", body: { name: "k", kind: "open_ai" }, status: 400, field: "api_key" },
    {
      name: "missing name",
      body: { api_key: "sk-testmissingname0000000", kind: "open_ai" },
      status: 400,
      field: "name",
    },
    {
      name: "api_key not a string",
      body: { name: "k", api_key: 1234567890123456789012, kind: "open_ai" },
      status: 400,
      field: "api_key",
    },
    { name: "name not a string", body: { ...valid(), name: ["k"] }, status: 400, field: "name" },
    { name: "kind not a string", body: { ...valid(), kind: 1 }, status: 400, field: "kind" },
    { name: "empty name", body: { ...valid(), name: "   " }, status: 400, field: "name" },
    {
      name: "whitespace inside the key",
      body: { ...valid(), api_key: "sk-test with spaces inside it" },
      status: 400,
      field: "api_key",
    },
    { name: "unknown field", body: { ...valid(), is_selected: true }, status: 400 },
    { name: "an array", body: [valid()], status: 400 },
    {
      name: "non-JSON content type",
      body: "name=k&api_key=sk-testformencoded00000&kind=open_ai",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      status: 415,
    },
    { name: "text/plain JSON", body: JSON.stringify(valid()), headers: { "content-type": "text/plain" }, status: 415 },
    { name: "malformed JSON", body: '{"name": "k", "api_key": ', status: 400 },
    { name: "oversized body", body: { ...valid(), name: "x".repeat(300 * 1024) }, status: 413 },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status}`, async () => {
      const before = await keyCount(alice);
      const res = await api("POST", "/keys", { token: alice.token, body: c.body, headers: c.headers });
      expect(res.status).toBe(c.status);
      expect(res.body).toMatchObject({ success: false, data: null });
      expect(typeof res.body.message).toBe("string");
      if (c.field) expect(res.body.errors?.[c.field], JSON.stringify(res.body.errors)).toBeDefined();
      expect(await keyCount(alice)).toBe(before);
    });
  }

  it("no token is 401 and stores nothing", async () => {
    const name = `anonymous ${Date.now()}`;
    const res = await api("POST", "/keys", { body: { ...valid(), name } });
    expect(res.status).toBe(401);
    expect((await db`select count(*)::int as n from public.api_keys where name = ${name}`)[0].n).toBe(0);
  });
});

describe("other users' keys and malformed ids", () => {
  it("another user's key id is 404 for PATCH, DELETE and statistics, and the key is untouched", async () => {
    const alicesKey = await registerKey(alice, "openai", [], "alice's own");
    const [before] =
      await db`select name, is_selected, monthly_budget_usd, updated_at from public.api_keys where id = ${alicesKey.id}`;
    for (
      const [method, path, body] of [
        ["PATCH", `/keys/${alicesKey.id}`, { name: "bob was here" }],
        ["PATCH", `/keys/${alicesKey.id}`, { selected: true }],
        ["PATCH", `/keys/${alicesKey.id}`, { monthly_budget_usd: 0 }],
        ["DELETE", `/keys/${alicesKey.id}`, undefined],
        ["GET", `/keys/${alicesKey.id}/statistics`, undefined],
        ["GET", `/keys/${alicesKey.id}/statics`, undefined],
      ] as const
    ) {
      const res = await api(method, path, { token: bob.token, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ success: false, message: "Key not found", data: null });
    }
    const [after] =
      await db`select name, is_selected, monthly_budget_usd, updated_at from public.api_keys where id = ${alicesKey.id}`;
    expect(after).toEqual(before);
    expect(await selectedIds(bob)).toEqual([]);
  });

  it("a non-uuid or unknown id is 404", async () => {
    for (const id of ["42", "not-a-uuid", "00000000-0000-4000-8000-000000000000", "x'; delete from api_keys;--"]) {
      const path = `/keys/${encodeURIComponent(id)}`;
      expect((await api("PATCH", path, { token: alice.token, body: { name: "n" } })).status, `PATCH ${id}`).toBe(404);
      expect((await api("DELETE", path, { token: alice.token })).status, `DELETE ${id}`).toBe(404);
      expect((await api("GET", `${path}/statistics`, { token: alice.token })).status, `statistics ${id}`).toBe(404);
    }
  });
});

describe("secrets at rest", () => {
  it("the stored ciphertext never contains the plaintext and differs for two users registering the same key", async () => {
    const shared = fakeKey("openai");
    const carol = await createUser("keys_carol");
    const dave = await createUser("keys_dave");
    for (const user of [carol, dave]) {
      const res = await api("POST", "/keys", {
        token: user.token,
        body: { name: "shared", api_key: shared, kind: "open_ai" },
      });
      expect(res.status).toBe(201);
    }
    const rows = await db`select user_id, secret_ciphertext, hint from public.api_keys where user_id in ${
      db([carol.id, dave.id])
    }`;
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.secret_ciphertext).not.toContain(shared);
      expect(row.secret_ciphertext).not.toContain(shared.slice(3)); // not even without its prefix
      expect(row.hint).toBe(shared.slice(-4));
    }
    expect(rows[0].secret_ciphertext).not.toBe(rows[1].secret_ciphertext);

    // No stored column of any key holds a plaintext this suite made.
    const all = await db`select k::text as row from public.api_keys k where user_id in ${
      db([alice.id, bob.id, carol.id, dave.id])
    }`;
    const text = all.map((r) => r.row).join("\n");
    expect(text).not.toContain(shared);
  });

  it("no response of this suite carried a plaintext key", () => {
    expect(leakedInResponses()).toEqual([]);
  });
});
