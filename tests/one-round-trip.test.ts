// The API sends its hot statements with their values written in as literals, so that postgres.js
// (prepare: false, for the pooler's transaction mode) sends each in one round trip instead of two
// (supabase/functions/_shared/one-round-trip.ts). Here: no value can end its literal early, as
// the real Postgres parser reads them, and the round trips are what that file says they are.
import net from "node:net";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { inlineStatement, SqlFragment, sqlLiteral } from "../supabase/functions/_shared/one-round-trip.ts";
import { DB_URL } from "./support/env.ts";

const sql = postgres(DB_URL, { prepare: false, max: 1, onnotice: () => {} });
afterAll(() => sql.end());

/** The text Postgres reads back from the literal made of `value`. */
async function readBack(value: string): Promise<string> {
  const [row] = await sql.unsafe(`select ${sqlLiteral(value)}::text as v`);
  return row.v;
}

// Strings made of the characters that matter to SQL's lexer: delimiters, quotes, comments, escapes.
function adversarialStrings(count: number): string[] {
  const pieces = [
    "$",
    "v",
    "1",
    "$v",
    "$v$",
    "v$",
    "'",
    "''",
    "\\",
    ";",
    "--",
    "/*",
    "*/",
    "\n",
    "\t",
    "한",
    "😀",
    " ",
    "E'",
  ];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () => {
    let s = "";
    const n = Math.floor(next() * 12);
    for (let i = 0; i < n; i++) s += pieces[Math.floor(next() * pieces.length)];
    return s;
  });
}

describe("values written in as literals", () => {
  it("every string reads back unchanged, whatever delimiters and quotes it holds", async () => {
    const fixed = [
      "",
      "$",
      "$$",
      "$v",
      "$v$",
      "ab$v",
      "$v$$v1$",
      "v$",
      "'; drop table public.messages; --",
      "\\'",
      "a\u0001b\u001f",
      "한국어 😀",
    ];
    for (const value of [...fixed, ...adversarialStrings(400)]) {
      expect(await readBack(value), JSON.stringify(value)).toBe(value);
    }
  });

  it("a value cannot add a statement: the one it was put into runs alone", async () => {
    const value = "$v$); select pg_sleep(0) as injected; select ($v$";
    const rows = await sql.unsafe(inlineStatement`select ${value}::text as v`);
    expect(rows.map((r) => r.v)).toEqual([value]);
  });

  it("numbers, booleans and null take the type the context gives them, as parameters do", async () => {
    const [row] = await sql.unsafe(
      inlineStatement`select ${20}::integer as i, ${-1.5}::float8 as f, ${true} as b, ${null}::text as n, ${undefined}::int as u, pg_typeof(${false})::text as t`,
    );
    expect(row).toEqual({ i: 20, f: -1.5, b: true, n: null, u: null, t: "boolean" });
    // A number given to a text parameter is its text, as with an untyped parameter.
    const [text] = await sql.unsafe(inlineStatement`select concat(${"n="}, ${42}::text) as s`);
    expect(text.s).toBe("n=42");
  });

  it("a fragment goes in as SQL text; values that have no literal are refused", () => {
    expect(inlineStatement`select ${new SqlFragment("id, title")} from t where id = ${"x"}`).toBe(
      "select  id, title from t where id =  $v$x$v$",
    );
    expect(() => sqlLiteral("a\u0000b")).toThrow(/NUL/);
    expect(() => sqlLiteral(Number.NaN)).toThrow(/finite/);
    expect(() => sqlLiteral({} as unknown as string)).toThrow(/no SQL literal/);
  });
});

describe("round trips of a statement with postgres.js and prepare: false", () => {
  // A connection whose writes are counted: each write is one flight of messages to Postgres.
  async function flights(run: (sql: postgres.Sql) => Promise<unknown>): Promise<number> {
    const url = new URL(DB_URL);
    let writes = 0;
    const counted = postgres(DB_URL, {
      prepare: false,
      max: 1,
      // @ts-expect-error postgres.js takes a socket factory (its README's `socket` option); its types omit it
      socket: () => {
        const socket = net.connect(Number(url.port), url.hostname);
        const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
        socket.write = ((...args: unknown[]) => (writes++, write(...args))) as typeof socket.write;
        return socket;
      },
    });
    try {
      await counted`select 1`; // connects
      writes = 0;
      await run(counted);
      return writes;
    } finally {
      await counted.end();
    }
  }

  it("with parameters: two (Parse + Describe, then Bind + Execute); with literals: one", async () => {
    const claims = JSON.stringify({ sub: "00000000-0000-0000-0000-000000000000", role: "authenticated" });
    expect(await flights((s) => s`select ${claims}::jsonb ->> 'role' as role, ${20}::int as n`)).toBe(2);
    expect(await flights((s) => s.unsafe(inlineStatement`select ${claims}::jsonb ->> 'role' as role, ${20}::int as n`)))
      .toBe(1);
  });
});
