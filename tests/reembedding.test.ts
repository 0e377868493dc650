// Re-embedding: a document ingested without an OpenAI key gets its vectors when the owner adds a
// valid one, or on POST /documents/{id}/reindex; billed to that key like ingestion; each chunk
// records its model, and retrieval compares a question only with vectors of the same model.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settled, uploadPdf } from "./support/documents.ts";
import { factPage, makePdf } from "./support/pdfs.ts";
import { callApi as api, eventually, registerKey } from "./support/providers.ts";
import { createUser, db, type TestUser } from "./support/users.ts";

const MODEL = "text-embedding-3-small";
let owner: TestUser;
let doc: string;

const vectors = async (documentId: string) => {
  const [row] = await db`select count(*)::int as chunks, count(embedding)::int as embedded,
                                count(*) filter (where embedding_model = ${MODEL})::int as of_model
                         from public.document_chunks where document_id = ${documentId}`;
  return row as { chunks: number; embedded: number; of_model: number };
};

beforeAll(async () => {
  owner = await createUser("reembed");
  const uploaded = await uploadPdf(
    owner,
    await makePdf(Array.from({ length: 12 }, (_, i) => ({ lines: factPage(i + 1) }))),
    "facts.pdf",
  );
  doc = uploaded.body.data.id;
  expect(await settled(doc)).toMatchObject({ status: "ready", embedding_model: null });
}, 60_000);
afterAll(() => db.end());

describe("re-embedding", () => {
  it("without an OpenAI key: reindex is 409 and nothing changes", async () => {
    const res = await api("POST", `/documents/${doc}/reindex`, { token: owner.token });
    expect(res.status).toBe(409);
    expect(res.body.success).toBe(false);
    expect(res.body.message).toMatch(/OpenAI key/);
    const v = await vectors(doc);
    expect(v.chunks).toBeGreaterThan(0);
    expect(v.embedded).toBe(0);
  });

  it("an unknown or another user's document is 404", async () => {
    expect((await api("POST", `/documents/${crypto.randomUUID()}/reindex`, { token: owner.token })).status).toBe(404);
    const other = await createUser("reembed_other");
    await registerKey(other, "openai");
    expect((await api("POST", `/documents/${doc}/reindex`, { token: other.token })).status).toBe(404);
    expect((await vectors(doc)).embedded).toBe(0);
  });

  it("adding a valid OpenAI key embeds the document's chunks, with their model, billed to that key", async () => {
    const key = await registerKey(owner, "openai");
    const done = await eventually(
      async () => {
        const v = await vectors(doc);
        return v.of_model === v.chunks ? v : undefined;
      },
      30_000,
      "the chunks' vectors",
    );
    expect(done.embedded).toBe(done.chunks);
    expect(
      await eventually(
        async () => {
          const [d] = await db`select embedding_model from public.documents where id = ${doc}`;
          return d.embedding_model ?? undefined;
        },
        30_000,
        "the document's model",
      ),
    ).toBe(MODEL);
    const [usage] = await db`select count(*)::int as calls, sum(prompt_tokens)::int as tokens from public.usage_events
                             where api_key_id = ${key.id} and model = ${MODEL} and outcome = 'ok'`;
    expect(usage.calls).toBeGreaterThan(0);
    expect(usage.tokens).toBeGreaterThan(0);
  });

  it("reindex re-embeds chunks whose vector is of another model, and only those", async () => {
    const older = await db`
      with first_three as (select id from public.document_chunks where document_id = ${doc} order by id limit 3)
      update public.document_chunks c set embedding_model = 'an-older-model' from first_three where c.id = first_three.id
      returning c.id`;
    expect(older.length).toBe(3);
    const [before] =
      await db`select count(*)::int as calls from public.usage_events where user_id = ${owner.id} and model = ${MODEL}`;
    const res = await api("POST", `/documents/${doc}/reindex`, { token: owner.token });
    expect(res.status).toBe(202);
    expect(res.body.message).toBe("Re-embedding queued");
    expect(res.body.data).toMatchObject({ id: doc, status: "ready" });
    await eventually(
      async () => {
        const v = await vectors(doc);
        return v.of_model === v.chunks ? v : undefined;
      },
      30_000,
      "the older vectors replaced",
    );
    const [after] =
      await db`select count(*)::int as calls from public.usage_events where user_id = ${owner.id} and model = ${MODEL}`;
    expect(after.calls).toBe(before.calls + 1);
    // Nothing left to do: nothing queued, nothing billed.
    const again = await api("POST", `/documents/${doc}/reindex`, { token: owner.token });
    expect(again.status).toBe(202);
    expect(again.body.message).toMatch(/^Nothing queued/);
  });

  it("retrieval compares a question only with vectors of its own model", async () => {
    const [conversation] =
      await db`insert into public.conversations (user_id, title) values (${owner.id}, 'models') returning id`;
    await db`insert into public.conversation_documents (conversation_id, document_id, user_id) values (${conversation.id}, ${doc}, ${owner.id})`;
    const [chunk] =
      await db`select id, embedding::text as embedding from public.document_chunks where document_id = ${doc} order by id limit 1`;
    const search = (model: string) =>
      db.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${
          JSON.stringify({ sub: owner.id, role: "authenticated" })
        }, true)`;
        return tx`select chunk_id, vector_rank from private.search_conversation_chunks(${conversation.id}::uuid, 'zzzz nothing lexical',
                  ${chunk.embedding}::extensions.vector, 5, ${model})`;
      });
    const same = await search(MODEL);
    expect(same[0]).toMatchObject({ chunk_id: chunk.id, vector_rank: 1 });
    expect(await search("another-model")).toEqual([]);
  });
});
