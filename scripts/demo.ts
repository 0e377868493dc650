// `npm run demo`: the product end to end on the local stack with the fake LLM provider —
// join, login, register a key, open a conversation, ask two questions (one streamed), and
// print what the key has cost. Then the PDF flow: upload a PDF through the API and another with
// supabase-js Storage, follow the ingestion progress, attach them to a conversation, ask, and
// read the answer's citations with their pages.
import { createClient } from "@supabase/supabase-js";
import { makePdf } from "../tests/support/pdfs.ts";
import { HANDBOOK } from "./bench/handbook.ts";
import { ANON_KEY, stackConfig } from "./stack/config.ts";
import { withStack } from "./stack/with-stack.ts";

const cfg = stackConfig("dev");
const API = `${cfg.apiUrl}/api/v1`;

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { "content-type": "application/json" } : {}),
    },
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

  const key = await call("POST", "/keys", token, {
    name: "my OpenAI key",
    api_key: "sk-demo-0123456789abcdefghij",
    kind: "open_ai",
  });
  show("3. register an OpenAI key (validated with the provider, stored encrypted)", key);
  if (key.status !== 201) {
    throw new Error(
      "could not register the key: is the stack running with --fake-provider? (npm stop, then npm run demo)",
    );
  }
  console.log(`  key hint: ...${key.body.data.hint}, selected: ${key.body.data.is_selected}`);

  const conv = await call("POST", "/conversations", token, {
    title: "Demo",
    model: "gpt-4o-mini",
    system_prompt: "Answer briefly.",
  });
  show("4. open a conversation", conv);
  const id = conv.body.data.id;

  const first = await call("POST", `/conversations/${id}/messages`, token, { message: "What is in chapter 2?" });
  show("5. ask a question", first);
  console.log(`  answer: ${first.body.data.assistant_message.content}`);
  console.log(
    `  usage: ${first.body.data.usage.prompt_tokens} prompt + ${first.body.data.usage.completion_tokens} completion tokens, $${first.body.data.usage.cost_usd}`,
  );

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
  console.log(
    `  requests ${t.requests}, tokens ${t.total_tokens}, cost $${t.cost_usd}; this month $${stats.body.data.this_month.cost_usd}`,
  );
  for (const m of stats.body.data.by_model) {
    console.log(
      `  by model: ${m.provider}/${m.model}: ${m.requests} requests, ${m.total_tokens} tokens, $${m.cost_usd}`,
    );
  }

  // --- PDFs ---
  const handbook = await makePdf(HANDBOOK.map((lines) => ({ lines })), { title: "Marlow Harbour handbook" });
  const upload = await fetch(`${API}/documents?filename=handbook.pdf`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/pdf" },
    body: handbook,
  });
  const uploaded = await upload.json();
  show(
    `8. upload a ${HANDBOOK.length}-page PDF: POST /documents (stored in Storage as you, ingested in the background)`,
    { status: upload.status, body: uploaded },
  );
  const docId = uploaded.data.id as string;

  console.log("\n9. follow its ingestion: GET /documents/{id}/progress (Server-Sent Events)");
  const progress =
    await (await fetch(`${API}/documents/${docId}/progress`, { headers: { authorization: `Bearer ${token}` } })).text();
  for (const m of progress.matchAll(/event: (\w+)\ndata: (.*)/g)) {
    const d = JSON.parse(m[2]);
    console.log(`  ${m[1].padEnd(8)} ${d.status} ${d.pages_done}/${d.pages_total} pages (${d.progress_percent}%)`);
  }

  const supabase = createClient(cfg.apiUrl, ANON_KEY, {
    auth: { persistSession: false },
    global: { headers: { Authorization: `Bearer ${token}` } },
  });
  const { data: { user } } = await supabase.auth.getUser(token);
  const secondId = crypto.randomUUID();
  const notes = await makePdf([{
    lines: ["Pontoon C notes.", "The spare mooring lines are stored in locker 14 on pontoon C."],
  }, { lines: [] }]);
  const { error } = await supabase.storage.from("documents").upload(`${user!.id}/${secondId}.pdf`, notes, {
    contentType: "application/pdf",
    metadata: { filename: "pontoon-notes.pdf" },
  });
  console.log(
    `\n10. upload another with supabase-js: storage.from('documents').upload('<user id>/<document id>.pdf')\n  -> ${
      error ? `error: ${error.message}` : "uploaded; the trigger on storage.objects made the document and queued it"
    }`,
  );
  let second;
  for (;;) {
    second = await call("GET", `/documents/${secondId}`, token);
    if (second.body.data?.status === "ready" || second.body.data?.status === "failed") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(
    `  GET /documents/${secondId}: ${second.body.data.status}, ${second.body.data.pages_done}/${second.body.data.pages_total} pages, ${second.body.data.pages_without_text} without text (no OCR)`,
  );

  const docs = await call("GET", "/documents", token);
  show("11. GET /documents", docs);
  for (const d of docs.body.data) {
    console.log(
      `  ${d.filename}: ${d.status}, ${d.pages_total} pages, ${d.chunk_count} chunks, embeddings: ${
        d.embedding_model ?? "none (lexical only)"
      }`,
    );
  }

  const pdfConv = await call("POST", "/conversations", token, { title: "Harbour questions" });
  for (const d of [docId, secondId]) {
    await call("POST", `/conversations/${pdfConv.body.data.id}/documents`, token, { document_id: d });
  }
  console.log(`\n12. attach both to a new conversation: POST /conversations/{id}/documents`);

  for (const question of ["How long does a shower token last?", "Where are the spare mooring lines?"]) {
    const asked = await call("POST", `/conversations/${pdfConv.body.data.id}/messages`, token, { message: question });
    show(`13. ask: ${JSON.stringify(question)}`, asked);
    console.log(`  answer: ${asked.body.data.assistant_message.content.replace(/\n+/g, " ")}`);
    for (const c of asked.body.data.assistant_message.citations) {
      console.log(`  citation [${c.n}] ${c.filename}, page ${c.page} (${c.check}): "${c.quote}"`);
    }
  }

  const file = await call("GET", `/documents/${docId}/file?page=11`, token);
  show(
    "14. open the cited page in a PDF viewer: GET /documents/{id}/file?page=11 (a signed URL, valid 5 minutes)",
    file,
  );
  console.log(`  ${file.body.data.url.replace(/token=[^&#]+/, "token=...")}`);
});
