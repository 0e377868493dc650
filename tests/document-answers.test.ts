// Answers from documents: attach a PDF to a conversation, ask, and the answer's citations name
// the pages that hold the answer, with quotes that are verbatim in the stored page text. With no
// key at all the answer is extractive. Hybrid retrieval is limited to the attached documents.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settled, uploadPdf } from "./support/documents.ts";
import { animalFor, codeFor, factPage, makePdf } from "./support/pdfs.ts";
import { callApi as api, createConversation, postMessageStream, registerKey } from "./support/providers.ts";
import { createUser, db, type TestUser } from "./support/users.ts";

let keyed: TestUser; // has an OpenAI key: chunks embedded, answers by the (fake) model
let keyless: TestUser; // no key at all
let keyedDoc: string;
let keylessDoc: string;
let koreanDoc: string;

const pages = (n: number) => Array.from({ length: n }, (_, i) => ({ lines: factPage(i + 1) }));

beforeAll(async () => {
  [keyed, keyless] = await Promise.all([createUser("ans_keyed"), createUser("ans_keyless")]);
  await registerKey(keyed, "openai");
  const bytes = await makePdf(pages(60));
  const [a, b] = await Promise.all([uploadPdf(keyed, bytes, "facts.pdf"), uploadPdf(keyless, bytes, "facts.pdf")]);
  keyedDoc = a.body.data.id;
  keylessDoc = b.body.data.id;
  const korean = await uploadPdf(
    keyless,
    await makePdf([
      { lines: ["이 문서는 여러 도시를 설명한다."] },
      { lines: ["대한민국의 수도는 서울이다.", "서울은 한강을 따라 자리한다."] },
      { lines: ["부산은 항구 도시이다."] },
    ]),
    "korean.pdf",
  );
  koreanDoc = korean.body.data.id;
  await Promise.all([settled(keyedDoc), settled(keylessDoc), settled(koreanDoc)]);
}, 120_000);
afterAll(() => db.end());

const ask = (user: TestUser, conversationId: string, message: string) =>
  api("POST", `/conversations/${conversationId}/messages`, { token: user.token, body: { message } });

async function quoteIsOnPage(
  c: { document_id: string; page: number; quote: string; start_offset: number; end_offset: number },
) {
  const [page] =
    await db`select text from public.document_pages where document_id = ${c.document_id} and page_number = ${c.page}`;
  return page.text.slice(c.start_offset, c.end_offset) === c.quote && page.text.includes(c.quote);
}

