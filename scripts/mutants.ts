// `npm run mutants [-- <text>...]`: for each promise in scripts/mutants/mutations.ts (or those whose
// promise contains one of the texts), breaks its one line in a scratch copy of the repository, runs the
// tests that guard it there, and prints whether they caught it. Exits non-zero if any mutation
// survived, no longer applies, or a guard fails without any mutation (it would prove nothing).
//
// The scratch copy (.supabase-local/mutants/tree: the checkout's files, node_modules linked) runs
// a test stack of its own, at STACK_PORT_OFFSET + 50, so the stack `npm test` uses is untouched.
// Its database is reset before each guard; its functions are restarted when a mutation changes
// their code and a guard goes through the gateway. Guards' output: .supabase-local/mutants/logs/.
import { type Mutation, MUTATIONS } from "./mutants/mutations.ts";
import { ROOT } from "./stack/config.ts";
import { DENO } from "./stack/functions.ts";

const HOME = `${ROOT}/.supabase-local/mutants`;
const TREE = `${HOME}/tree`;
const LOGS = `${HOME}/logs`;
const PORT_OFFSET = String(Number(Deno.env.get("STACK_PORT_OFFSET") ?? "0") + 50);

type Kind = "pgtap" | "vitest" | "deno";
const kindOf = (guard: string): Kind =>
  guard.endsWith(".test.sql") ? "pgtap" : guard.startsWith("tests/") ? "vitest" : "deno";

/** The line `m` changes: its index in `lines`, or why it cannot be found. */
function mutatedLine(lines: string[], m: Mutation): number | string {
  let from = 0;
  if (m.after) {
    from = lines.findIndex((l) => l.includes(m.after!));
    if (from < 0) return `no line contains ${JSON.stringify(m.after)}`;
  }
  const at = lines.findIndex((l, i) => i >= from && l.includes(m.from));
  if (at < 0) return `no line${m.after ? " after it" : ""} contains ${JSON.stringify(m.from)}`;
  if (!m.after && lines.findIndex((l, i) => i > at && l.includes(m.from)) >= 0) {
    return `more than one line contains ${JSON.stringify(m.from)}; name the line before it with \`after\``;
  }
  return at;
}

async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; log?: string; cwd?: string } = {},
) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? TREE,
    env: { NO_COLOR: "1", STACK_PORT_OFFSET: PORT_OFFSET, ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (opts.log) await Deno.writeTextFile(opts.log, `$ ${cmd} ${args.join(" ")}\n${text}\n`, { append: true });
  return { ok: out.code === 0, text };
}

const stack = (...args: string[]) => run(DENO, ["run", "-A", `${TREE}/scripts/stack.ts`, ...args, "--profile", "test"]);

async function startStack() {
  const started = await stack("start", "--background", "--fake-provider");
  if (!started.ok) throw new Error(`the scratch stack did not start:\n${started.text}`);
}

