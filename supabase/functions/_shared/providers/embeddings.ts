// Embeddings through OpenAI (`text-embedding-3-small`, 1536 dimensions), with the same failure
// classes as chat. Used by the ingest worker (chunks) and the api function (the question).
import { providerError } from "./errors.ts";
import { facts, openaiSdk } from "./openai.ts";

export const EMBEDDING_MODEL = "text-embedding-3-small";
export const EMBEDDING_DIMENSIONS = 1536;
/** The most tokens the model reads of one input; a longer input is refused (400), not cut. */
export const EMBEDDING_MAX_INPUT_TOKENS = 8191;

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

const utf8 = new TextEncoder();

/**
 * What is sent of one input: all of it when the model surely reads it whole, else its start of
 * at most EMBEDDING_MAX_INPUT_TOKENS bytes of UTF-8, cut between characters (every token is at
 * least a byte, so that start is within the limit). Only a question can be that long (a message
 * may have 32,000 characters; chunks have about 1,000): it is then searched by its start, instead
 * of the call failing and the question being searched by its words alone.
 */
export function embeddingInput(text: string): string {
  const bytes = utf8.encode(text);
  if (bytes.length <= EMBEDDING_MAX_INPUT_TOKENS) return text;
  let end = EMBEDDING_MAX_INPUT_TOKENS;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // not inside a character's bytes
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * An upper bound on the input tokens of an embedding call, for its budget reservation: OpenAI's
 * tokenizer is byte-level BPE, every token at least one byte of UTF-8, so the bytes of what is
 * sent bound it.
 */
export function worstCaseEmbeddingTokens(inputs: string[]): number {
  return inputs.reduce((n, t) => n + Math.min(utf8.encode(t).length, EMBEDDING_MAX_INPUT_TOKENS), 0);
}

/** pgvector's text form. */
export const vectorLiteral = (v: number[]) => `[${v.join(",")}]`;
