// The existing web client (written against the earlier Django API) must keep working unchanged:
// its calls, in its order, with exactly the fields it sends and reads (docs/api.md), against the
// real Auth server behind the function.
import { afterAll, describe, expect, it } from "vitest";
import { fakeKey } from "../support/providers.ts";
import { api, createUser, db } from "../support/users.ts";

afterAll(() => db.end());

describe("the existing client's calls, in its order", () => {
  it("join, login, create conversation, list, send message, register key, list keys, delete key, delete conversation, logout", async () => {
    const username = `legacy_${process.pid}_${Date.now() % 100000}`;
    const password = "a-long-legacy-password";
    const joined = await api("POST", "/users/join", { body: { username, password } });
    expect(joined.body.success).toBe(true);
    expect(typeof joined.body.message).toBe("string");
    expect(joined.body.data).toBeTruthy();

    const login = await api("POST", "/users/login", { body: { username, password } });
    expect(login.body.success).toBe(true);
    const token = login.body.data.token as string;
    expect(token.split(".")).toHaveLength(3);

    const created = await api("POST", "/conversations/", { token, body: { title: "My PDF" } });
    expect(created.body.success).toBe(true);

    const list = await api("GET", "/conversations", { token });
    expect(list.body.success).toBe(true);
    expect(Array.isArray(list.body.data)).toBe(true);
    const conversation = list.body.data.find((c: { title: string }) => c.title === "My PDF");
    expect(typeof conversation.id).toBe("string");

    // Before any key: a clear refusal the client can show (success false, a message), nothing stored.
    const early = await api("POST", `/conversations/${conversation.id}/messages`, {
      token,
      body: { message: "Hello?" },
    });
    expect(early.body.success).toBe(false);
    expect(early.body.message).toMatch(/API key/);

    const apiKey = fakeKey("openai");
    const registered = await api("POST", "/keys", { token, body: { name: "work", api_key: apiKey, kind: "open_ai" } });
    expect(registered.body.success).toBe(true);
    expect(typeof registered.body.message).toBe("string");

    const sent = await api("POST", `/conversations/${conversation.id}/messages`, {
      token,
      body: { message: "Hello?" },
    });
    expect(sent.body.success).toBe(true);
    expect(sent.body.data.assistant_message.content).toBe("Echo: Hello?");

    const keys = await api("GET", "/keys", { token });
    expect(keys.body.data).toHaveLength(1);
    const [key] = keys.body.data;
    expect(key).toMatchObject({ name: "work", key_kind: "open_ai", provider: "openai" });
    expect(key.pk).toBe(key.id);
    expect(JSON.stringify(keys.body)).not.toContain(apiKey);

    const deletedKey = await api("DELETE", `/keys/${key.pk}`, { token });
    expect(deletedKey.body.success).toBe(true);
    expect((await api("GET", "/keys", { token })).body.data).toEqual([]);

    const deletedConversation = await api("DELETE", `/conversations/${conversation.id}`, { token });
    expect(deletedConversation.body.success).toBe(true);

    const logout = await api("POST", "/users/logout", { token });
    expect(logout.body.success).toBe(true);
    expect((await api("GET", "/conversations", { token })).status).toBe(401);
  });

  it("a Claude key registers with the legacy kind `claude`", async () => {
    const { token } = await createUser("legacy");
    const res = await api("POST", "/keys", {
      token,
      body: { name: "claude", api_key: fakeKey("anthropic"), kind: "claude" },
    });
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({ provider: "anthropic", key_kind: "claude" });
  });
});