describe("attaching documents to a conversation", () => {
  it("attach (201, then 200 again), list, detach (then 404)", async () => {
    const conversation = await createConversation(keyed);
    const first = await api("POST", `/conversations/${conversation}/documents`, {
      token: keyed.token,
      body: { document_id: keyedDoc },
    });
    expect(first.status).toBe(201);
    expect(first.body.data).toMatchObject([{ id: keyedDoc, filename: "facts.pdf", status: "ready" }]);
    expect(
      (await api("POST", `/conversations/${conversation}/documents`, {
        token: keyed.token,
        body: { document_id: keyedDoc },
      })).status,
    ).toBe(200);
    const list = await api("GET", `/conversations/${conversation}/documents`, { token: keyed.token });
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([keyedDoc]);
    expect((await api("DELETE", `/conversations/${conversation}/documents/${keyedDoc}`, { token: keyed.token })).status)
      .toBe(200);
    expect((await api("DELETE", `/conversations/${conversation}/documents/${keyedDoc}`, { token: keyed.token })).status)
      .toBe(404);
    expect((await api("GET", `/conversations/${conversation}/documents`, { token: keyed.token })).body.data).toEqual(
      [],
    );
  });

  it("bad input: a malformed id is a field error, an unknown one 404, and nothing is attached", async () => {
    const conversation = await createConversation(keyed);
    const bad = await api("POST", `/conversations/${conversation}/documents`, {
      token: keyed.token,
      body: { document_id: "nope" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toHaveProperty("document_id");
    expect(
      (await api("POST", `/conversations/${conversation}/documents`, {
        token: keyed.token,
        body: { document_id: crypto.randomUUID() },
      })).status,
    ).toBe(404);
    expect(
      (await api("POST", `/conversations/${crypto.randomUUID()}/documents`, {
        token: keyed.token,
        body: { document_id: keyedDoc },
      })).status,
    ).toBe(404);
    expect((await api("POST", `/conversations/${conversation}/documents`, { token: keyed.token, body: {} })).status)
      .toBe(400);
    const [{ n }] =
      await db`select count(*)::int as n from public.conversation_documents where conversation_id = ${conversation}`;
    expect(n).toBe(0);
  });
});

describe("an answer with a key: numbered sources, citations on the right pages", () => {
  let conversation: string;
  beforeAll(async () => {
    conversation = await createConversation(keyed);
    await api("POST", `/conversations/${conversation}/documents`, {
      token: keyed.token,
      body: { document_id: keyedDoc },
    });
  });

  it("the chunks were embedded with the owner's key, billed as usage priced from model_prices", async () => {
    expect(await settled(keyedDoc)).toMatchObject({ embedding_model: "text-embedding-3-small" });
    const [{ missing }] =
      await db`select count(*)::int as missing from public.document_chunks where document_id = ${keyedDoc} and embedding is null`;
    expect(missing).toBe(0);
    const [usage] =
      await db`select count(*)::int as calls, sum(prompt_tokens)::int as tokens, sum(cost_usd)::text as cost, bool_and(priced) as priced
                             from public.usage_events where user_id = ${keyed.id} and model = 'text-embedding-3-small' and outcome = 'ok'`;
    expect(usage.calls).toBeGreaterThan(0);
    expect(usage.priced).toBe(true);
    expect(Number(usage.cost)).toBeCloseTo((usage.tokens * 0.02) / 1e6, 8);
  });

  for (const page of [7, 42, 59]) {
    it(`"what is the archive code for section ${page}?" cites page ${page}, quoting its text verbatim`, async () => {
      const res = await ask(keyed, conversation, `What is the archive code for section ${page}?`);
      expect(res.status).toBe(201);
      const answer = res.body.data.assistant_message;
      expect(answer.citations.length).toBeGreaterThanOrEqual(1);
      const [first] = answer.citations;
      expect(first).toMatchObject({ n: 1, document_id: keyedDoc, page, filename: "facts.pdf", check: "exact" });
      expect(await quoteIsOnPage(first)).toBe(true);
      const [chunk] = await db`select page_number from public.document_chunks where id = ${first.chunk_id}`;
      expect(chunk.page_number).toBe(page);
      // The model was given the numbered sources (the fake quotes source 1 back).
      expect(answer.content).toContain("[1]");
      const [stored] = await db`select citations from public.messages where id = ${answer.id}`;
      expect(stored.citations).toEqual(answer.citations);
    });
  }

  it("a question longer than the embedding model reads is embedded from its start, not refused", async () => {
    // 9,000 Hangul syllables: over text-embedding-3-small's 8,192 tokens (the fake refuses such an
    // input as OpenAI does); messages may have 32,000 characters.
    const question = `What is the archive code for section 42? ${"가".repeat(9_000)}`;
    const embeddingCalls = async () => {
      const [row] = await db`
        select count(*) filter (where outcome = 'ok')::int as ok, count(*) filter (where outcome <> 'ok')::int as failed
        from public.usage_events where user_id = ${keyed.id} and model = 'text-embedding-3-small'`;
      return row as { ok: number; failed: number };
    };
    const before = await embeddingCalls();
    const res = await ask(keyed, conversation, question);
    expect(res.status).toBe(201);
    expect(await embeddingCalls()).toEqual({ ok: before.ok + 1, failed: before.failed });
  });

  it("streamed: the deltas are the model's text, the done event carries the stored answer with its checked citations", async () => {
    const res = await postMessageStream(keyed.token, conversation, {
      message: "misquote: what is the archive code for section 18?",
      stream: true,
    });
    expect(res.status).toBe(200);
    const done = res.events.find((e) => e.event === "done")!;
    const [c] = done.data.assistant_message.citations;
    expect(c).toMatchObject({ page: 18, check: "repaired" });
    expect(await quoteIsOnPage(c)).toBe(true);
    const streamed = res.events.filter((e) => e.event === "delta").map((e) => e.data.text).join("");
    expect(streamed).toContain(c.quote.toUpperCase().replace(/ /g, "  "));
    const [stored] =
      await db`select content, citations from public.messages where id = ${done.data.assistant_message.id}`;
    expect(stored.citations).toEqual(done.data.assistant_message.citations);
    expect(stored.content).toContain(`"${c.quote}" [1]`);
  });

  it("a misquoted passage is repaired to the page's exact words", async () => {
    const res = await ask(keyed, conversation, `misquote: which animal lives in region 33?`);
    const [c] = res.body.data.assistant_message.citations;
    expect(c).toMatchObject({ page: 33, check: "repaired" });
    expect(await quoteIsOnPage(c)).toBe(true);
    expect(res.body.data.assistant_message.content).toContain(`"${c.quote}" [1]`);
    expect(c.quote).not.toBe(c.quote.toUpperCase());
  });

  it("a quote that is in no source is dropped, never shown as a citation", async () => {
    const res = await ask(keyed, conversation, `fabricate: which animal lives in region 12?`);
    const answer = res.body.data.assistant_message;
    expect(answer.citations.some((c: { quote: string }) => /green cheese/.test(c.quote))).toBe(false);
    expect(answer.content).not.toMatch(/"The moon[^"]*" \[1\]/);
  });

  it("a conversation without documents answers as before, with no citations", async () => {
    const plain = await createConversation(keyed);
    const res = await ask(keyed, plain, "Hello");
    expect(res.status).toBe(201);
    expect(res.body.data.assistant_message).toMatchObject({ content: "Echo: Hello", citations: [] });
  });
});

describe("no key at all: an extractive answer", () => {
  it("the best passages with their pages, labelled extractive, no usage", async () => {
    const conversation = await createConversation(keyless);
    await api("POST", `/conversations/${conversation}/documents`, {
      token: keyless.token,
      body: { document_id: keylessDoc },
    });
    const res = await ask(keyless, conversation, `Which animal lives in region 21?`);
    expect(res.status).toBe(201);
    expect(res.body.data.usage).toBeNull();
    const answer = res.body.data.assistant_message;
    expect(answer).toMatchObject({ model: "extractive", api_key_id: null });
    expect(answer.content).toMatch(/^Extractive answer/);
    expect(answer.citations[0]).toMatchObject({ page: 21, document_id: keylessDoc });
    expect(answer.citations[0].quote).toContain(animalFor(21));
    for (const c of answer.citations) expect(await quoteIsOnPage(c)).toBe(true);
    const [{ n }] = await db`select count(*)::int as n from public.usage_events where user_id = ${keyless.id}`;
    expect(n).toBe(0);
  });

  it("still 400 without documents: there is nothing to extract from", async () => {
    const res = await ask(keyless, await createConversation(keyless), "Hello?");
    expect(res.status).toBe(400);
  });

  it("Korean: a question with other particles than the text finds the right page (trigram, not stemming)", async () => {
    const conversation = await createConversation(keyless);
    await api("POST", `/conversations/${conversation}/documents`, {
      token: keyless.token,
      body: { document_id: koreanDoc },
    });
    const res = await ask(keyless, conversation, "대한민국 수도는 어디인가?");
    expect(res.body.data.assistant_message.citations[0]).toMatchObject({ page: 2, document_id: koreanDoc });
  });
});

describe("retrieval is limited to the conversation's attached documents and to their owner", () => {
  it("a document not attached is not searched; another user's conversation yields nothing", async () => {
    const conversation = await createConversation(keyless);
    const asUser = (user: TestUser, conversationId: string, q: string) =>
      db.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
          JSON.stringify({ sub: user.id, role: "authenticated" })
        }, true)`;
        return tx`select document_id, page_number from private.search_conversation_chunks(${conversationId}::uuid, ${q})`;
      });
    expect(await asUser(keyless, conversation, `archive code for section 5`)).toEqual([]);
    await api("POST", `/conversations/${conversation}/documents`, {
      token: keyless.token,
      body: { document_id: keylessDoc },
    });
    const hits = await asUser(keyless, conversation, `archive code for section 5 ${codeFor(5)}`);
    expect(hits[0]).toEqual({ document_id: keylessDoc, page_number: 5 });
    expect(await asUser(keyed, conversation, `archive code for section 5`)).toEqual([]);
  });
});

describe("deleting a document keeps old answers' citations, marked as gone", () => {
  it("quote and page stay; document_deleted is set and chunk_id cleared", async () => {
    const bytes = await makePdf(pages(3).map((p, i) => ({ lines: [...p.lines, `Deletion marker ${i}.`] })));
    const up = await uploadPdf(keyless, bytes, "temporary.pdf");
    await settled(up.body.data.id);
    const conversation = await createConversation(keyless);
    await api("POST", `/conversations/${conversation}/documents`, {
      token: keyless.token,
      body: { document_id: up.body.data.id },
    });
    const res = await ask(keyless, conversation, "Which animal lives in region 2?");
    const before = res.body.data.assistant_message.citations[0];
    expect(before.page).toBe(2);
    expect((await api("DELETE", `/documents/${up.body.data.id}`, { token: keyless.token })).status).toBe(200);
    const messages = await api("GET", `/conversations/${conversation}/messages`, { token: keyless.token });
    const after =
      messages.body.data.find((m: { id: string }) => m.id === res.body.data.assistant_message.id).citations[0];
    expect(after).toMatchObject({
      quote: before.quote,
      page: 2,
      document_id: up.body.data.id,
      chunk_id: null,
      document_deleted: true,
    });
  });
});
