// Runs one local function the way the edge runtime runs its workers: under the hosted limits
// (a V8 heap cap of FUNCTION_MEMORY_MB, and FUNCTION_CPU_MS of CPU per request, see preload.ts),
// and started again when it ends, by a limit or by a crash, for the next request. The stack
// starts one host per function (functions.ts):
//   deno run -A scripts/stack/limits/host.ts <function folder>
// Its output and the function's go to the stack's functions.log; each end is also written to
// FUNCTION_USAGE_FILE (when set) as {"ended": ...}, after a first line with the limits it runs under.

const dir = Deno.args[0];
const name = Deno.env.get("FUNCTION_NAME") ?? dir.split("/").pop();
const memoryMb = Number(Deno.env.get("FUNCTION_MEMORY_MB") ?? "0");
const usageFile = Deno.env.get("FUNCTION_USAGE_FILE");

const config = await Deno.stat(`${dir}/deno.json`).then(() => ["--config", `${dir}/deno.json`], () => []);
const args = [
  "run",
  "--allow-all",
  "--no-prompt",
  ...config,
  ...(memoryMb > 0 ? [`--v8-flags=--max-old-space-size=${memoryMb}`] : []),
  "--preload",
  new URL("./preload.ts", import.meta.url).pathname,
  `${dir}/index.ts`,
];

let child: Deno.ChildProcess | null = null;
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    stopping = true;
    try {
      child?.kill("SIGTERM");
    } catch { /* already gone */ }
  });
}

async function record(line: Record<string, unknown>) {
  if (usageFile) {
    await Deno.writeTextFile(
      usageFile,
      JSON.stringify({ function: name, at: new Date().toISOString(), ...line }) + "\n",
      { append: true },
    );
  }
}

await record({
  started: true,
  memory_mb: memoryMb,
  cpu_ms_per_request: Number(Deno.env.get("FUNCTION_CPU_MS") ?? "0"),
});
while (!stopping) {
  child = new Deno.Command(Deno.execPath(), {
    args,
    env: { FUNCTION_NAME: name! },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  if (stopping) break;
  const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
  console.error(`${name}: the function ended (${how}); starting it again`);
  await record({ ended: how });
  await new Promise((r) => setTimeout(r, 200)); // a function that cannot start does not spin
}
Deno.exit(0);
