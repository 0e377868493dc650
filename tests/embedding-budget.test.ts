// Embeddings keep the budget promise: each embedding call (a batch of a document's chunks, a
// question) reserves its worst case against the key first, like a chat message, and is not made
// when the budget cannot cover it. The documents are still ingested and searchable lexically,
// and say why their chunks have no embedding; a question is still answered from them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settled, uploadPdf } from "./support/documents.ts";
import { codeFor, factPage, makePdf } from "./support/pdfs.ts";
import { callApi as api, createConversation, registerKey } from "./support/providers.ts";
import { createUser, db, type TestUser } from "./support/users.ts";

afterAll(() => db.end());

const BUDGET = 0.01; // the smallest budget a key can have (cents)
const EMBEDDING_PRICE = 0.02 / 1e6; // text-embedding-3-small, per input token (model_prices)
const DOCUMENTS = 8;

let user: TestUser;
let openaiKey: string;
let documents: string[];

/**
 * Usage recorded as earlier calls on the key would have: by private.record_usage for the user of
 * the claims, run as the database owner like the settling functions that call it (no client role may).
 */
async function spend(tokens: number) {
  await db.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role: "authenticated" })}, true)`;
    await tx`select private.record_usage(${openaiKey}::uuid, null, null, 'openai', 'text-embedding-3-small', ${tokens}, 0, 0, 'provider', 1, 'ok', null)`;
  });
}

async function keyUsage() {
  const [row] =
    await db`select coalesce(sum(cost_usd), 0)::numeric as spent, count(*)::int as events from public.usage_events where api_key_id = ${openaiKey}`;
  return { spent: Number(row.spent), events: row.events as number };
}

/** Five pages of about 800 characters, distinct per document (so no two are duplicates). */
function pagesOf(doc: number) {
  return Array.from({ length: 5 }, (_, i) => {
    const n = doc * 100 + i + 1;
    return {
      lines: [
        ...factPage(n),
        ...Array.from(
          { length: 8 },
          (_, j) => `Filler sentence ${j} of section ${n} keeps this page long enough to be costly to embed.`,
        ),
      ],
    };
  });
}

beforeAll(async () => {
  user = await createUser("embed_budget");
  openaiKey = (await registerKey(user, "openai")).id;
  expect((await api("PATCH", `/keys/${openaiKey}`, { token: user.token, body: { monthly_budget_usd: BUDGET } })).status)
    .toBe(200);
  // This month's spend leaves $0.0001 (5,000 tokens): each document's one batch of about 3,900
  // characters reserves $0.00007 at worst and costs about $0.00002, so the eight together
  // (about $0.00015) would exceed what is left.
  await spend(495_000);
}, 60_000);

describe("embeddings on a budgeted key", () => {
  it(
    `${DOCUMENTS} PDFs uploaded at once: spend never exceeds the budget, all become ready, the skipped ones say so`,
    async () => {
      const uploads = await Promise.all(
        Array.from(
          { length: DOCUMENTS },
          async (_, d) => uploadPdf(user, await makePdf(pagesOf(d)), `budget-${d}.pdf`),
        ),
      );
      expect(uploads.map((u) => u.status)).toEqual(Array(DOCUMENTS).fill(201));
      documents = uploads.map((u) => u.body.data.id);
      const rows = await Promise.all(documents.map((id) => settled(id, 90_000)));
      expect(rows.map((r) => r.status)).toEqual(Array(DOCUMENTS).fill("ready"));

      const { spent } = await keyUsage();
      expect(spent).toBeLessThanOrEqual(BUDGET);
      const [{ open }] =
        await db`select count(*)::int as open from private.budget_reservations where api_key_id = ${openaiKey}`;
      expect(open).toBe(0);

      // What the API shows: a document whose chunks were not embedded for the budget says so.
      const shown = await Promise.all(documents.map((id) => api("GET", `/documents/${id}`, { token: user.token })));
      const chunks =
        await db`select document_id, count(*) filter (where embedding is null)::int as bare, count(*)::int as total
                            from public.document_chunks where document_id = any(${documents}::uuid[]) group by document_id`;
      const bare = new Map(chunks.map((c) => [c.document_id as string, c.bare as number]));
      let skipped = 0, embedded = 0;
      for (const res of shown) {
        expect(res.status).toBe(200);
        const doc = res.body.data;
        expect(doc.status).toBe("ready");
        expect(doc.chunk_count).toBeGreaterThan(0);
        if (doc.embeddings_skipped === "budget") {
          skipped++;
          expect(bare.get(doc.id)).toBe(doc.chunk_count);
          expect(doc.embedding_model).toBeNull();
        } else {
          embedded++;
          expect(doc.embeddings_skipped).toBeNull();
          expect(bare.get(doc.id)).toBe(0);
          expect(doc.embedding_model).toBe("text-embedding-3-small");
        }
      }
      expect(skipped).toBeGreaterThan(0);
      expect(embedded).toBeGreaterThan(0); // the budget was used, not refused outright
      // Only calls that were made are recorded: one per embedded document, priced as the provider counted.
      const [calls] =
        await db`select count(*)::int as n, coalesce(sum(prompt_tokens), 0)::int as tokens from public.usage_events
                             where api_key_id = ${openaiKey} and model = 'text-embedding-3-small' and prompt_tokens <> 495000`;
      expect(calls.n).toBe(embedded);
      expect(spent).toBeCloseTo(495_000 * EMBEDDING_PRICE + calls.tokens * EMBEDDING_PRICE, 8);
    },
    120_000,
  );

  it(
    "a question on a budget-exhausted key is still answered from the documents, searched lexically, with no embedding call",
    async () => {
      const { spent } = await keyUsage();
      if (spent < BUDGET) await spend(Math.round((BUDGET - spent) / EMBEDDING_PRICE)); // the whole budget: nothing left
      const before = await keyUsage();
      expect(before.spent).toBeGreaterThanOrEqual(BUDGET - 1e-8);

      // Chat through an Anthropic key (no budget); the question's embedding would use the OpenAI one.
      const anthropicKey = (await registerKey(user, "anthropic")).id;
      const conversation = await createConversation(user, { api_key_id: anthropicKey });
      const target = documents[DOCUMENTS - 1];
      expect(
        (await api("POST", `/conversations/${conversation}/documents`, {
          token: user.token,
          body: { document_id: target },
        })).status,
      ).toBe(201);
      const section = (DOCUMENTS - 1) * 100 + 3;
      const res = await api("POST", `/conversations/${conversation}/messages`, {
        token: user.token,
        body: { message: `What is the archive code for section ${section}?` },
      });
      expect(res.status).toBe(201);
      const [first] = res.body.data.assistant_message.citations;
      expect(first).toMatchObject({ document_id: target, page: 3 });
      expect(first.quote + res.body.data.assistant_message.content).toContain(codeFor(section));

      // No embedding call was billed to the exhausted key: nothing recorded, the budget holds.
      expect(await keyUsage()).toEqual(before);

      // On the OpenAI key itself the chat call is refused by the chat budget rules (429), stored nowhere.
      const onKey = await createConversation(user, { api_key_id: openaiKey, model: "gpt-4o-mini" });
      await api("POST", `/conversations/${onKey}/documents`, { token: user.token, body: { document_id: target } });
      const refused = await api("POST", `/conversations/${onKey}/messages`, {
        token: user.token,
        body: { message: `What is the archive code for section ${section}?` },
      });
      expect(refused.status).toBe(429);
      expect(await keyUsage()).toEqual(before);
    },
    60_000,
  );
});

describe("a question's embedding call whose search never runs", () => {
  it(
    "is recorded all the same: the session ended during the call, so the grounding statement (settlement and search) was refused",
    async () => {
      const asker = await createUser("embed_logout");
      const up = await uploadPdf(asker, await makePdf([{ lines: factPage(1) }]), "one.pdf");
      await settled(up.body.data.id);
      // Registered after ingestion, so only the question is embedded; its embedding call is slow
      // (FAKE_SLOW_MS, beyond the embedding timeout): an attempt that is recorded as such.
      const key = (await registerKey(asker, "openai", ["slow", "chatonly"])).id;
      const conversation = await createConversation(asker);
      expect(
        (await api("POST", `/conversations/${conversation}/documents`, {
          token: asker.token,
          body: { document_id: up.body.data.id },
        })).status,
      ).toBe(201);

      const asked = api("POST", `/conversations/${conversation}/messages`, {
        token: asker.token,
        body: { message: "What is on page 1?" },
      });
      await new Promise((r) => setTimeout(r, 1_000)); // the embedding call is under way
      expect((await api("POST", "/users/logout", { token: asker.token })).status).toBe(200);
      expect((await asked).status).toBe(401);

      // Settled on its own after the refused statement: recorded once, its reservation released.
      // (The new key also queued an embed job for the document: the worker's calls have no conversation.)
      const events =
        await db`select model, outcome, error_code from public.usage_events where api_key_id = ${key} and conversation_id = ${conversation}`;
      expect(events).toEqual([{ model: "text-embedding-3-small", outcome: "error", error_code: "timeout" }]);
      expect(
        await db`select 1 from private.budget_reservations where user_id = ${asker.id} and conversation_id = ${conversation}`,
      ).toEqual([]);
      expect(await db`select 1 from public.messages where conversation_id = ${conversation}`).toEqual([]);
    },
    60_000,
  );
});
