// Debian's PostgreSQL 15 server, in a cluster of its own inside the project.
import type { StackConfig } from "./config.ts";
import { chown, exists, isRoot, output, portInUse, run, StackError, which } from "./proc.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const PG_USER = "postgres"; // the OS user Debian's package creates; the server refuses to run as root
const REQUIRED = [
  { pkg: "postgresql-15", path: `${PG_BIN}/postgres` },
  { pkg: "postgresql-15-pgtap", path: "/usr/share/postgresql/15/extension/pgtap.control" },
  { pkg: "postgresql-15-plpgsql-check", path: "/usr/share/postgresql/15/extension/plpgsql_check.control" },
  { pkg: "libtap-parser-sourcehandler-pgtap-perl", path: "/usr/bin/pg_prove" },
];

/** Installs the Debian packages the database needs when missing (as root), or names them. */
export async function ensurePostgresInstalled() {
  const missing = [];
  for (const r of REQUIRED) if (!(await exists(r.path))) missing.push(r.pkg);
  if (missing.length === 0) return;
  if (!isRoot || !(await which("apt-get"))) {
    throw new StackError(`missing Debian packages: ${missing.join(" ")} (install them: sudo apt-get install ${missing.join(" ")})`);
  }
  console.log(`installing ${missing.join(", ")} with apt-get ...`);
  await run("apt-get", ["update", "-q"]);
  await run("apt-get", ["install", "-y", "-q", ...missing], { env: { DEBIAN_FRONTEND: "noninteractive" } });
}

const asPg = { user: PG_USER };

export async function initCluster(cfg: StackConfig) {
  await Deno.mkdir(cfg.logDir, { recursive: true });
  await Deno.mkdir(cfg.socketDir, { recursive: true });
  await chown(cfg.socketDir, PG_USER);
  if (await exists(`${cfg.pgData}/PG_VERSION`)) return false;
  await Deno.mkdir(cfg.pgData, { recursive: true });
  await chown(cfg.pgData, PG_USER);
  const pwfile = `${cfg.socketDir}/pwfile`;
  await Deno.writeTextFile(pwfile, cfg.dbPassword + "\n");
  await chown(pwfile, PG_USER);
  try {
    await run(`${PG_BIN}/initdb`, [
      "-D", cfg.pgData, "-U", "postgres", `--pwfile=${pwfile}`,
      "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
    ], asPg);
  } finally {
    await Deno.remove(pwfile);
  }
  await Deno.writeTextFile(`${cfg.pgData}/postgresql.auto.conf`, [
    "listen_addresses = '127.0.0.1'",
    `port = ${cfg.ports.db}`,
    `unix_socket_directories = '${cfg.socketDir}'`,
    "max_connections = 200",
    "shared_buffers = '256MB'",
    "fsync = off", // a local development and test cluster: speed over crash safety
    "synchronous_commit = off",
    "full_page_writes = off",
    "",
  ].join("\n"));
  return true;
}

function pgLog(cfg: StackConfig) {
  return `${cfg.logDir}/postgres.log`;
}

export async function postgresRunning(cfg: StackConfig) {
  const { code } = await output(`${PG_BIN}/pg_ctl`, ["-D", cfg.pgData, "status"], asPg);
  return code === 0;
}

export async function startPostgres(cfg: StackConfig) {
  if (await postgresRunning(cfg)) return;
  if (await portInUse(cfg.ports.db)) {
    throw new StackError(`port ${cfg.ports.db} (Postgres) is already in use by another program`);
  }
  const log = pgLog(cfg);
  await Deno.writeTextFile(log, "", { append: true });
  await chown(log, PG_USER);
  const { code } = await output(`${PG_BIN}/pg_ctl`, ["-D", cfg.pgData, "-l", log, "-w", "-t", "30", "start"], asPg);
  if (code !== 0) throw new StackError(`Postgres did not start; see ${log}`);
}

export async function stopPostgres(cfg: StackConfig) {
  if (!(await exists(`${cfg.pgData}/PG_VERSION`)) || !(await postgresRunning(cfg))) return;
  await run(`${PG_BIN}/pg_ctl`, ["-D", cfg.pgData, "-m", "fast", "-w", "stop"], asPg);
}

/** psql as the superuser over the cluster's unix socket. */
export function psql(cfg: StackConfig, args: string[], stdin?: string) {
  return run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cfg.socketDir, "-p", String(cfg.ports.db), "-U", "postgres", "-d", "postgres", ...args], { stdin });
}
