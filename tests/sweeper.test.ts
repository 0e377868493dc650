// The sweeper runs on its own (pg_cron, supabase/schemas/50_exchange_and_budgets.sql): a dead
// exchange turns failed with no request from its user.
import { afterAll, describe, expect, it } from "vitest";
import { callApi, fakeKey } from "./support/providers.ts";
import { createUser, db } from "./support/users.ts";

afterAll(() => db.end());

describe("the scheduled sweeper", () => {
  it("marks a pending exchange whose reservation expired failed (interrupted), with no client request", async () => {
    const [job] = await db`select jobid, schedule, command from cron.job where jobname = 'sweep-stale-exchanges'`;
    expect(job).toMatchObject({ schedule: "30 seconds", command: "select private.sweep_stale_exchanges()" });

    const user = await createUser("swept");
    const key = await callApi("POST", "/keys", {
      token: user.token,
      body: { name: "k", provider: "openai", api_key: fakeKey("openai") },
    });
    const conversation = await callApi("POST", "/conversations", { token: user.token, body: {} });
    // What a request leaves behind when its function instance dies after begin_exchange, with
    // its reservation already expired.
    const claims = JSON.stringify({ sub: user.id, role: "authenticated" });
    const [message] = await db.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      return tx`select id from private.begin_exchange(${conversation.body.data.id}, ${key.body.data.id}, 'lost', 'gpt-4o-mini', 10, 10, 600)`;
    });
    await db`update private.budget_reservations set expires_at = now() - interval '1 second' where message_id = ${message.id}`;
    const [{ since }] = await db`select now() as since`;

    const giveUp = Date.now() + 40_000;
    let run: { status: string } | undefined;
    while (!run && Date.now() < giveUp) {
      await new Promise((r) => setTimeout(r, 500));
      [run] = await db`select status from cron.job_run_details
                       where jobid = ${job.jobid} and start_time > ${since} and end_time is not null`;
    }
    expect(run, "the sweeper job ran within 40 s").toMatchObject({ status: "succeeded" });
    const [after] = await db`select status, error_code from public.messages where id = ${message.id}`;
    expect(after).toEqual({ status: "failed", error_code: "interrupted" });
    const reservations = await db`select 1 from private.budget_reservations where message_id = ${message.id}`;
    expect(reservations).toEqual([]);
  }, 60_000);
});
