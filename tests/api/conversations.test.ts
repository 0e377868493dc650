import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createUser, db, type TestUser } from "../support/users.ts";

let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  alice = await createUser("alice");
  bob = await createUser("bob");
});
afterAll(() => db.end());

const countConversations = async (user: TestUser) =>
  (await db`select count(*)::int as n from public.conversations where user_id = ${user.id}`)[0].n;

describe("conversations", () => {
  it("creates with a default title, with and without a trailing slash", async () => {
    const a = await api("POST", "/conversations/", { token: alice.token, body: {} });
    expect(a.status).toBe(201);
    expect(a.body.data.title).toMatch(/^Conversation \d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    expect(a.body.data).toMatchObject({ message_count: 0, last_message_at: null, api_key_id: null });
    const b = await api("POST", "/conversations", {
      token: alice.token,
      body: { title: "  Taxes 2026 ", model: "gpt-4o", system_prompt: "Be brief." },
    });
    expect(b.status).toBe(201);
    expect(b.body.data).toMatchObject({ title: "Taxes 2026", model: "gpt-4o", system_prompt: "Be brief." });
  });

  it("lists the caller's conversations, newest activity first, paginated", async () => {
    const user = await createUser("lister");
    const ids: string[] = [];
    for (const title of ["first", "second", "third"]) {
      ids.push((await api("POST", "/conversations", { token: user.token, body: { title } })).body.data.id);
    }
    // Activity on the first one moves it to the top.
    await api("PATCH", `/conversations/${ids[0]}`, { token: user.token, body: { title: "first, renamed" } });
    const list = await api("GET", "/conversations", { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: { title: string }) => c.title)).toEqual(["first, renamed", "third", "second"]);
    expect(list.headers.get("x-total-count")).toBe("3");
    const page = await api("GET", "/conversations?limit=1&offset=1", { token: user.token });
    expect(page.body.data.map((c: { title: string }) => c.title)).toEqual(["third"]);
    const bad = await api("GET", "/conversations?limit=0", { token: user.token });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.limit).toBeDefined();
  });

  it("counts every one of many created at once (by several connections, in their own count slots), and their deletion", async () => {
    const carol = await createUser("carol_many");
    const made = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) => api("POST", "/conversations", { token: carol.token, body: { title: `at once ${i}` } }),
      ),
    );
    expect(made.map((r) => r.status).every((s) => s === 201)).toBe(true);
    const list = await api("GET", "/conversations?limit=1", { token: carol.token });
    expect(list.headers.get("x-total-count")).toBe("40");
    await Promise.all(
      made.slice(0, 15).map((r) => api("DELETE", `/conversations/${r.body.data.id}`, { token: carol.token })),
    );
    const after = await api("GET", "/conversations?limit=1", { token: carol.token });
    expect(after.headers.get("x-total-count")).toBe("25");
    expect(await countConversations(carol)).toBe(25);
  });

  it("without limit/offset the list is whole (the existing client never pages); it pages only when asked", async () => {
    const user = await createUser("many_rooms");
    await db`insert into public.conversations (user_id, title)
             select ${user.id}, 'room ' || n from generate_series(1, 25) n`;
    const all = await api("GET", "/conversations", { token: user.token });
    expect(all.body.data).toHaveLength(25);
    expect(all.headers.get("x-total-count")).toBe("25");
    const page = await api("GET", "/conversations?limit=10&offset=20", { token: user.token });
    expect(page.body.data).toHaveLength(5);
    expect(page.headers.get("x-total-count")).toBe("25");
    expect((await api("GET", "/conversations?limit=1001", { token: user.token })).status).toBe(400);
  });

  it("gets one with its messages, renames it, changes model and prompt, deletes it", async () => {
    const id = (await api("POST", "/conversations", { token: alice.token, body: { title: "to change" } })).body.data.id;
    const got = await api("GET", `/conversations/${id}/`, { token: alice.token });
    expect(got.status).toBe(200);
    expect(got.body.data).toMatchObject({ id, title: "to change", messages: [] });

    const patched = await api("PATCH", `/conversations/${id}`, {
      token: alice.token,
      body: { title: "changed", model: "claude-3-5-haiku-latest", system_prompt: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({
      title: "changed",
      model: "claude-3-5-haiku-latest",
      system_prompt: null,
    });

    const deleted = await api("DELETE", `/conversations/${id}`, { token: alice.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body.success).toBe(true);
    expect((await api("GET", `/conversations/${id}`, { token: alice.token })).status).toBe(404);
    expect((await api("DELETE", `/conversations/${id}`, { token: alice.token })).status).toBe(404);
  });

  it("shows a long conversation's count, preview and latest messages, and pages past the end keep the total", async () => {
    const user = await createUser("reader");
    const id = (await api("POST", "/conversations", { token: user.token, body: { title: "long" } })).body.data.id;
    await db`insert into public.messages (conversation_id, user_id, role, content, created_at)
             select ${id}, ${user.id}, 'user', 'message ' || g || ' ' || repeat('x', 200), timestamptz '2026-01-01' + make_interval(secs => g)
             from generate_series(1, 105) g`;

    const list = await api("GET", "/conversations", { token: user.token });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id, message_count: 105, last_message_at: "2026-01-01T00:01:45.000Z" });
    expect(list.body.data[0].preview).toBe(("message 105 " + "x".repeat(200)).slice(0, 120));
    const past = await api("GET", "/conversations?offset=5", { token: user.token });
    expect(past.body.data).toEqual([]);
    expect(past.headers.get("x-total-count")).toBe("1");

    const got = await api("GET", `/conversations/${id}`, { token: user.token });
    expect(got.body.data).toMatchObject({ id, title: "long", message_count: 105 });
    const contents = got.body.data.messages.map((m: { content: string }) => m.content.split(" ").slice(0, 2).join(" "));
    expect(contents).toHaveLength(100);
    expect([contents[0], contents[99]]).toEqual(["message 6", "message 105"]);
    expect(Object.keys(got.body.data.messages[0]).sort()).toEqual(
      [
        "api_key_id",
        "citations",
        "completion_tokens",
        "content",
        "conversation_id",
        "created_at",
        "error_code",
        "id",
        "model",
        "prompt_tokens",
        "role",
        "status",
      ],
    );
    expect(got.body.data.messages[0].conversation_id).toBe(id);

    const page = await api("GET", `/conversations/${id}/messages?limit=2&offset=103`, { token: user.token });
    expect(page.body.data.map((m: { content: string }) => m.content.split(" ").slice(0, 2).join(" "))).toEqual([
      "message 104",
      "message 105",
    ]);
    expect(page.headers.get("x-total-count")).toBe("105");
    const empty = await api("GET", `/conversations/${id}/messages?offset=200`, { token: user.token });
    expect(empty.body.data).toEqual([]);
    expect(empty.headers.get("x-total-count")).toBe("105");
  });

  it("points a conversation only at one of the caller's own keys", async () => {
    const id = (await api("POST", "/conversations", { token: alice.token, body: {} })).body.data.id;
    const [bobKey] = await db`
      insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
      values (${bob.id}, 'bob key', 'openai', 'v1:x:y', 'abcd', ${"fp-" + bob.id}) returning id`;
    const res = await api("PATCH", `/conversations/${id}`, { token: alice.token, body: { api_key_id: bobKey.id } });
    expect(res.status).toBe(400);
    expect(res.body.errors.api_key_id).toEqual(["Unknown key"]);
    const created = await api("POST", "/conversations", { token: alice.token, body: { api_key_id: bobKey.id } });
    expect(created.status).toBe(400);
    expect(
      (await api("PATCH", `/conversations/${id}`, { token: alice.token, body: { api_key_id: "not-a-uuid" } })).status,
    ).toBe(400);
    const [row] = await db`select api_key_id from public.conversations where id = ${id}`;
    expect(row.api_key_id).toBeNull();
  });

  it("never shows, changes or deletes another user's conversation (404, as if it did not exist)", async () => {
    const id = (await api("POST", "/conversations", { token: alice.token, body: { title: "alice's" } })).body.data.id;
    expect(
      (await api("GET", "/conversations", { token: bob.token })).body.data.some((c: { id: string }) => c.id === id),
    ).toBe(false);
    for (
      const [method, path, body] of [
        ["GET", `/conversations/${id}`, undefined],
        ["PATCH", `/conversations/${id}`, { title: "bob was here" }],
        ["DELETE", `/conversations/${id}`, undefined],
        ["GET", `/conversations/${id}/messages`, undefined],
        ["POST", `/conversations/${id}/messages`, { message: "hi" }],
      ] as const
    ) {
      const res = await api(method, path, { token: bob.token, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.message).toBe("Conversation not found");
    }
    const [row] = await db`select title from public.conversations where id = ${id}`;
    expect(row.title).toBe("alice's");
    expect((await db`select count(*)::int as n from public.messages where conversation_id = ${id}`)[0].n).toBe(0);
  });

  it("answers unknown and malformed ids with 404", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "42", "x'; drop table messages;--"]) {
      const res = await api("GET", `/conversations/${encodeURIComponent(id)}`, { token: alice.token });
      expect(res.status).toBe(404);
    }
  });

  it("rejects bad input with a clear error and changes nothing", async () => {
    const before = await countConversations(alice);
    const cases: { body: unknown; headers?: Record<string, string>; status: number; field?: string }[] = [
      { body: { title: 42 }, status: 400, field: "title" },
      { body: { title: "" }, status: 400, field: "title" },
      { body: { title: "x".repeat(201) }, status: 400, field: "title" },
      { body: { model: "gpt 4o; drop" }, status: 400, field: "model" },
      { body: { surprise: true }, status: 400 },
      { body: "[1, 2", status: 400 },
      { body: "title=hello", headers: { "content-type": "application/x-www-form-urlencoded" }, status: 415 },
      { body: "", headers: { "content-type": "text/plain" }, status: 415 },
      { body: { title: "x", system_prompt: "y".repeat(300_000) }, status: 413 },
    ];
    for (const c of cases) {
      const res = await api("POST", "/conversations", { token: alice.token, body: c.body, headers: c.headers });
      expect(res.status, JSON.stringify(c.body).slice(0, 40)).toBe(c.status);
      expect(res.body.success).toBe(false);
      if (c.field) expect(res.body.errors[c.field]).toBeDefined();
    }
    const id = (await api("POST", "/conversations", { token: alice.token, body: { title: "stays" } })).body.data.id;
    const nothing = await api("PATCH", `/conversations/${id}`, { token: alice.token, body: {} });
    expect(nothing.status).toBe(400);
    expect(await countConversations(alice)).toBe(before + 1);
  });

  it("deleting a conversation deletes its messages", async () => {
    const id = (await api("POST", "/conversations", { token: alice.token, body: {} })).body.data.id;
    await db`insert into public.messages (conversation_id, user_id, role, content) values (${id}, ${alice.id}, 'user', 'hello')`;
    expect((await api("DELETE", `/conversations/${id}`, { token: alice.token })).status).toBe(200);
    expect((await db`select count(*)::int as n from public.messages where conversation_id = ${id}`)[0].n).toBe(0);
  });
});
