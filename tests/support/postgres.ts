// Stops and starts the test stack's Postgres, to see how the API behaves while it is down.
import { execFileSync } from "node:child_process";
import { PG_DATA, PG_LOG } from "./env.ts";

const PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl";

function pgCtl(args: string[]) {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", PG_CTL, ...args]] : [PG_CTL, args];
  execFileSync(cmd, argv, { stdio: "pipe", timeout: 60_000 });
}

export function stopPostgres() {
  if (!PG_DATA) throw new Error("PG_DATA is not set; run the tests with npm test");
  pgCtl(["-D", PG_DATA, "-m", "fast", "-w", "stop"]);
}

export function startPostgres() {
  pgCtl(["-D", PG_DATA, "-l", PG_LOG, "-w", "start"]);
}
