// Running commands for the stack scripts: quiet by default, one clear line on failure.

export class StackError extends Error {}

export const ROOT_BIN = new URL("../../.supabase-local/bin", import.meta.url).pathname;

export const isRoot = Deno.uid() === 0;

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run as this OS user (used to run Postgres as a non-root user when we are root). */
  user?: string;
  /** Feed this text on stdin. */
  stdin?: string;
}

function command(cmd: string, args: string[], opts: RunOptions) {
  const [bin, argv] = opts.user && isRoot ? ["runuser", ["-u", opts.user, "--", cmd, ...args]] : [cmd, args];
  return new Deno.Command(bin, {
    args: argv,
    env: opts.env,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs a command to completion; returns its output, or throws with its last stderr line. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const { code, stdout, stderr } = await output(cmd, args, opts);
  if (code !== 0) {
    const last = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" | ");
    throw new StackError(`${cmd} ${args[0] ?? ""} failed (exit ${code}): ${last}`);
  }
  return stdout;
}

export async function output(cmd: string, args: string[], opts: RunOptions = {}) {
  const child = command(cmd, args, opts).spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

export async function which(bin: string): Promise<string | null> {
  const { code, stdout } = await output("sh", ["-c", `command -v ${bin}`]);
  return code === 0 ? stdout.trim() : null;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** True when something already listens on 127.0.0.1:port. */
export async function portInUse(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** A port nothing listens on now on 127.0.0.1 (the system's choice). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Polls `check` until it holds; fails at once, naming the log, if `child` exits meanwhile. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logFile: string,
  child?: Deno.ChildProcess,
) {
  let exited: Deno.CommandStatus | null = null;
  child?.status.then((s) => (exited = s));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (exited) {
      throw new StackError(`${what} exited during start (code ${(exited as Deno.CommandStatus).code}); see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new StackError(`${what} did not come up within ${timeoutMs / 1000}s; see ${logFile}`);
}

export async function chown(path: string, user: string) {
  if (isRoot) await run("chown", ["-R", `${user}:${user}`, path]);
}

/**
 * Every service this process has started, from the moment it is spawned: stopping ends them all,
 * also those of a start that failed or was interrupted while it waited for one to come up.
 */
export const services: Deno.ChildProcess[] = [];

/** The process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid, its identity. */
async function startedAt(pid: number): Promise<string | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return f[0] === "Z" ? null : f[19]; // a zombie has ended
  } catch {
    return null;
  }
}

let ledger: string | null = null;

/**
 * From now on every service is also written down in `path` (pid and start time), so that a start
 * after a stack that was killed (SIGKILL: no chance to stop its servers) can stop what it left
 * running on the stack's ports: see stopLeftovers.
 */
export function keepLedger(path: string) {
  ledger = path;
}

async function writeLedger() {
  if (!ledger) return;
  const entries = await Promise.all(services.map(async (c) => ({ pid: c.pid, started: await startedAt(c.pid) })));
  await Deno.writeTextFile(ledger, JSON.stringify(entries) + "\n");
}

/**
 * Stops the services a killed stack's ledger names that are still the same processes (SIGTERM,
 * then SIGKILL after `graceMs`, as a stack stopping its own); removes the ledger.
 */
export async function stopLeftovers(path: string, graceMs: number) {
  const entries: { pid: number; started: string | null }[] = JSON.parse(
    await Deno.readTextFile(path).catch(() => "[]"),
  );
  const alive = [];
  for (const e of entries) if (e.started && (await startedAt(e.pid)) === e.started) alive.push(e);
  for (const e of alive) {
    try {
      Deno.kill(e.pid, "SIGTERM");
    } catch { /* gone meanwhile */ }
  }
  const deadline = Date.now() + graceMs;
  for (const e of alive) {
    while ((await startedAt(e.pid)) === e.started && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if ((await startedAt(e.pid)) === e.started) {
      try {
        Deno.kill(e.pid, "SIGKILL");
      } catch { /* gone meanwhile */ }
    }
  }
  if (alive.length) {
    console.log(
      `stopped ${alive.length} servers a killed stack had left running (pids ${alive.map((e) => e.pid).join(", ")})`,
    );
  }
  await Deno.remove(path).catch(() => {});
}

/** Starts a long-running service whose stdout and stderr go (appended) to its log file. */
export async function spawnLogged(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  logFile: string,
  cwd?: string,
) {
  const child = new Deno.Command(cmd, { args, env, cwd, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  services.push(child);
  await writeLedger();
  const file = await Deno.open(logFile, { create: true, append: true });
  // Written chunk by chunk as it arrives (pipeTo into file.writable holds data back until the stream ends).
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
    }
  };
  Promise.allSettled([copy(child.stdout), copy(child.stderr)]).then(() => file.close());
  return child;
}

export async function httpOk(url: string, init?: RequestInit) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}

/** The pid in a stack's pid file when that process is alive; a stale file is removed. */
export async function runningPid(pidFile: string): Promise<number | null> {
  if (!(await exists(pidFile))) return null;
  const pid = Number(await Deno.readTextFile(pidFile));
  try {
    Deno.kill(pid, "SIGCONT"); // signal 0 is not offered; SIGCONT is harmless to a running process
    if (!(await startedAt(pid))) throw new Error("a zombie"); // killed, not yet reaped by its parent
    return pid;
  } catch {
    await Deno.remove(pidFile).catch(() => {});
    return null;
  }
}
