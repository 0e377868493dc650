// One place for every port, path and key of the local stack. Three profiles run
// side by side: `dev` (npm start), `test` (npm test) and `bench` (npm run bench), so tests
// and benchmarks never touch development data.

export type Profile = "dev" | "test" | "bench";

// The demo values `supabase start` prints, so a frontend configured for the CLI stack works unchanged.
export const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
export const ANON_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
export const SERVICE_ROLE_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";

// A fixed development key for provider-key encryption (AES-256-GCM, base64 of 32 bytes).
// Production sets PROVIDER_KEY_ENCRYPTION_KEY as a function secret.
export const LOCAL_ENCRYPTION_KEY = "bG9jYWwtZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzI=";

// The shared secret between the database (pg_net calls) and the `ingest` function, for local
// stacks only. Hosted projects set INGEST_SECRET as a function secret and the same value in Vault.
export const LOCAL_INGEST_SECRET = "local-dev-only-ingest-secret-0b7c1f2e";

export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

const PORTS = {
  dev: { gateway: 54321, db: 54322, auth: 9999, functions: 54325, fakeProvider: 54329, storage: 54330 },
  test: { gateway: 54421, db: 54422, auth: 9998, functions: 54425, fakeProvider: 54429, storage: 54430 },
  bench: { gateway: 54521, db: 54522, auth: 9997, functions: 54525, fakeProvider: 54529, storage: 54530 },
} as const;

// STACK_PORT_OFFSET shifts every port, so two clones can run the same profile side by side.
const PORT_OFFSET = Number(Deno.env.get("STACK_PORT_OFFSET") ?? "0");

// Postgres runs as the `postgres` OS user when we are root, and that user may not be able to enter
// the clone (a 0700 folder such as /root/... or a `mktemp -d`). Its cluster then lives in that
// user's home, in a folder keyed by the clone's path, so two clones never share one.
export const CLUSTERS_DIR = "/var/lib/postgresql/pdf-chatbot-backend";

function postgresHome(profile: Profile) {
  if (Deno.uid() !== 0) return `${ROOT}/.supabase-local/${profile}`;
  return `${cloneClusters()}/${profile}`;
}

/** This clone's folder under CLUSTERS_DIR (its profiles' clusters inside; a `clone` file names the clone). */
export function cloneClusters() {
  const key = new TextEncoder().encode(ROOT).reduce((h, b) => (Math.imul(h, 31) + b) >>> 0, 7).toString(16);
  const name = ROOT.split("/").filter(Boolean).slice(-2).join("-").replace(/[^A-Za-z0-9_.-]/g, "_");
  return `${CLUSTERS_DIR}/${name}-${key}`;
}

export function stackConfig(profile: Profile) {
  const ports = Object.fromEntries(Object.entries(PORTS[profile]).map(([k, v]) => [k, v + PORT_OFFSET])) as {
    [K in keyof (typeof PORTS)[Profile]]: number;
  };
  const home = `${ROOT}/.supabase-local/${profile}`;
  const pgHome = postgresHome(profile);
  const dbPassword = "postgres";
  return {
    profile,
    ports,
    home,
    pgHome,
    pgData: `${pgHome}/pgdata`,
    socketDir: `${pgHome}/run`,
    pgLog: `${pgHome}/postgres.log`,
    logDir: `${home}/logs`,
    storageDir: `${home}/storage`,
    pidFile: `${home}/stack.pid`,
    servicesFile: `${home}/services.json`,
    // What each function spent per busy period, and its ends by a hosted limit (scripts/stack/limits/).
    functionUsageFile: `${home}/logs/function-usage.jsonl`,
    /** Every server the running stack started (proc.ts keepLedger). */
    ledgerFile: `${home}/services.ledger.json`,
    /** nginx's configuration, pid file and temporary files (gateway.ts). */
    gatewayDir: `${home}/gateway`,
    apiUrl: `http://127.0.0.1:${ports.gateway}`,
    dbUrl: `postgresql://postgres:${dbPassword}@127.0.0.1:${ports.db}/postgres`,
    dbPassword,
    authUrl: `http://127.0.0.1:${ports.auth}`,
    storageUrl: `http://127.0.0.1:${ports.storage}`,
    fakeProviderUrl: `http://127.0.0.1:${ports.fakeProvider}`,
  };
}

export type StackConfig = ReturnType<typeof stackConfig>;
