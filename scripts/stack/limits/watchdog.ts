// The CPU watchdog of a local function (see preload.ts), on a thread of its own, so it sees a
// request that keeps the function's JavaScript thread busy. It reads that thread's CPU time from
// /proc. Requests that overlap share one busy period: the period may spend FUNCTION_CPU_MS for
// each request in it; one that spends more ends the process (SIGKILL: its requests get no answer,
// as when the edge runtime ends a worker). Each busy period's CPU time and the memory it reached are
// appended to FUNCTION_USAGE_FILE (JSON lines) when that is set and it spent 50 ms or more.

import { mainThreadCpuMs } from "./cpu.ts";

const limitMs = Number(Deno.env.get("FUNCTION_CPU_MS") ?? "0");
const usageFile = Deno.env.get("FUNCTION_USAGE_FILE");
const name = Deno.env.get("FUNCTION_NAME") ?? "function";
const MIN_RECORDED_CPU_MS = 50;
/** Peak resident memory of the process so far (VmHWM), in MB. */
function peakRssMb(): number {
  const kb = Deno.readTextFileSync("/proc/self/status").match(/^VmHWM:\s+(\d+)/m)?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

function record(line: Record<string, unknown>) {
  if (usageFile) {
    Deno.writeTextFileSync(
      usageFile,
      JSON.stringify({ function: name, at: new Date().toISOString(), ...line }) + "\n",
      { append: true },
    );
  }
}

const inFlight = new Set<number>();
let period = { startCpuMs: 0, requests: 0, memoryBytes: 0 };

// Each message carries the main thread's CPU time when it was sent (this thread may read it later).
function end(limit: "cpu" | "memory", message: string, details: Record<string, unknown>) {
  console.error(`${name}: ${message}; the function is ended, as the edge runtime ends its worker`);
  record({ ended: limit, requests: period.requests, ...details, peak_rss_mb: peakRssMb() });
  Deno.kill(Deno.pid, "SIGKILL");
}

(self as unknown as Worker).onmessage = (
  e: MessageEvent<{ type: "start" | "end" | "over-memory"; id: number; cpuMs: number; memoryBytes?: number }>,
) => {
  const { type, id, cpuMs, memoryBytes } = e.data;
  if (type === "over-memory") {
    const mb = Math.round((memoryBytes ?? 0) / 2 ** 20);
    return end(
      "memory",
      `its memory (V8 heap and what its objects hold outside it) reached ${mb} MB, above the limit`,
      { memory_mb: mb },
    );
  }
  if (type === "start") {
    if (inFlight.size === 0) period = { startCpuMs: cpuMs, requests: 0, memoryBytes: 0 };
    inFlight.add(id);
    period.requests++;
    return;
  }
  inFlight.delete(id);
  period.memoryBytes = Math.max(period.memoryBytes, memoryBytes ?? 0);
  // Busy periods of some weight only: one line per small API request would be most of the file.
  if (inFlight.size === 0 && cpuMs - period.startCpuMs >= MIN_RECORDED_CPU_MS) {
    record({
      requests: period.requests,
      cpu_ms: Math.round(cpuMs - period.startCpuMs),
      memory_mb: Math.round(period.memoryBytes / 2 ** 20), // peak of V8 heap + memory its objects hold outside it
      peak_rss_mb: peakRssMb(),
    });
  }
};

if (limitMs > 0) {
  setInterval(() => {
    if (inFlight.size === 0) return;
    const spent = mainThreadCpuMs() - period.startCpuMs;
    if (spent <= limitMs * period.requests) return;
    end(
      "cpu",
      `a request passed the CPU time limit (${spent} ms of CPU for ${period.requests} request(s), limit ${limitMs} ms each)`,
      {
        cpu_ms: Math.round(spent),
      },
    );
  }, 20);
}
