// Helpers for suites that register provider keys and exchange messages against the fake
// provider (scripts/fake-provider.ts): key strings that follow its key rule, SSE reading,
// hand-computed costs, and a record of every response so a suite can prove no plaintext
// key ever left the API.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { API_URL, PG_DATA } from "./env.ts";
import { api, type ApiReply, db, type TestUser } from "./users.ts";

export type Provider = "openai" | "anthropic";

/** Switches the fake provider reads from a key's text. */
export type Switch = "fail401" | "fail429" | "quota" | "fail500" | "fail529" | "slow" | "cut" | "cached" | "chatonly";

/** Every plaintext key a suite made, and every response text it saw. */
const plaintexts = new Set<string>();
const responses: string[] = [];

/**
 * A fresh key the fake provider accepts (`sk-` / `sk-ant-`, 20+ characters), with the given
 * switches. The random part is hex, so it never spells a switch by accident.
 */
export function fakeKey(provider: Provider, ...switches: Switch[]): string {
  const key = `${provider === "anthropic" ? "sk-ant-" : "sk-"}test${randomBytes(12).toString("hex")}${
    switches.map((s) => `-${s}`).join("")
  }`;
  plaintexts.add(key);
  return key;
}

/** Remembers a plaintext made elsewhere (e.g. a deliberately malformed key). */
export function trackPlaintext(key: string): string {
  plaintexts.add(key);
  return key;
}

export function trackedPlaintexts(): string[] {
  return [...plaintexts];
}

/** `api()` that also keeps the response (body and headers) for a later leak check. */
export async function callApi(method: string, path: string, opts: Parameters<typeof api>[2] = {}): Promise<ApiReply> {
  const reply = await api(method, path, opts);
  responses.push(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body));
  responses.push(JSON.stringify([...reply.headers.entries()]));
  return reply;
}

/** The tracked plaintexts that appear in some recorded response. */
export function leakedInResponses(): string[] {
  return trackedPlaintexts().filter((key) => responses.some((text) => text.includes(key)));
}

export function recordedResponseCount(): number {
  return responses.length;
}

/** Registers a key through the API; throws unless it is stored. */
export async function registerKey(
  user: TestUser,
  provider: Provider,
  switches: Switch[] = [],
  name = `${provider} key`,
) {
  const apiKey = fakeKey(provider, ...switches);
  const res = await callApi("POST", "/keys", { token: user.token, body: { name, api_key: apiKey, provider } });
  if (res.status !== 201) {
    throw new Error(
      `registering a ${provider} key [${switches.join(",")}] answered ${res.status}: ${JSON.stringify(res.body)}`,
    );
  }
  return { id: res.body.data.id as string, apiKey, key: res.body.data };
}

export async function createConversation(user: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const res = await callApi("POST", "/conversations", { token: user.token, body });
  if (res.status !== 201) {
    throw new Error(`creating a conversation answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body.data.id;
}

export interface SseEvent {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

/** Parses a complete `text/event-stream` body. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    const raw = data.join("\n");
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch { /* keep the text */ }
    events.push({ event, data: parsed });
  }
  return events;
}

/** POST /conversations/:id/messages read as a stream to the end; the body text is recorded for the leak check. */
export async function postMessageStream(
  token: string,
  conversationId: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${API_URL}/api/v1/conversations/${conversationId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  responses.push(text);
  return { status: res.status, headers: res.headers, text, events: parseSse(text) };
}

/** Polls `check` until it returns a value other than undefined; fails naming `what` when the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The fake provider's token rule for ASCII text: ceil(chars / 4), at least 1 (scripts/fake-provider.ts). */
export const fakeTokens = (chars: number) => Math.max(1, Math.ceil(chars / 4));

/**
 * The cost of a call, computed here from the model's current price row: USD per million
 * tokens, cached prompt tokens at the cached rate, rounded (half up) to 8 decimals.
 * Returns the decimal string Postgres' numeric(14, 8) prints, or null when the model has no price.
 */
export async function expectedCost(
  provider: Provider,
  model: string,
  prompt: number,
  cached: number,
  completion: number,
): Promise<string | null> {
  const [price] = await db`
    select input_usd_per_mtok::text as input, cached_input_usd_per_mtok::text as cached, output_usd_per_mtok::text as output
    from public.model_prices where provider = ${provider} and model = ${model} and valid_from <= now()
    order by valid_from desc limit 1`;
  if (!price) return null;
  // Prices have 4 decimals: work in integers of 1e-4 USD per Mtok, i.e. 1e-10 USD per token.
  const units = (text: string) => {
    const [whole, frac = ""] = text.split(".");
    return BigInt(whole) * 10_000n + BigInt((frac + "0000").slice(0, 4));
  };
  const total = BigInt(prompt - cached) * units(price.input) + BigInt(cached) * units(price.cached) +
    BigInt(completion) * units(price.output);
  const rounded = (total + 50n) / 100n; // 1e-10 -> 1e-8 USD
  const digits = rounded.toString().padStart(9, "0");
  return `${digits.slice(0, -8)}.${digits.slice(-8)}`;
}

/** A log file of the test stack (`functions.log`, `gateway.log`, ...). */
export function stackLogText(name: string): string {
  const candidates = [
    PG_DATA ? `${PG_DATA}/../logs/${name}` : "",
    new URL(`../../.supabase-local/test/logs/${name}`, import.meta.url).pathname,
  ].filter(Boolean);
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error(`no ${name} at ${candidates.join(" or ")}`);
  return readFileSync(path, "utf8");
}
