// The local Supabase stack without Docker.
//   deno run -A scripts/stack.ts start [--profile dev|test] [--background] [--fake-provider]
//   deno run -A scripts/stack.ts stop|status|reset [--profile dev|test]
import { parseArgs } from "node:util";
import { ANON_KEY, type Profile, ROOT, SERVICE_ROLE_KEY, type StackConfig, stackConfig } from "./stack/config.ts";
import { buildAuth, startAuth } from "./stack/auth.ts";
import { prepareDatabase, resetDatabase } from "./stack/database.ts";
import { ensureExtensions } from "./stack/extensions.ts";
import { DENO, startFunctions } from "./stack/functions.ts";
import { startGateway } from "./stack/gateway.ts";
import { buildWeb, WEB_DIST } from "./stack/web.ts";
import { initCluster, postgresRunning, startPostgres, stopPostgres } from "./stack/postgres.ts";
import { ensurePackages } from "./stack/packages.ts";
import { buildStorage, startStorage } from "./stack/storage.ts";
import {
  exists,
  httpOk,
  keepLedger,
  portInUse,
  run,
  runningPid,
  services,
  spawnLogged,
  StackError,
  stopLeftovers,
  waitFor,
} from "./stack/proc.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    profile: { type: "string", default: "dev" },
    background: { type: "boolean", default: false },
    "fake-provider": { type: "boolean", default: false },
  },
});
const command = positionals[0] ?? "start";
const STOP_GRACE_MS = 8_000;
const profile = values.profile as Profile;
if (!["dev", "test", "bench"].includes(profile)) fail(`unknown profile ${profile} (dev, test or bench)`);
const cfg = stackConfig(profile);

function fail(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(1);
}

function printStatus(cfg: StackConfig) {
  console.log(`
Local Supabase stack (${cfg.profile}) is running.

         Web app: ${cfg.apiUrl}/
         API URL: ${cfg.apiUrl}
       Functions: ${cfg.apiUrl}/functions/v1/<name>   (api also at ${cfg.apiUrl}/api/v1)
          DB URL: ${cfg.dbUrl}
        Auth URL: ${cfg.apiUrl}/auth/v1
     Storage URL: ${cfg.apiUrl}/storage/v1
        anon key: ${ANON_KEY}
service_role key: ${SERVICE_ROLE_KEY}
            Logs: ${cfg.logDir}/
`);
}

async function startInBackground() {
  const pid = await runningPid(cfg.pidFile);
  if (pid) return console.log(`the ${profile} stack is already running (pid ${pid}); \`npm stop\` stops it`);
  await Deno.mkdir(cfg.logDir, { recursive: true });
  const log = `${cfg.logDir}/stack.log`;
  await Deno.writeTextFile(log, "");
  const args = ["run", "-A", `${ROOT}/scripts/stack.ts`, "start", "--profile", profile];
  if (values["fake-provider"]) args.push("--fake-provider");
  // setsid and a redirect to the log file: the stack outlives this command, its terminal and its pipes.
  const quoted = [DENO, ...args].map((a) => `'${a}'`).join(" ");
  await run("sh", ["-c", `setsid ${quoted} >>'${log}' 2>&1 </dev/null &`]);
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const text = await Deno.readTextFile(log);
    if (text.includes("is running.")) return console.log(text.trim());
    const err = text.split("\n").find((l) => l.startsWith("error:"));
    if (err) fail(err.replace(/^error: /, "") + ` (log: ${log})`);
  }
  fail(`the stack did not come up in time; see ${log}`);
}

