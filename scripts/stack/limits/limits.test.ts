// The hosted limits a local function runs under (host.ts): a request past its CPU time is ended
// with its function, a function past its heap cap ends, and either is started again.
import assert from "node:assert/strict";

const HOST = new URL("./host.ts", import.meta.url).pathname;

/** A function that burns `?ms=` of CPU per request, keeps `?mb=` MB in its heap, or `?buffers=` MB in ArrayBuffers. */
const FUNCTION = `
const kept = [];
Deno.serve((req) => {
  const url = new URL(req.url);
  const ms = Number(url.searchParams.get("ms") ?? 0);
  const started = performance.now();
  let spun = 0;
  while (performance.now() - started < ms) spun++;
  for (let i = 0; i < Number(url.searchParams.get("mb") ?? 0); i++) kept.push(new Array(128 * 1024).fill(i + 0.5));
  for (let i = 0; i < Number(url.searchParams.get("buffers") ?? 0); i++) kept.push(new Uint8Array(2 ** 20).fill(1));
  return new Response(String(spun));
});
`;

async function startHost(env: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/fn`);
  await Deno.writeTextFile(`${dir}/fn/index.ts`, FUNCTION);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const usageFile = `${dir}/usage.jsonl`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HOST, `${dir}/fn`],
    env: {
      ...env,
      FUNCTION_NAME: "probe",
      FUNCTION_USAGE_FILE: usageFile,
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}/`;
  const up = async () => {
    for (let i = 0; i < 200; i++) {
      if (await fetch(url).then((r) => r.text().then(() => true), () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the probe function did not come up");
  };
  await up();
  const usage = async () => (await Deno.readTextFile(usageFile)).trim().split("\n").map((l) => JSON.parse(l));
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  return { url, up, usage, stop };
}

Deno.test("a request past the CPU limit ends its function, which starts again; requests within it are answered", async () => {
  const host = await startHost({ FUNCTION_CPU_MS: "400", FUNCTION_MEMORY_MB: "256" });
  try {
    assert.equal((await fetch(`${host.url}?ms=50`)).status, 200);
    // Far past the limit even where this process gets only part of a core.
    const ended = await fetch(`${host.url}?ms=5000`).then((r) => r.text().then(() => r.status), () => "no answer");
    assert.equal(ended, "no answer");
    await host.up();
    assert.equal((await fetch(`${host.url}?ms=50`)).status, 200);
    const lines = await host.usage();
    assert.deepEqual(lines[0], { ...lines[0], started: true, memory_mb: 256, cpu_ms_per_request: 400 });
    const cut = lines.find((l) => l.ended === "cpu");
    assert.ok(cut && cut.cpu_ms > 400 && cut.cpu_ms < 1000, JSON.stringify(lines));
    assert.ok(lines.some((l) => l.ended === "signal SIGKILL"), JSON.stringify(lines));
  } finally {
    await host.stop();
  }
});

Deno.test("a function past its heap cap ends and starts again", async () => {
  const host = await startHost({ FUNCTION_CPU_MS: "0", FUNCTION_MEMORY_MB: "64" });
  try {
    assert.equal((await fetch(`${host.url}?mb=8`)).status, 200); // 8 MB of numbers: within the cap
    const ended = await fetch(`${host.url}?mb=200`).then((r) => r.text().then(() => r.status), () => "no answer");
    assert.equal(ended, "no answer");
    await host.up();
    assert.ok((await host.usage()).some((l) => l.ended && l.ended !== "cpu"));
  } finally {
    await host.stop();
  }
});

Deno.test("memory held outside the heap (ArrayBuffers) counts too: past the limit the function ends", async () => {
  const host = await startHost({ FUNCTION_CPU_MS: "0", FUNCTION_MEMORY_MB: "96" });
  try {
    assert.equal((await fetch(`${host.url}?buffers=8`)).status, 200);
    // The buffers are made at once; the sample at the request's end finds them and ends the function.
    await fetch(`${host.url}?buffers=150`).then((r) => r.text(), () => "");
    const ended = async () => (await host.usage()).find((l) => l.ended === "memory");
    for (let i = 0; i < 50 && !(await ended()); i++) await new Promise((r) => setTimeout(r, 100));
    const cut = await ended();
    assert.ok(cut && cut.memory_mb > 96, JSON.stringify(await host.usage()));
    // The watchdog writes its line before it ends the process; the host writes one after.
    const gone = async () => (await host.usage()).some((l) => l.ended === "signal SIGKILL");
    for (let i = 0; i < 50 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 100));
    await host.up();
    assert.equal((await fetch(`${host.url}?buffers=8`)).status, 200);
  } finally {
    await host.stop();
  }
});
