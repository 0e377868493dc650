// The read routes and the create route answer with JSON that Postgres builds
// (supabase/schemas/30_conversations_and_messages.sql). Their bodies must be what the function answered
// when it serialised postgres.js rows itself: the golden file holds the bodies the code before that
// change answered on this same data, recorded by running this file with GOLDEN_RECORD=1 against
// a stack of that commit. Each body is compared field by field, in order, with every value's text
// (timestamps, numbers, nulls, escapes); ids made here stand as placeholders (<c1>, <m1.5>, ...).
import { readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createUser, db, type TestUser } from "../support/users.ts";

const GOLDEN = new URL("./golden/bodies-built-in-sql.json", import.meta.url);
const RECORD = process.env.GOLDEN_RECORD === "1";

// Text a serialiser can get wrong: Korean, emoji (surrogate pairs, a ZWJ sequence, a flag),
// quotes, backslashes, every C0 control character except NUL (text cannot hold it), DEL, the
// line and paragraph separators JSON.stringify leaves as they are, and a lookalike of an escape.
const CONTROLS = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join("");
const TRICKY = [
  "안녕하세요, 문서를 요약해 주세요",
  "emoji 😀👩‍👩‍👧‍👦🇰🇷 and ✓",
  `quotes "double" 'single' \`back\``,
  "back\\slash \\n \\u0041 \\\\ end\\",
  `controls ${CONTROLS} del \u007f ls \u2028 ps \u2029`,
  "",
  "</script><b>&amp;</b>",
];

const ids = new Map<string, string>(); // uuid -> placeholder
const name = (id: string, placeholder: string) => (ids.set(id, placeholder), id);

let user: TestUser;
let keyId: string;
const conv: Record<string, string> = {};

/** A message row of the seed: conversation `c`, number `i` in it. */
function messageRow(c: string, i: number) {
  const assistant = i % 2 === 0;
  // Times with microseconds that round and truncate differently, written in other zones.
  const micros = [0, 1, 499, 500, 999, 123456, 999999, 500000][i % 8];
  const created = `2026-03-04 0${i % 10}:${String(i % 60).padStart(2, "0")}:07.${String(micros).padStart(6, "0")}+0${
    i % 9
  }:30`;
  return {
    id: name(randomUUID(), `<m${c}.${i}>`),
    conversation_id: conv[c],
    user_id: user.id,
    role: assistant ? "assistant" : "user",
    content: `${TRICKY[i % TRICKY.length]} #${i}`,
    model: assistant ? "gpt-4o-mini" : null,
    prompt_tokens: assistant ? 1000 + i : null,
    completion_tokens: assistant ? (i % 3 === 0 ? 0 : 2_000_000 + i) : null,
    api_key_id: assistant && i % 4 === 0 ? keyId : null,
    status: i % 10 === 7 ? "failed" : "complete",
    error_code: i % 10 === 7 ? "provider_error" : null,
    citations: assistant && i % 20 === 0
      ? db.json([
        {
          n: 1,
          document_id: randomUUID(),
          filename: '보고서 "최종"\\v2.pdf',
          page: 12,
          chunk_id: 345,
          quote: `인용 "quoted" \\ ${CONTROLS}`,
          start_offset: 0,
          end_offset: 17,
          check: "exact",
        },
        {
          n: 2,
          document_id: randomUUID(),
          filename: "gone.pdf",
          page: 1,
          chunk_id: null,
          quote: "😀",
          start_offset: 5,
          end_offset: 7,
          check: "repaired",
          document_deleted: true,
        },
      ])
      : db.json([]),
    created_at: created,
  };
}

beforeAll(async () => {
  user = await createUser("bodies");
  [{ id: keyId }] = await db`
    insert into public.api_keys (user_id, name, provider, secret_ciphertext, hint, fingerprint)
    values (${user.id}, 'key', 'openai', 'c', 'sk-...ab', ${randomUUID()}) returning id`;
  name(keyId, "<key>");
  const conversations = [
    {
      c: "1",
      title: `${TRICKY[0]} ${TRICKY[1]}`,
      model: "gpt-4o",
      system_prompt: TRICKY.join("\n"),
      api_key_id: keyId,
      messages: 100,
    },
    { c: "2", title: TRICKY[3], model: null, system_prompt: null, api_key_id: null, messages: 0 },
    {
      c: "3",
      title: TRICKY[4].slice(0, 150),
      model: "claude-sonnet-4-0",
      system_prompt: TRICKY[2],
      api_key_id: null,
      messages: 3,
    },
  ];
  for (const x of conversations) {
    conv[x.c] = name(randomUUID(), `<c${x.c}>`);
    await db`insert into public.conversations (id, user_id, title, model, system_prompt, api_key_id)
             values (${conv[x.c]}, ${user.id}, ${x.title}, ${x.model}, ${x.system_prompt}, ${x.api_key_id})`;
    const rows = Array.from({ length: x.messages }, (_, i) => messageRow(x.c, i));
    if (rows.length) {
      await db`insert into public.messages ${db(rows)}`;
    }
  }
  // Fixed times for the conversations (after the messages, whose arrival sets updated_at).
  for (
    const [c, created, updated] of [
      ["1", "2025-01-02 03:04:05.678901+00", "2026-02-03 04:05:06.999999-07"],
      ["2", "1999-12-31 23:59:59.9995+00", "2030-01-01 00:00:00+00"],
      ["3", "2026-01-01 00:00:00.001+00", "2026-01-01 00:00:00.0015+00"],
    ]
  ) await db`update public.conversations set created_at = ${created}, updated_at = ${updated} where id = ${conv[c]}`;
});
afterAll(() => db.end());