/** A fresh copy of the checkout's files (tracked and new, not ignored), keeping the scratch stack's own data. */
async function copyCheckout() {
  await Deno.mkdir(TREE, { recursive: true });
  for await (const e of Deno.readDir(TREE)) {
    if (e.name !== ".supabase-local") await Deno.remove(`${TREE}/${e.name}`, { recursive: true });
  }
  const listed = await run("git", ["-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
  });
  for (const path of listed.text.split("\0").filter(Boolean)) {
    try {
      const info = await Deno.lstat(`${ROOT}/${path}`);
      if (!info.isFile) continue;
    } catch {
      continue; // deleted in the checkout, not yet in git
    }
    await Deno.mkdir(`${TREE}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.copyFile(`${ROOT}/${path}`, `${TREE}/${path}`);
  }
  await Deno.symlink(`${ROOT}/node_modules`, `${TREE}/node_modules`);
}

// The scratch copy's own configuration (its ROOT, its ports), as its test runners see it.
Deno.env.set("STACK_PORT_OFFSET", PORT_OFFSET);
let testEnv: Record<string, string> = {};
let dbUrl = "";

/** Runs guards of one kind against the scratch stack, with a freshly reset database. */
async function runGuards(kind: Kind, guards: string[], log: string) {
  const reset = await stack("reset");
  if (!reset.ok) return { ok: false, text: reset.text };
  const files = guards.map((g) => `${TREE}/${g}`);
  if (kind === "pgtap") {
    const helpers = [`${TREE}/supabase/tests/000-helpers.test.sql`],
      cleanup = [`${TREE}/supabase/tests/999-cleanup.test.sql`];
    return await run("pg_prove", ["--ext", ".sql", "-d", dbUrl, ...helpers, ...files, ...cleanup], { log });
  }
  if (kind === "vitest") return await run(`${TREE}/node_modules/.bin/vitest`, ["run", ...files], { env: testEnv, log });
  return await run(DENO, ["test", "-A", "--config", `${TREE}/supabase/functions/api/deno.json`, ...files], {
    env: testEnv,
    log,
  });
}

const filters = Deno.args.map((a) => a.toLowerCase());
const chosen = MUTATIONS.filter((m) => !filters.length || filters.some((f) => m.promise.toLowerCase().includes(f)));
if (!chosen.length) {
  console.error(`no mutation's promise contains any of: ${Deno.args.join(", ")}`);
  Deno.exit(2);
}

await Deno.mkdir(TREE, { recursive: true });
if (await Deno.stat(`${TREE}/scripts/stack.ts`).then(() => true, () => false)) await stack("stop"); // one left by an interrupted run
await copyCheckout();
await Deno.remove(LOGS, { recursive: true }).catch(() => {});
await Deno.mkdir(LOGS, { recursive: true });

const problems: string[] = [];
const survivors: string[] = [];
const started = Date.now();
try {
  console.log(`starting the scratch stack (ports shifted by ${PORT_OFFSET})`);
  await startStack();
  const config = await import(`${TREE}/scripts/stack/config.ts`);
  const cfg = config.stackConfig("test");
  dbUrl = cfg.dbUrl;
  testEnv = await (await import(`${TREE}/scripts/stack/test-env.ts`)).testEnv(cfg);

  // Every guard passes on the unchanged copy, or its failing under a mutation proves nothing.
  const byKind = new Map<Kind, string[]>();
  for (const g of new Set(chosen.flatMap((m) => m.guards))) {
    byKind.set(kindOf(g), [...(byKind.get(kindOf(g)) ?? []), g]);
  }
  for (const [kind, guards] of byKind) {
    const baseline = await runGuards(kind, guards, `${LOGS}/baseline.log`);
    console.log(
      `${baseline.ok ? "ok  " : "FAIL"}  baseline: ${guards.length} ${kind} guard(s) pass without any mutation`,
    );
    if (!baseline.ok) problems.push(`the ${kind} guards fail without any mutation (see ${LOGS}/baseline.log)`);
  }
  if (problems.length) throw new Error(problems.join("\n"));

  // The code the scratch functions serve: unchanged, or with this mutation.
  let served: Mutation | null = null;
  for (const [i, m] of chosen.entries()) {
    const path = `${TREE}/${m.file}`;
    const original = await Deno.readTextFile(path);
    const lines = original.split("\n");
    const at = mutatedLine(lines, m);
    if (typeof at === "string") {
      problems.push(`${m.file}: ${at}`);
      console.log(`STALE     ${m.promise}: ${m.file}: ${at}`);
      continue;
    }
    lines[at] = lines[at].replace(m.from, m.to);
    const log = `${LOGS}/${String(i + 1).padStart(2, "0")}.log`;
    await Deno.writeTextFile(
      log,
      `${m.promise}\n${m.file}:${at + 1}\n- ${original.split("\n")[at]}\n+ ${lines[at]}\n\n`,
    );
    await Deno.writeTextFile(path, lines.join("\n"));
    let caughtBy: string | null = null;
    try {
      const throughFunctions = m.guards.some((g) => kindOf(g) === "vitest");
      const wanted = m.file.startsWith("supabase/functions/") ? m : null;
      if (throughFunctions && served !== wanted) {
        await stack("stop");
        await startStack();
        served = wanted;
      }
      for (const guard of m.guards) {
        if (!(await runGuards(kindOf(guard), [guard], log)).ok) {
          caughtBy = guard;
          break;
        }
      }
    } finally {
      await Deno.writeTextFile(path, original);
    }
    if (caughtBy) console.log(`killed    ${m.promise} (${m.file}:${at + 1}; caught by ${caughtBy})`);
    else {
      survivors.push(m.promise);
      console.log(`SURVIVED  ${m.promise} (${m.file}:${at + 1}; ${m.guards.join(", ")} passed; see ${log})`);
    }
  }
} catch (err) {
  if (!problems.length) problems.push((err as Error).message);
} finally {
  await stack("stop");
}

console.log(
  `\n${chosen.length} mutations in ${Math.round((Date.now() - started) / 1000)} s: ` +
    `${
      chosen.length - survivors.length - problems.length
    } killed, ${survivors.length} survived, ${problems.length} problems`,
);
for (const p of problems) console.log(`problem: ${p}`);
Deno.exit(survivors.length || problems.length ? 1 : 0);
