// Both providers against scripts/fake-provider.ts, run as a subprocess on a free port.
// Run: deno test -A --config supabase/functions/api/deno.json supabase/functions/_shared/providers/
import assert from "node:assert/strict";
import {
  type ChatRequest,
  type ChatResult,
  classifyFailure,
  ProviderError,
  providerFor,
  type ProviderName,
  scrubSecret,
  type StreamEvent,
} from "./index.ts";
import { estimatedUsage } from "./estimate.ts";

const fakeScript = new URL("../../../../scripts/fake-provider.ts", import.meta.url);
const fake = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--allow-env", fakeScript.pathname],
  env: { PORT: "0", FAKE_SLOW_MS: "2000" },
  stdout: "piped",
  stderr: "null", // the -cut connections log on purpose
}).spawn();
const baseUrl = await listeningUrl(fake.stdout);

Deno.test.afterAll(async () => {
  fake.kill("SIGTERM");
  await fake.status;
});

async function listeningUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`fake provider exited before listening: ${seen}`);
    seen += value;
  }
  reader.releaseLock();
  const url = seen.match(/http:\/\/[\d.]+:\d+/)?.[0];
  if (!url) throw new Error(`unexpected fake provider output: ${seen}`);
  return url;
}

const KEYS: Record<ProviderName, string> = {
  openai: "sk-test-0123456789abcdef",
  anthropic: "sk-ant-test-0123456789abcdef",
};
const MODELS: Record<ProviderName, string> = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5" };

function provider(name: ProviderName, timeoutMs = 5000) {
  return providerFor(name, { openaiBaseUrl: `${baseUrl}/v1`, anthropicBaseUrl: baseUrl, timeoutMs });
}

function request(name: ProviderName, keySuffix = "", extra: Partial<ChatRequest> = {}): ChatRequest {
  return {
    apiKey: KEYS[name] + keySuffix,
    model: MODELS[name],
    system: "Be brief.",
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "hello world" },
    ],
    ...extra,
  };
}

// The fake's count: ceil(chars of system prompt and messages / 4).
const PROMPT_TOKENS = Math.ceil(("Be brief." + "hi" + "Hello." + "hello world").length / 4);

async function collect(stream: AsyncIterable<StreamEvent>) {
  const deltas: string[] = [];
  let done: ChatResult | undefined;
  let error: unknown;
  try {
    for await (const event of stream) {
      if (event.type === "delta") deltas.push(event.text);
      else done = event.result;
    }
  } catch (err) {
    error = err;
  }
  return { deltas, done, error };
}

async function failure(work: Promise<unknown>, key: string): Promise<ProviderError> {
  try {
    await work;
  } catch (err) {
    return checked(err, key);
  }
  throw new assert.AssertionError({ message: "expected a ProviderError, got success" });
}