/** The body with every id made here replaced by its placeholder, and any other (a new row's) by <new>. */
function withPlaceholders(text: string) {
  return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => ids.get(id) ?? "<new>");
}

interface Recorded {
  status: number;
  contentType: string | null;
  totalCount: string | null;
  /** The body as JSON.stringify writes it (what the function sent before), ids as placeholders. */
  body: string;
}

const recorded: Record<string, Recorded> = {};
const golden: Record<string, Recorded> = RECORD ? {} : JSON.parse(readFileSync(GOLDEN, "utf8"));

afterAll(() => {
  if (RECORD) writeFileSync(GOLDEN, JSON.stringify(recorded, null, 1) + "\n");
});

/**
 * Requests the route and compares its answer with the golden one, field by field. Returns the
 * body. `ofThisRun`: fields of `data` only this run can know (a new row's time), left out here.
 */
async function sameAsBefore(
  label: string,
  method: string,
  path: () => string,
  body?: unknown,
  ofThisRun: string[] = [],
) {
  const res = await fetch(`${process.env.API_URL ?? "http://127.0.0.1:54421"}/api/v1${path()}`, {
    method,
    headers: { authorization: `Bearer ${user.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const raw = await res.text();
  const parsed = JSON.parse(raw);
  const compact = JSON.stringify(parsed);
  const comparable = structuredClone(parsed);
  for (const field of ofThisRun) comparable.data[field] = `<${field}>`;
  const got: Recorded = {
    status: res.status,
    contentType: res.headers.get("content-type"),
    totalCount: res.headers.get("x-total-count"),
    body: withPlaceholders(JSON.stringify(comparable)),
  };
  recorded[label] = got;
  // The body's length is announced, and is that of the text sent.
  expect(Number(res.headers.get("content-length"))).toBe(new TextEncoder().encode(raw).byteLength);
  // Postgres writes stored citations (jsonb) with a space after each comma and colon; everything
  // else is written byte for byte as JSON.stringify writes it.
  const citations = /"citations":\[\{/.test(compact);
  if (!citations) expect(raw).toBe(compact);
  if (RECORD) return parsed;
  const before = golden[label];
  expect(before, `golden body for ${label}`).toBeDefined();
  // Field by field (a readable difference first), then the exact text: order of fields and items,
  // and every value's text.
  expect(JSON.parse(got.body)).toEqual(JSON.parse(before.body));
  expect(got).toEqual(before);
  return parsed;
}

describe("bodies built in SQL are the bodies the function built before", () => {
  it("GET /conversations: all, a page, a page past the end", async () => {
    await sameAsBefore("list all", "GET", () => "/conversations");
    await sameAsBefore("list page", "GET", () => "/conversations?limit=2&offset=1");
    await sameAsBefore("list past the end", "GET", () => "/conversations?limit=5&offset=10");
  });

  it("GET /conversations/{id}: 100 messages, none, a few", async () => {
    const long = await sameAsBefore("conversation with 100 messages", "GET", () => `/conversations/${conv["1"]}`);
    expect(long.data.messages).toHaveLength(100);
    await sameAsBefore("conversation without messages", "GET", () => `/conversations/${conv["2"]}`);
    await sameAsBefore("conversation with 3 messages", "GET", () => `/conversations/${conv["3"]}`);
    await sameAsBefore("conversation not found", "GET", () => `/conversations/${name(randomUUID(), "<none>")}`);
  });

  it("GET /conversations/{id}/messages: pages, with citations, without, past the end, empty, not found", async () => {
    await sameAsBefore("messages first page", "GET", () => `/conversations/${conv["1"]}/messages`);
    const all = await sameAsBefore("messages, 100", "GET", () => `/conversations/${conv["1"]}/messages?limit=100`);
    expect(all.data).toHaveLength(100);
    await sameAsBefore("messages, last 7", "GET", () => `/conversations/${conv["1"]}/messages?limit=7&offset=93`);
    await sameAsBefore("messages past the end", "GET", () => `/conversations/${conv["1"]}/messages?offset=200`);
    await sameAsBefore("messages of an empty conversation", "GET", () => `/conversations/${conv["2"]}/messages`);
    await sameAsBefore("messages, not found", "GET", () => `/conversations/${name(randomUUID(), "<none>")}/messages`);
  });

  it("POST /conversations: with every field, and with none", async () => {
    const times = ["created_at", "updated_at", "last_activity_at"];
    const full = await sameAsBefore("create with every field", "POST", () => "/conversations", {
      title: `${TRICKY[0]} ${TRICKY[1]} ${TRICKY[2]}`,
      model: "gpt-4o",
      system_prompt: TRICKY.join("\n"),
      api_key_id: keyId,
    }, times);
    const bare = await sameAsBefore("create with none", "POST", () => "/conversations", {}, [...times, "title"]);
    // What only this run can know (the new id, the time, the dated default title) is what the
    // function sent before for the same row: postgres.js's Date, as JSON.stringify writes it.
    for (const made of [full.data, bare.data]) {
      const [row] =
        await db`select title, created_at, updated_at, last_activity_at from public.conversations where id = ${made.id}`;
      expect(made.title).toBe(row.title);
      for (const field of times) expect(made[field]).toBe(JSON.parse(JSON.stringify(row[field])));
    }
  });
});
