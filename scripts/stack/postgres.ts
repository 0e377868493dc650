// Debian's PostgreSQL 15 server, in a cluster of its own per clone and profile (see config.ts).
import { cloneClusters, CLUSTERS_DIR, ROOT, type StackConfig } from "./config.ts";
import { chown, exists, output, portInUse, run, StackError } from "./proc.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const PG_USER = "postgres"; // the OS user Debian's package creates; the server refuses to run as root

// From "/": the caller's folder may be one the postgres user cannot enter, or one already deleted.
const asPg = { user: PG_USER, cwd: "/" };

/**
 * Clusters of clones that no longer exist (a deleted `mktemp -d` clone, as CI makes one per run)
 * would pile up under CLUSTERS_DIR; each clone's folder names its clone, and a folder whose clone
 * is gone and whose servers are all stopped is removed.
 */
async function removeClustersOfDeletedClones() {
  if (!(await exists(CLUSTERS_DIR))) return;
  for await (const e of Deno.readDir(CLUSTERS_DIR)) {
    const dir = `${CLUSTERS_DIR}/${e.name}`;
    const clone = (await Deno.readTextFile(`${dir}/clone`).catch(() => "")).trim();
    if (!clone || (await exists(clone))) continue;
    let running = false;
    for await (const p of Deno.readDir(dir)) {
      if (p.isDirectory && (await exists(`${dir}/${p.name}/pgdata/postmaster.pid`))) running = true;
    }
    if (running) continue;
    await Deno.remove(dir, { recursive: true });
    console.log(`removed the database clusters of ${clone}, a clone that no longer exists`);
  }
}

export async function initCluster(cfg: StackConfig) {
  await Deno.mkdir(cfg.logDir, { recursive: true });
  await Deno.mkdir(cfg.socketDir, { recursive: true });
  if (cfg.pgHome.startsWith(CLUSTERS_DIR)) {
    await removeClustersOfDeletedClones();
    await Deno.writeTextFile(`${cloneClusters()}/clone`, ROOT + "\n");
  }
  await chown(cfg.pgHome, PG_USER);
  // The server's log lives beside its cluster (where the postgres user can write); the stack's
  // log folder links to it, so every log is found in one place.
  await Deno.writeTextFile(cfg.pgLog, "", { append: true });
  await chown(cfg.pgLog, PG_USER);
  const link = `${cfg.logDir}/postgres.log`;
  if (cfg.pgLog !== link) {
    await Deno.remove(link).catch(() => {});
    await Deno.symlink(cfg.pgLog, link);
  }
  if (await exists(`${cfg.pgData}/PG_VERSION`)) return false;
  await Deno.mkdir(cfg.pgData, { recursive: true });
  await chown(cfg.pgData, PG_USER);
  const pwfile = `${cfg.socketDir}/pwfile`;
  await Deno.writeTextFile(pwfile, cfg.dbPassword + "\n");
  await chown(pwfile, PG_USER);
  try {
    await run(`${PG_BIN}/initdb`, [
      "-D",
      cfg.pgData,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
    ], asPg);
  } finally {
    await Deno.remove(pwfile);
  }
  return true;
}

/** The server settings, written on every start so an existing cluster gets new ones too. */
async function writeSettings(cfg: StackConfig) {
  const path = `${cfg.pgData}/postgresql.auto.conf`;
  await Deno.writeTextFile(
    path,
    [
      "# written by scripts/stack/postgres.ts on every start",
      "listen_addresses = '127.0.0.1'",
      `port = ${cfg.ports.db}`,
      `unix_socket_directories = '${cfg.socketDir}'`,
      "max_connections = 200",
      "shared_buffers = '256MB'",
      "fsync = off", // a local development and test cluster: speed over crash safety
      "synchronous_commit = off",
      "full_page_writes = off",
      // As on hosted Supabase: pg_cron's scheduler and pg_net's worker are background workers.
      "shared_preload_libraries = 'pg_stat_statements, pg_cron, pg_net'",
      "cron.database_name = 'postgres'",
      // pg_cron runs each job over a libpq connection: the unix socket, where local connections are trusted.
      `cron.host = '${cfg.socketDir}'`,
      "",
    ].join("\n"),
  );
  await chown(path, PG_USER);
}

/** psql's arguments to connect as the superuser over the cluster's unix socket. */
function superuserOverSocket(cfg: StackConfig) {
  return ["-h", cfg.socketDir, "-p", String(cfg.ports.db), "-U", "postgres", "-d", "postgres"];
}

/** The version of the installed server binary and of the running server (null when not running). */
async function versions(cfg: StackConfig) {
  const installed = (await run(`${PG_BIN}/postgres`, ["--version"])).trim().split(" ").at(-1)!;
  const res = await output("psql", [
    "-X",
    "-At",
    ...superuserOverSocket(cfg),
    "-c",
    "show server_version",
  ]);
  return { installed, running: res.code === 0 ? res.stdout.trim().split(" ")[0] : null };
}

export async function postgresRunning(cfg: StackConfig) {
  const { code } = await output(`${PG_BIN}/pg_ctl`, ["-D", cfg.pgData, "status"], asPg);
  return code === 0;
}

export async function startPostgres(cfg: StackConfig) {
  if (await postgresRunning(cfg)) {
    // A server left running (by a stack that was killed) may predate an upgrade of postgresql-15:
    // its next PL/pgSQL call would fail with "undefined symbol". Restart it on the new binary.
    const v = await versions(cfg);
    if (v.running && v.running !== v.installed) {
      console.log(`Postgres ${v.running} is running but ${v.installed} is installed; restarting it on the new binary`);
    } else {
      console.log("Postgres was already running (left by an earlier stack); restarting it with the stack's settings");
    }
    await stopPostgres(cfg);
  }
  if (await portInUse(cfg.ports.db)) {
    throw new StackError(`port ${cfg.ports.db} (Postgres) is already in use by another program`);
  }
  await writeSettings(cfg);
  const { code } = await output(
    `${PG_BIN}/pg_ctl`,
    ["-D", cfg.pgData, "-l", cfg.pgLog, "-w", "-t", "30", "start"],
    asPg,
  );
  if (code !== 0) throw new StackError(`Postgres did not start; see ${cfg.pgLog}`);
}

export async function stopPostgres(cfg: StackConfig) {
  if (!(await exists(`${cfg.pgData}/PG_VERSION`)) || !(await postgresRunning(cfg))) return;
  await run(`${PG_BIN}/pg_ctl`, ["-D", cfg.pgData, "-m", "fast", "-w", "stop"], asPg);
}

/** psql as the superuser over the cluster's unix socket. */
export function psql(cfg: StackConfig, args: string[], stdin?: string) {
  return run("psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    ...superuserOverSocket(cfg),
    ...args,
  ], { stdin });
}
