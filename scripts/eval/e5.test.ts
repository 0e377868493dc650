// The eval's e5 client: zero padding that keeps cosine distances, the query/passage side sent to
// the server, and the on-disk cache (what it already has is not embedded again).
import assert from "node:assert/strict";
import { E5_DIMENSIONS, E5Embedder, padVector } from "./e5.ts";

const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  return dot / (Math.hypot(...a) * Math.hypot(...b));
};

Deno.test("padVector appends zeros up to the dimensions, keeping cosine similarity", () => {
  const a = [0.3, -0.5, 0.8], b = [0.1, 0.9, -0.2];
  const pa = padVector(a, 8), pb = padVector(b, 8);
  assert.deepEqual(pa, [0.3, -0.5, 0.8, 0, 0, 0, 0, 0]);
  assert.ok(Math.abs(cosine(pa, pb) - cosine(a, b)) < 1e-12);
  assert.throws(() => padVector(a, 2), /does not fit/);
});

/** A stand-in e5 server: each text's vector holds its length and its side, so answers can be checked. */
function fakeE5Server(requests: { input: string[]; input_type: string }[], dimensions = E5_DIMENSIONS) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    requests.push(body);
    const data = (body.input as string[]).map((t, index) => {
      const v = new Array(dimensions).fill(0);
      v[0] = t.length;
      v[1] = body.input_type === "query" ? 1 : 2;
      return { object: "embedding", index, embedding: v };
    });
    return Response.json({ object: "list", data });
  });
}

Deno.test("E5Embedder sends the side, pads, and embeds each text once across runs (the cache file)", async () => {
  const requests: { input: string[]; input_type: string }[] = [];
  const server = fakeE5Server(requests);
  const dir = await Deno.makeTempDir();
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const first = await E5Embedder.open(url, `${dir}/cache.jsonl`);
    const vectors = await first.embed(["각주", "footnote", "각주"], "passage", 1536, 2);
    assert.deepEqual(vectors.map((v) => v.length), [1536, 1536, 1536]);
    assert.deepEqual(vectors.map((v) => v.slice(0, 2)), [[2, 2], [8, 2], [2, 2]]);
    assert.deepEqual(vectors[0].slice(E5_DIMENSIONS).every((x) => x === 0), true);
    assert.deepEqual(requests.map((r) => [r.input, r.input_type]), [[["각주", "footnote"], "passage"]]);

    // The same text as a query is another vector; the passages come from the cache.
    const [query] = await first.embed(["각주"], "query", 1536);
    assert.deepEqual(query.slice(0, 2), [2, 1]);
    await first.embed(["footnote"], "passage", 1536);
    assert.deepEqual(requests.length, 2);
    assert.deepEqual(first.embedded, 3);

    // A later run reads the cache file and asks the server for nothing it holds.
    const second = await E5Embedder.open(url, `${dir}/cache.jsonl`);
    assert.deepEqual(await second.embed(["footnote", "각주"], "passage", 1536), [vectors[1], vectors[0]]);
    assert.deepEqual(requests.length, 2);
    assert.deepEqual(second.embedded, 0);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("E5Embedder refuses vectors of another model's size", async () => {
  const server = fakeE5Server([], 1536);
  try {
    const embedder = await E5Embedder.open(`http://127.0.0.1:${server.addr.port}`, null);
    await assert.rejects(() => embedder.embed(["x"], "query", 1536), /unexpected shape/);
  } finally {
    await server.shutdown();
  }
});
