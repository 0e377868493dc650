// The Postgres extensions the PDF features build on, as hosted Supabase has them.
import { afterAll, describe, expect, it } from "vitest";
import { API_URL } from "./support/env.ts";
import { eventually } from "./support/providers.ts";
import { db } from "./support/users.ts";

afterAll(() => db.end());

describe("extensions", () => {
  it("are the pinned versions, in the schemas hosted projects use", async () => {
    const rows = await db`select extname, extversion, extnamespace::regnamespace::text as schema from pg_extension
                          where extname in ('pg_cron', 'pg_net', 'vector') order by extname`;
    expect(rows).toEqual([
      { extname: "pg_cron", extversion: "1.6", schema: "pg_catalog" },
      // pg_net's v0.20.5 release declares its SQL version 0.20.4 (upstream's Makefile).
      { extname: "pg_net", extversion: "0.20.4", schema: "extensions" },
      { extname: "vector", extversion: "0.8.6", schema: "extensions" },
    ]);
  });

  it("pg_net: net.http_get from SQL reaches the gateway", async () => {
    const [{ id }] = await db`select net.http_get(${`${API_URL}/api/v1/health`}) as id`;
    const response = await eventually(
      async () => {
        const [row] = await db`select status_code, content::jsonb as body from net._http_response where id = ${id}`;
        return row;
      },
      15_000,
      "pg_net's response",
    );
    expect(response.status_code).toBe(200);
    expect(response.body.data.database.ok).toBe(true);
  });

  it("pg_net: the API roles cannot send requests from the database", async () => {
    for (const role of ["anon", "authenticated"]) {
      const [row] =
        await db`select has_function_privilege(${role}, 'net.http_get(text, jsonb, jsonb, integer)', 'execute') as can,
                                    has_schema_privilege(${role}, 'net', 'usage') as usage`;
      expect(row, role).toEqual({ can: false, usage: false });
    }
  });

  it("pg_cron: a job on a seconds schedule runs", async () => {
    const name = `probe_${process.pid}_${Date.now()}`;
    const [{ jobid }] = await db`select cron.schedule(${name}, '1 seconds', 'select 1') as jobid`;
    try {
      const run = await eventually(
        async () => {
          const [row] =
            await db`select count(*)::int as n from cron.job_run_details where jobid = ${jobid} and status = 'succeeded'`;
          return row.n >= 2 ? row : undefined;
        },
        15_000,
        "two runs of the job",
      );
      expect(run.n).toBeGreaterThanOrEqual(2);
    } finally {
      await db`select cron.unschedule(${jobid}::bigint)`;
    }
  });

  it("pgvector: an HNSW index answers a nearest-neighbour query", async () => {
    const nearest = await db.begin(async (tx) => {
      await tx`create temporary table probe (label text, embedding extensions.vector(3)) on commit drop`;
      await tx`insert into probe values ('x', '[1,0,0]'), ('y', '[0,1,0]'), ('z', '[0,0,1]'), ('xy', '[0.7,0.7,0]')`;
      await tx`create index on probe using hnsw (embedding extensions.vector_cosine_ops)`;
      await tx`set local enable_seqscan = off`;
      const plan =
        await tx`explain select label from probe order by embedding operator(extensions.<=>) '[0.9,0.1,0]' limit 2`;
      expect(plan.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(/Index Scan using .*probe_embedding_idx/);
      return tx`select label from probe order by embedding operator(extensions.<=>) '[0.9,0.1,0]' limit 2`;
    });
    expect(nearest.map((r) => r.label)).toEqual(["x", "xy"]);
  });
});
