// `npm test`: runs every check against a stack of its own (profile `test`: other ports, other data dir).
// Reuses a test stack that is already running; otherwise starts one and stops it at the end.
import { ROOT, stackConfig } from "./stack/config.ts";
import { testEnv } from "./stack/test-env.ts";
import { cliDbUrl, resetDatabase, SUPABASE_CLI } from "./stack/database.ts";
import { DENO } from "./stack/functions.ts";
import { runningPid } from "./stack/proc.ts";
import { buildWeb } from "./stack/web.ts";

const cfg = stackConfig("test");
const stack = (cmd: string, ...flags: string[]) =>
  step(`stack ${cmd}`, DENO, ["run", "-A", `${ROOT}/scripts/stack.ts`, cmd, "--profile", "test", ...flags]);

const results: { name: string; ok: boolean }[] = [];

async function step(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Promise<boolean> {
  console.log(`\n=== ${name}`);
  const { code } = await new Deno.Command(cmd, {
    args,
    env: { NO_COLOR: "1", ...env },
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code === 0;
}

async function check(name: string, cmd: string, args: string[], env: Record<string, string> = {}) {
  results.push({ name, ok: await step(name, cmd, args, env) });
}

async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...(await filesUnder(path, suffix)));
    else if (e.name.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

// A stack.pid whose process is gone (a stack that was killed) does not count as running.
const alreadyRunning = (await runningPid(cfg.pidFile)) !== null;
if (!alreadyRunning && !(await stack("start", "--background", "--fake-provider"))) Deno.exit(1);

try {
  console.log("\n=== database: wipe and apply the migrations from scratch");
  await resetDatabase(cfg);

  const env = await testEnv(cfg);
  const denoConfig = ["--config", `${ROOT}/supabase/functions/api/deno.json`];
  const sqlTests = await filesUnder(`${ROOT}/supabase/tests`, ".test.sql");
  await check("pgTAP (pg_prove)", "pg_prove", ["--ext", ".sql", "-d", cfg.dbUrl, ...sqlTests]);
  await check("supabase db lint", SUPABASE_CLI, [
    "db",
    "lint",
    "--db-url",
    cliDbUrl(cfg),
    "--schema",
    "public,private",
    "--level",
    "warning",
    "--fail-on",
    "warning",
  ]);
  const fnFiles = await filesUnder(`${ROOT}/supabase/functions`, ".ts");
  // Each function is checked with its own deno.json (its imports), as Supabase bundles it; _shared with api's.
  const ingestDir = `${ROOT}/supabase/functions/ingest/`;
  await check("deno check (functions)", DENO, [
    "check",
    ...denoConfig,
    ...fnFiles.filter((f) => !f.startsWith(ingestDir)),
  ]);
  // The bench's extraction script runs the worker's own code, so it is checked with the worker's imports.
  const withWorkerImports = [`${ROOT}/scripts/bench/extract.ts`];
  await check("deno check (ingest function)", DENO, [
    "check",
    "--config",
    `${ingestDir}deno.json`,
    ...fnFiles.filter((f) => f.startsWith(ingestDir)),
    ...withWorkerImports,
  ]);
  await check("deno check (scripts)", DENO, [
    "check",
    ...(await filesUnder(`${ROOT}/scripts`, ".ts")).filter((f) => !withWorkerImports.includes(f)),
  ]);
  await check("deno fmt --check (npm run fmt formats)", DENO, ["fmt", "--check", "--config", `${ROOT}/deno-fmt.json`]);
  await check("deno lint (functions and scripts)", DENO, ["lint", `${ROOT}/supabase/functions`, `${ROOT}/scripts`]);
  const denoTests = fnFiles.filter((f) => f.endsWith(".test.ts"));
  const scriptTests = await filesUnder(`${ROOT}/scripts`, ".test.ts");
  await check("deno test (function and script modules)", DENO, [
    "test",
    "-A",
    ...denoConfig,
    ...denoTests,
    ...scriptTests,
  ], env);
  await check("tsc (Node code)", `${ROOT}/node_modules/.bin/tsc`, ["--noEmit", "-p", `${ROOT}/tsconfig.json`]);
  await check("tsc (web client)", `${ROOT}/node_modules/.bin/tsc`, ["--noEmit", "-p", `${ROOT}/web/tsconfig.json`]);
  await buildWeb(); // a test stack that was already running serves web/dist as it is on disk
  await check("vitest (through the gateway)", `${ROOT}/node_modules/.bin/vitest`, ["run"], env);
  await check("schemathesis (the OpenAPI document against the API)", DENO, [
    "run",
    "-A",
    `${ROOT}/scripts/schemathesis.ts`,
  ], env);
} finally {
  if (!alreadyRunning) await stack("stop");
}

const failed = results.filter((r) => !r.ok);
console.log("\n=== summary");
for (const r of results) console.log(`${r.ok ? "ok  " : "FAIL"}  ${r.name}`);
console.log(`checks: ${results.length - failed.length} passed, ${failed.length} failed`);
Deno.exit(failed.length ? 1 : 0);
