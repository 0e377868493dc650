// The environment the test runners get (vitest, deno test): where the test stack is and how to reach it.
import { ANON_KEY, JWT_SECRET, SERVICE_ROLE_KEY, type StackConfig } from "./config.ts";
import { authDatabaseUrl, buildAuth } from "./auth.ts";

export async function testEnv(cfg: StackConfig): Promise<Record<string, string>> {
  return {
    API_URL: cfg.apiUrl,
    DB_URL: cfg.dbUrl,
    ANON_KEY,
    SERVICE_ROLE_KEY,
    JWT_SECRET,
    PG_DATA: cfg.pgData,
    PG_LOG: cfg.pgLog,
    STACK_SERVICES: cfg.servicesFile,
    // What the stack's functions spent, and whether a hosted limit ended one (scripts/stack/limits/).
    FUNCTION_USAGE_FILE: cfg.functionUsageFile,
    FAKE_PROVIDER_URL: cfg.fakeProviderUrl,
    // The Auth server's binary (built and cached by the stack) and its database login, for the
    // test that runs a second instance signing ES256 (supabase/functions/_shared/identity.test.ts).
    AUTH_BIN: (await buildAuth()).bin,
    AUTH_DB_URL: authDatabaseUrl(cfg),
  };
}

// `deno run -A scripts/stack/test-env.ts [profile]` prints it as shell exports, to run one test file by hand.
if (import.meta.main) {
  const { stackConfig } = await import("./config.ts");
  const env = await testEnv(stackConfig((Deno.args[0] ?? "test") as "test"));
  for (const [k, v] of Object.entries(env)) console.log(`export ${k}='${v}'`);
}
