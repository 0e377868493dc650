// Deno serving each function in supabase/functions/<name>/index.ts on a port of its own,
// with the environment Supabase gives functions, under its limits (limits/host.ts).
import type { StackConfig } from "./config.ts";
import { ANON_KEY, JWT_SECRET, LOCAL_ENCRYPTION_KEY, LOCAL_INGEST_SECRET, ROOT, SERVICE_ROLE_KEY } from "./config.ts";
import { exists, httpOk, portInUse, spawnLogged, StackError, waitFor } from "./proc.ts";

const FUNCTIONS_DIR = `${ROOT}/supabase/functions`;
// The deno binary running this script (not the npm wrapper, which would add a Node process per service).
export const DENO = Deno.execPath();

/** Function names: folders with an index.ts, `_shared` and other `_` folders excluded (Supabase's rule). */
export async function functionNames(): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(FUNCTIONS_DIR)) {
    if (e.isDirectory && !e.name.startsWith("_") && (await exists(`${FUNCTIONS_DIR}/${e.name}/index.ts`))) {
      names.push(e.name);
    }
  }
  return names.sort();
}

/** Reads supabase/functions/.env (KEY=value lines) the way the Supabase CLI does for `functions serve`. */
async function dotenv(): Promise<Record<string, string>> {
  const path = `${FUNCTIONS_DIR}/.env`;
  if (!(await exists(path))) return {};
  const vars: Record<string, string> = {};
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    const m = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (m) vars[m[1]] = m[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  return vars;
}

export function functionEnv(cfg: StackConfig, extra: Record<string, string>): Record<string, string> {
  return {
    SUPABASE_URL: cfg.apiUrl,
    SUPABASE_ANON_KEY: ANON_KEY,
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_ROLE_KEY,
    SUPABASE_DB_URL: cfg.dbUrl,
    JWT_SECRET,
    AUTH_URL: cfg.authUrl,
    PROVIDER_KEY_ENCRYPTION_KEY: LOCAL_ENCRYPTION_KEY,
    INGEST_SECRET: LOCAL_INGEST_SECRET,
    // The URL /openapi.json names: where the gateway serves the API here (hosted, the default
    // SUPABASE_URL/functions/v1/api/v1 is right).
    API_PUBLIC_URL: `${cfg.apiUrl}/api/v1`,
    // Hosted Edge Functions' limits (limits/host.ts): V8 heap in MB, CPU time per request in ms
    // (0: none). Taken from the environment the stack starts in, else the hosted values.
    FUNCTION_MEMORY_MB: Deno.env.get("FUNCTION_MEMORY_MB") ?? "256",
    FUNCTION_CPU_MS: Deno.env.get("FUNCTION_CPU_MS") ?? "2000",
    // Each busy period's CPU time and memory, and each end by a limit, as JSON lines.
    FUNCTION_USAGE_FILE: cfg.functionUsageFile,
    ...extra,
  };
}

export interface RunningFunction {
  name: string;
  port: number;
}

export async function startFunctions(cfg: StackConfig, extraEnv: Record<string, string>): Promise<RunningFunction[]> {
  const env = { ...functionEnv(cfg, extraEnv), ...(await dotenv()) };
  const names = await functionNames();
  const started: RunningFunction[] = [];
  for (const [i, name] of names.entries()) {
    const port = cfg.ports.functions + i;
    if (await portInUse(port)) {
      throw new StackError(`port ${port} (function ${name}) is already in use by another program`);
    }
    const log = `${cfg.logDir}/functions.log`;
    const dir = `${FUNCTIONS_DIR}/${name}`;
    // Under the hosted limits, and started again when a limit (or a crash) ends it: limits/host.ts.
    const child = await spawnLogged(DENO, [
      "run",
      "--allow-all",
      "--no-prompt",
      `${ROOT}/scripts/stack/limits/host.ts`,
      dir,
    ], {
      ...env,
      FUNCTION_NAME: name,
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      DENO_NO_UPDATE_CHECK: "1",
    }, log);
    started.push({ name, port });
    // The first start downloads the function's npm packages into Deno's cache.
    await waitFor(`function ${name}`, () => httpOk(`http://127.0.0.1:${port}/`), 120_000, log, child);
  }
  return started;
}
