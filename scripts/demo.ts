// `npm run demo`: the product end to end on the local stack with the fake LLM provider —
// join, login, register a key, open a conversation, ask two questions (one streamed), and
// print what the key has cost.
import { stackConfig } from "./stack/config.ts";
import { withStack } from "./stack/with-stack.ts";

const cfg = stackConfig("dev");
const API = `${cfg.apiUrl}/api/v1`;

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

function show(step: string, res: { status: number; body: { message: string } }) {
  console.log(`\n${step}\n  -> ${res.status} ${res.body.message}`);
}

await withStack("dev", async () => {
    const username = `demo_${Date.now().toString(36)}`;
    const password = "demo-password-123";
    const joined = await call("POST", "/users/join", undefined, { username, password });
    show(`1. join as ${username}`, joined);
    if (joined.status !== 201) throw new Error(`join failed: ${joined.status} ${joined.body.message}`);
    const login = await call("POST", "/users/login", undefined, { username, password });
    show("2. log in", login);
    const token: string = login.body.data.token;

    const key = await call("POST", "/keys", token, { name: "my OpenAI key", api_key: "sk-demo-0123456789abcdefghij", kind: "open_ai" });
    show("3. register an OpenAI key (validated with the provider, stored encrypted)", key);
    if (key.status !== 201) throw new Error("could not register the key: is the stack running with --fake-provider? (npm stop, then npm run demo)");
    console.log(`  key hint: ...${key.body.data.hint}, selected: ${key.body.data.is_selected}`);

    const conv = await call("POST", "/conversations", token, { title: "Demo", model: "gpt-4o-mini", system_prompt: "Answer briefly." });
    show("4. open a conversation", conv);
    const id = conv.body.data.id;

    const first = await call("POST", `/conversations/${id}/messages`, token, { message: "What is in chapter 2?" });
    show("5. ask a question", first);
    console.log(`  answer: ${first.body.data.assistant_message.content}`);
    console.log(`  usage: ${first.body.data.usage.prompt_tokens} prompt + ${first.body.data.usage.completion_tokens} completion tokens, $${first.body.data.usage.cost_usd}`);

    console.log("\n6. ask another, streamed (Server-Sent Events)");
    const res = await fetch(`${API}/conversations/${id}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ message: "And in chapter 3?" }),
    });
    const text = await res.text();
    const deltas = [...text.matchAll(/event: delta\ndata: (.*)/g)].map((m) => JSON.parse(m[1]).text as string);
    console.log(`  -> ${res.status}, ${deltas.length} deltas: ${deltas.map((d) => JSON.stringify(d)).join(" ")}`);

    const stats = await call("GET", `/keys/${key.body.data.id}/statistics`, token);
    show("7. the key's statistics", stats);
    const t = stats.body.data.totals;
    console.log(`  requests ${t.requests}, tokens ${t.total_tokens}, cost $${t.cost_usd}; this month $${stats.body.data.this_month.cost_usd}`);
    for (const m of stats.body.data.by_model) console.log(`  by model: ${m.provider}/${m.model}: ${m.requests} requests, ${m.total_tokens} tokens, $${m.cost_usd}`);
});
