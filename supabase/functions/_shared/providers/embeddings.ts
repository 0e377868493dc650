// Embeddings through OpenAI (`text-embedding-3-small`, 1536 dimensions), with the same failure
// classes as chat. Used by the ingest worker (chunks) and the api function (the question).
import { providerError } from "./errors.ts";
import { embeddingInput } from "./estimate.ts";
import { facts, openaiSdk } from "./openai.ts";

export const EMBEDDING_MODEL = "text-embedding-3-small";
export const EMBEDDING_DIMENSIONS = 1536;

export interface Embeddings {
  vectors: number[][];
  model: string;
  promptTokens: number;
}

export async function embed(
  config: { openaiBaseUrl: string; timeoutMs: number },
  apiKey: string,
  inputs: string[],
): Promise<Embeddings> {
  const client = new (await openaiSdk())({
    apiKey,
    baseURL: config.openaiBaseUrl,
    timeout: config.timeoutMs,
    maxRetries: 1,
    organization: null,
    project: null,
    adminAPIKey: null,
  });
  try {
    const res = await client.embeddings.create({
      model: EMBEDDING_MODEL,
      input: inputs.map(embeddingInput),
      encoding_format: "float",
    });
    const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    if (vectors.length !== inputs.length || vectors.some((v) => v.length !== EMBEDDING_DIMENSIONS)) {
      throw new Error("the provider returned embeddings of an unexpected shape");
    }
    return { vectors, model: EMBEDDING_MODEL, promptTokens: res.usage?.prompt_tokens ?? 0 };
  } catch (err) {
    throw providerError("openai", facts(err), apiKey);
  }
}

/** pgvector's text form. */
export const vectorLiteral = (v: number[]) => `[${v.join(",")}]`;