function checked(err: unknown, key: string): ProviderError {
  assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${err}`);
  for (const text of [err.message, String(err.stack), JSON.stringify(err)]) {
    assert.ok(!text.includes(key), `error text leaks the key: ${text}`);
  }
  return err;
}

for (const name of ["openai", "anthropic"] as const) {
  const key = KEYS[name];

  Deno.test(`${name}: plain answer with provider usage`, async () => {
    const result = await provider(name).chat(request(name));
    assert.deepEqual(result, {
      text: "Echo: hello world",
      model: MODELS[name],
      usage: { promptTokens: PROMPT_TOKENS, cachedPromptTokens: 0, completionTokens: 5, source: "provider" },
    });
  });

  Deno.test(`${name}: streamed answer, deltas add up, done carries usage with cached tokens`, async () => {
    const { deltas, done, error } = await collect(provider(name).chatStream(request(name, "-cached")));
    assert.equal(error, undefined);
    assert.ok(deltas.length > 1, "several deltas");
    assert.equal(deltas.join(""), "Echo: hello world");
    assert.deepEqual(done, {
      text: "Echo: hello world",
      model: MODELS[name],
      usage: {
        promptTokens: PROMPT_TOKENS,
        cachedPromptTokens: Math.floor(PROMPT_TOKENS / 2),
        completionTokens: 5,
        source: "provider",
      },
    });
  });

  Deno.test(`${name}: validateKey accepts a good key, rejects a bad one as invalid_key`, async () => {
    await provider(name).validateKey(key);
    for (const bad of [`${key}-fail401`, "sk-short", name === "openai" ? KEYS.anthropic : KEYS.openai]) {
      const err = await failure(provider(name).validateKey(bad), bad);
      assert.equal(err.kind, "invalid_key");
      assert.equal(err.status, 401);
    }
  });

  Deno.test(`${name}: validateKey reports other failures without calling the key invalid`, async () => {
    const cases: Array<[string, string]> = [["-fail429", "rate_limited"], ["-fail500", "unavailable"], [
      "-quota",
      "quota_exceeded",
    ]];
    for (const [suffix, kind] of cases) {
      const err = await failure(provider(name).validateKey(key + suffix), key + suffix);
      assert.equal(err.kind, kind, suffix);
    }
    await provider(name).validateKey(`${key}-fail500-chatonly`);
  });

  Deno.test(`${name}: 401 on a message is invalid_key, and the key never shows in the error`, async () => {
    const req = request(name, "-fail401");
    const err = await failure(provider(name).chat(req), req.apiKey);
    assert.equal(err.kind, "invalid_key");
    assert.equal(err.provider, name);
    const streamed = await collect(provider(name).chatStream(req));
    assert.equal(checked(streamed.error, req.apiKey).kind, "invalid_key");
    assert.equal(checked(streamed.error, req.apiKey).partial, undefined);
  });

  Deno.test(`${name}: 429 is rate_limited`, async () => {
    const req = request(name, "-fail429");
    const err = await failure(provider(name).chat(req), req.apiKey);
    assert.equal(err.kind, "rate_limited");
    assert.equal(err.status, 429);
    assert.equal(err.retryAfter, 1, "the provider's Retry-After is kept");
  });

  Deno.test(`${name}: an exhausted quota is quota_exceeded, not a rate limit`, async () => {
    const req = request(name, "-quota");
    const err = await failure(provider(name).chat(req), req.apiKey);
    assert.equal(err.kind, "quota_exceeded");
    if (name === "openai") {
      assert.equal(err.status, 429);
      assert.equal(err.code, "insufficient_quota");
    }
  });

  Deno.test(`${name}: 500 and overload are unavailable`, async () => {
    for (const suffix of ["-fail500", "-fail529"]) {
      const req = request(name, suffix);
      const err = await failure(provider(name).chat(req), req.apiKey);
      assert.equal(err.kind, "unavailable", suffix);
      if (suffix === "-fail529") assert.equal(err.status, name === "anthropic" ? 529 : 503);
      const streamed = await collect(provider(name).chatStream(req));
      assert.equal(checked(streamed.error, req.apiKey).kind, "unavailable");
    }
  });

  Deno.test(`${name}: an unknown model is bad_request`, async () => {
    const err = await failure(provider(name).chat(request(name, "", { model: "unknown-model" })), key);
    assert.equal(err.kind, "bad_request");
    assert.equal(err.status, 404);
  });

  Deno.test(`${name}: a slow provider with a short timeout is timeout`, async () => {
    const req = request(name, "-slow");
    const started = Date.now();
    assert.equal((await failure(provider(name, 300).chat(req), req.apiKey)).kind, "timeout");
    const streamed = await collect(provider(name, 300).chatStream(req));
    assert.equal(checked(streamed.error, req.apiKey).kind, "timeout");
    assert.equal((await failure(provider(name, 300).validateKey(req.apiKey), req.apiKey)).kind, "timeout");
    assert.ok(Date.now() - started < 1900, "gave up before the fake answered");
  });

  Deno.test(`${name}: a cut stream throws with the text so far and estimated usage`, async () => {
    const req = request(name, "-cut");
    const { deltas, done, error } = await collect(provider(name).chatStream(req));
    assert.equal(done, undefined);
    const err = checked(error, req.apiKey);
    assert.equal(err.kind, "unavailable");
    assert.deepEqual(deltas, ["Echo: ", "hello "]);
    assert.deepEqual(err.partial, {
      text: "Echo: hello ",
      model: MODELS[name],
      // Anthropic's message_start already told the real prompt count; OpenAI's is the function's
      // own estimate, as is the answer's (the stream was cut before any count).
      usage: estimatedUsage(req, "Echo: hello ", name === "anthropic" ? { promptTokens: PROMPT_TOKENS } : {}),
    });
  });

  Deno.test(`${name}: a cut plain answer is unavailable`, async () => {
    const req = request(name, "-cut");
    const err = await failure(provider(name).chat(req), req.apiKey);
    assert.equal(err.kind, "unavailable");
  });

  Deno.test(`${name}: a caller abort mid-request ends it with a ProviderError`, async () => {
    const controller = new AbortController();
    const req = request(name, "-slow", { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const streamed = await collect(provider(name).chatStream(req));
    const err = checked(streamed.error, req.apiKey);
    assert.equal(err.kind, "unavailable");
    assert.equal(err.code, "aborted");
  });
}

Deno.test("classifyFailure: only 401/403 mean a bad key", () => {
  const cases: Array<[Parameters<typeof classifyFailure>[0], string]> = [
    [{ status: 401 }, "invalid_key"],
    [{ status: 403 }, "invalid_key"],
    [{ status: 429, code: "rate_limit_exceeded" }, "rate_limited"],
    [{ status: 429, code: "insufficient_quota", type: "insufficient_quota" }, "quota_exceeded"],
    [{ status: 400, message: "Your credit balance is too low to access the Anthropic API." }, "quota_exceeded"],
    [{ status: 400 }, "bad_request"],
    [{ status: 404, code: "model_not_found" }, "bad_request"],
    [{ status: 422 }, "bad_request"],
    [{ status: 500 }, "unavailable"],
    [{ status: 503 }, "unavailable"],
    [{ status: 529, type: "overloaded_error" }, "unavailable"],
    [{ type: "overloaded_error" }, "unavailable"], // an error event inside a stream has no status
    [{ type: "rate_limit_error" }, "rate_limited"],
    [{ message: "Connection error." }, "unavailable"],
    [{ timedOut: true }, "timeout"],
  ];
  for (const [facts, kind] of cases) assert.equal(classifyFailure(facts), kind, JSON.stringify(facts));
});

Deno.test("scrubSecret removes the key and key-shaped strings, even masked ones", () => {
  const key = "sk-proj-abcdefghijklmnopqrstuvwxyz";
  assert.equal(scrubSecret(`bad key ${key}!`, key), "bad key [redacted]!");
  assert.equal(
    scrubSecret("Incorrect API key provided: sk-proj-****wxyz.", key),
    "Incorrect API key provided: [redacted].",
  );
  assert.equal(scrubSecret("key xyz-secret-value-1234 rejected", "xyz-secret-value-1234"), "key [redacted] rejected");
});