async function start() {
  const pid = await runningPid(cfg.pidFile);
  if (pid && pid !== Deno.pid) {
    return console.log(`the ${profile} stack is already running (pid ${pid}); \`npm stop\` stops it`);
  }
  // A stack killed with SIGKILL could not stop its servers: they would hold the ports.
  await stopLeftovers(cfg.ledgerFile, STOP_GRACE_MS);
  keepLedger(cfg.ledgerFile);
  if (await portInUse(cfg.ports.gateway)) {
    throw new StackError(`port ${cfg.ports.gateway} (gateway) is already in use by another program`);
  }
  await Deno.mkdir(cfg.home, { recursive: true });
  await Deno.writeTextFile(cfg.pidFile, String(Deno.pid));

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of services) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    // A server that is still draining connections (Storage waits for idle keep-alive sockets)
    // gets a few seconds, then is killed: stopping must not hang, and Postgres must stop last.
    const exited = Promise.allSettled(services.map((c) => c.status));
    const graceful = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), STOP_GRACE_MS)),
    ]);
    if (!graceful) {
      for (const c of services) {
        try {
          c.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await exited;
    }
    await stopPostgres(cfg).catch((e) => console.error(`error: stopping Postgres: ${e.message}`));
    await Deno.remove(cfg.ledgerFile).catch(() => {});
    await Deno.remove(cfg.pidFile).catch(() => {});
    Deno.exit(code);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => stop(0));

  try {
    // Everything installed and built before any server starts (see ensurePackages).
    await ensurePackages();
    await ensureExtensions();
    const auth = await buildAuth();
    const storage = await buildStorage();
    await buildWeb();

    const fresh = await initCluster(cfg);
    await startPostgres(cfg);
    await prepareDatabase(cfg, auth, storage);
    if (fresh) console.log("created a new database cluster and applied the migrations");
    const authServer = await startAuth(cfg, auth);
    const storageServer = await startStorage(cfg, storage);
    // Which process is which, for tests that pause a part to see how the rest copes.
    await Deno.writeTextFile(
      cfg.servicesFile,
      JSON.stringify({ auth: authServer.pid, storage: storageServer.pid }) + "\n",
    );

    const extraEnv: Record<string, string> = {};
    if (values["fake-provider"]) {
      const log = `${cfg.logDir}/fake-provider.log`;
      if (await portInUse(cfg.ports.fakeProvider)) {
        throw new StackError(`port ${cfg.ports.fakeProvider} (fake provider) is already in use`);
      }
      const fake = await spawnLogged(DENO, ["run", "-A", `${ROOT}/scripts/fake-provider.ts`], {
        PORT: String(cfg.ports.fakeProvider),
      }, log);
      await waitFor("the fake provider", () => httpOk(`${cfg.fakeProviderUrl}/health`), 30_000, log, fake);
      extraEnv.OPENAI_BASE_URL = `${cfg.fakeProviderUrl}/v1`;
      extraEnv.ANTHROPIC_BASE_URL = cfg.fakeProviderUrl;
      // The fake's `-slow` keys wait FAKE_SLOW_MS (3000); a shorter timeout makes them time out.
      extraEnv.PROVIDER_TIMEOUT_MS = "2000";
    }

    const functions = await startFunctions(cfg, extraEnv);
    await startGateway({
      port: cfg.ports.gateway,
      authPort: cfg.ports.auth,
      storagePort: cfg.ports.storage,
      functions: new Map(functions.map((f) => [f.name, f.port])),
      dir: cfg.gatewayDir,
      accessLog: `${cfg.logDir}/gateway.log`,
      webRoot: WEB_DIST,
    }, `${cfg.logDir}/gateway-errors.log`);
    for (const c of services) {
      c.status.then((s) => {
        if (!stopping) {
          console.error(`error: a service exited (code ${s.code}); see the logs in ${cfg.logDir}/`);
          stop(1);
        }
      });
    }

    printStatus(cfg);
    console.log("Ctrl-C (or `npm stop` from another terminal) stops everything.");
  } catch (err) {
    const msg = err instanceof StackError ? err.message : `${(err as Error).message} (logs: ${cfg.logDir}/)`;
    console.error(`error: ${msg}`);
    await stop(1);
  }
}

async function stopCommand() {
  const pid = await runningPid(cfg.pidFile);
  if (pid) {
    Deno.kill(pid, "SIGTERM");
    // The stack gives its servers STOP_GRACE_MS, then kills them and stops Postgres.
    const deadline = Date.now() + STOP_GRACE_MS + 30_000;
    while (await runningPid(cfg.pidFile)) {
      if (Date.now() > deadline) {
        throw new StackError(`the ${profile} stack (pid ${pid}) did not stop; see ${cfg.logDir}/stack.log`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    console.log(`stopped the ${profile} stack`);
  } else if (await exists(`${cfg.pgData}/PG_VERSION`) && (await postgresRunning(cfg))) {
    await stopPostgres(cfg); // left behind by a stack that was killed
    console.log(`stopped the ${profile} Postgres`);
  } else {
    console.log(`the ${profile} stack is not running`);
  }
}

async function status() {
  const pid = await runningPid(cfg.pidFile);
  if (!pid) return console.log(`the ${profile} stack is not running`);
  printStatus(cfg);
}

async function reset() {
  if (!(await runningPid(cfg.pidFile)) && !(await exists(`${cfg.pgData}/PG_VERSION`) && (await postgresRunning(cfg)))) {
    fail(`the ${profile} stack is not running; start it first (npm start)`);
  }
  await resetDatabase(cfg);
  console.log(`wiped the ${profile} database and applied the migrations again`);
}

try {
  switch (command) {
    case "start":
      await (values.background ? startInBackground() : start());
      break;
    case "stop":
      await stopCommand();
      break;
    case "status":
      await status();
      break;
    case "reset":
      await reset();
      break;
    default:
      fail(`unknown command ${command} (start, stop, status, reset)`);
  }
} catch (err) {
  fail(err instanceof StackError ? err.message : (err as Error).message);
}
