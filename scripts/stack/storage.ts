// The real Supabase Storage server (Node.js), built from its release source (see sources.ts) and cached.
// Files go to the profile's data folder (the file backend); metadata to the `storage` schema.
import type { StackConfig } from "./config.ts";
import { JWT_SECRET } from "./config.ts";
import { exists, httpOk, output, portInUse, spawnLogged, StackError, waitFor } from "./proc.ts";
import { buildStep, CACHE_DIR, cached, extractSource, SOURCES } from "./sources.ts";

// Storage requires Node >= 24; the machine's Node may be older, so it runs on Node from npm.
const NODE_VERSION = "24.21.0";
const NODE_PACKAGE = `node-linux-${Deno.build.arch === "aarch64" ? "arm64" : "x64"}`;
const VERSION = `v${SOURCES.storage.version}`;

// Storage's lockfile takes pg-boss from a GitHub fork (a branch adding `exactly_once`), which
// cannot be fetched without GitHub access. The npm release of the same version stands in: the
// fork's addition is used only by the queue, which runs with PG_QUEUE_ENABLE=true, and the
// stack runs with it off.
const PG_BOSS = {
  version: "10.3.2",
  resolved: "https://registry.npmjs.org/pg-boss/-/pg-boss-10.3.2.tgz",
  integrity: "sha512-yy96jwKekgUW4DVvve5xjvLZlNqVCRayl1wJvBxQeDNhIrblgEG0YnqbcNth4wsehkYWVJND9TeWbqb+cfxJKQ==",
};

/** Node.js 24 from the npm package that carries its binary and headers; returns the package folder. */
async function node24(): Promise<string> {
  const dir = await cached(
    `node-${NODE_VERSION}`,
    `Node.js ${NODE_VERSION} (npm package ${NODE_PACKAGE})`,
    async (dir) => {
      const log = `${CACHE_DIR}/node-${NODE_VERSION}.build.log`;
      await Deno.writeTextFile(log, "");
      await buildStep(`npm install ${NODE_PACKAGE}`, log, "npm", [
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        dir,
        `${NODE_PACKAGE}@${NODE_VERSION}`,
      ]);
    },
  );
  return `${dir}/node_modules/${NODE_PACKAGE}`;
}

async function pinPgBoss(src: string) {
  const pkgPath = `${src}/package.json`;
  const pkg = JSON.parse(await Deno.readTextFile(pkgPath));
  pkg.dependencies["pg-boss"] = PG_BOSS.version;
  await Deno.writeTextFile(pkgPath, JSON.stringify(pkg, null, 2) + "\n");

  const lockPath = `${src}/package-lock.json`;
  const lock = JSON.parse(await Deno.readTextFile(lockPath));
  lock.packages[""].dependencies["pg-boss"] = PG_BOSS.version;
  const entry = lock.packages["node_modules/pg-boss"];
  if (!entry || entry.version !== PG_BOSS.version) {
    throw new StackError(
      `Storage's lockfile no longer has pg-boss ${PG_BOSS.version}; update PG_BOSS in scripts/stack/storage.ts`,
    );
  }
  entry.resolved = PG_BOSS.resolved;
  entry.integrity = PG_BOSS.integrity;
  if (lock.dependencies?.["pg-boss"]) {
    const legacy = lock.dependencies["pg-boss"];
    legacy.version = PG_BOSS.version;
    legacy.resolved = PG_BOSS.resolved;
    legacy.integrity = PG_BOSS.integrity;
    delete legacy.from;
  }
  await Deno.writeTextFile(lockPath, JSON.stringify(lock, null, 2) + "\n");
}

export interface StorageBuild {
  node: string; // the node binary
  dir: string; // the built server
}

/** Builds the Storage server once per version: source, pg-boss pin, `npm ci`, its bundling step. */
export async function buildStorage(): Promise<StorageBuild> {
  const nodeDir = await node24();
  const env = { PATH: `${nodeDir}/bin:${Deno.env.get("PATH")}`, npm_config_nodedir: nodeDir };
  const dir = await cached(`storage-${VERSION}`, `the Storage server ${VERSION}`, async (dir) => {
    const log = `${CACHE_DIR}/storage-${VERSION}.build.log`;
    await Deno.writeTextFile(log, "");
    await extractSource(SOURCES.storage, dir);
    await pinPgBoss(dir);
    console.log("installing the Storage server's npm packages (about a minute and 700 MB the first time) ...");
    await buildStep("npm ci (Storage)", log, "npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, env });
    // `npm run build` starts with a type check that fails on the pg-boss swap; its bundling steps do not need it.
    await buildStep("node build.js (Storage)", log, `${nodeDir}/bin/node`, ["build.js"], { cwd: dir, env });
    await buildStep("resolve-tspaths (Storage)", log, `${nodeDir}/bin/node`, [
      `${dir}/node_modules/.bin/resolve-tspaths`,
    ], { cwd: dir, env });
  });
  return { node: `${nodeDir}/bin/node`, dir };
}

function storageEnv(cfg: StackConfig): Record<string, string> {
  return {
    SERVER_HOST: "127.0.0.1",
    SERVER_PORT: String(cfg.ports.storage),
    TENANT_ID: "stub",
    VERSION: SOURCES.storage.version, // what GET /version reports
    AUTH_JWT_SECRET: JWT_SECRET,
    AUTH_JWT_ALGORITHM: "HS256",
    DATABASE_URL: `postgres://supabase_storage_admin:${cfg.dbPassword}@127.0.0.1:${cfg.ports.db}/postgres`,
    DB_INSTALL_ROLES: "false",
    STORAGE_BACKEND: "file",
    STORAGE_FILE_BACKEND_PATH: cfg.storageDir,
    STORAGE_S3_BUCKET: "stub",
    UPLOAD_FILE_SIZE_LIMIT: String(50 * 1024 * 1024),
    PG_QUEUE_ENABLE: "false",
    IMAGE_TRANSFORMATION_ENABLED: "false",
    RATE_LIMITER_ENABLED: "false",
    PROMETHEUS_METRICS_ENABLED: "false",
    OTEL_METRICS_ENABLED: "false",
    // Not NODE_ENV=production: it makes resumable-upload URLs https.
  };
}

function storageLog(cfg: StackConfig) {
  return `${cfg.logDir}/storage.log`;
}

/** Storage's own migrations, before the project's (which add policies and triggers to storage.objects). */
export async function migrateStorage(cfg: StackConfig, build: StorageBuild) {
  const res = await output(build.node, ["dist/scripts/migrate-call.js"], { cwd: build.dir, env: storageEnv(cfg) });
  await Deno.writeTextFile(storageLog(cfg), `$ node dist/scripts/migrate-call.js\n${res.stdout}${res.stderr}\n`, {
    append: true,
  });
  if (res.code !== 0) throw new StackError(`Storage's migrations failed (exit ${res.code}); see ${storageLog(cfg)}`);
}

export async function startStorage(cfg: StackConfig, build: StorageBuild): Promise<Deno.ChildProcess> {
  if (await portInUse(cfg.ports.storage)) {
    throw new StackError(`port ${cfg.ports.storage} (Storage) is already in use by another program`);
  }
  if (!(await exists(cfg.storageDir))) await Deno.mkdir(cfg.storageDir, { recursive: true });
  const child = await spawnLogged(build.node, ["dist/start/server.js"], storageEnv(cfg), storageLog(cfg), build.dir);
  await waitFor("the Storage server", () => httpOk(`${cfg.storageUrl}/status`), 90_000, storageLog(cfg), child);
  return child;
}
