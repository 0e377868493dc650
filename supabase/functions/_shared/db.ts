// One postgres.js pool per function instance. `prepare: false` because the hosted pooler
// (Supavisor) runs in transaction mode, where prepared statements do not survive.
import postgres from "postgres";
import { env } from "./env.ts";

export const sql = postgres(env.dbUrl, {
  prepare: false,
  max: 10,
  idle_timeout: 20,
  connect_timeout: 5,
  connection: { application_name: "api-function" },
});
