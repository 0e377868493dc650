// The CPU watchdog of a local function (see preload.ts), on a thread of its own, so it sees a
// request that keeps the function's JavaScript thread busy. Every 50 ms it reads that thread's CPU
// time from /proc and the counters the requests keep (shared.ts). Requests that overlap share one
// busy period, from the last reading before its first request to the first reading after its last
// one ended: the period may spend FUNCTION_CPU_MS for each request in it; one that spends more
// ends the process (SIGKILL: its requests get no answer, as when the edge runtime ends a worker).
// Each busy period's CPU time and the memory it reached are appended to FUNCTION_USAGE_FILE (JSON
// lines) when that is set and it spent 50 ms or more.

import { mainThreadCpuMs } from "./cpu.ts";
import { BUSY_PERIODS_ENDED, MEMORY_PEAK_KB, REQUESTS_STARTED, STARTED_WHEN_LAST_ENDED } from "./shared.ts";

const limitMs = Number(Deno.env.get("FUNCTION_CPU_MS") ?? "0");
const usageFile = Deno.env.get("FUNCTION_USAGE_FILE");
const name = Deno.env.get("FUNCTION_NAME") ?? "function";
const MIN_RECORDED_CPU_MS = 50;
// A reading costs about 7 µs, waking the thread for it much more: under list load this thread
// spent 0.003 ms per request polling every 20 ms, 0.002 every 50 (the bench counts it in the
// function's CPU). A request may overrun its CPU limit by up to this much before it is ended.
const POLL_MS = 50;

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

interface Period {
  startCpuMs: number;
  startedBefore: number; // REQUESTS_STARTED before its first request
  requests: number;
  memoryBytes: number;
}
let period: Period | null = null;
let idleCpuMs = mainThreadCpuMs(); // the main thread's CPU at the last reading with no period open
let startedSeen = 0;
let endedSeen = 0;

function end(limit: "cpu" | "memory", message: string, details: Record<string, unknown>) {
  console.error(`${name}: ${message}; the function is ended, as the edge runtime ends its worker`);
  record({ ended: limit, requests: period?.requests ?? 0, ...details, peak_rss_mb: peakRssMb() });
  Deno.kill(Deno.pid, "SIGKILL");
}

function takeMemory(shared: Int32Array, p: Period) {
  p.memoryBytes = Math.max(p.memoryBytes, Atomics.exchange(shared, MEMORY_PEAK_KB, 0) * 1024);
}

function finish(p: Period, spentMs: number) {
  // Busy periods of some weight only: one line per small API request would be most of the file.
  if (spentMs < MIN_RECORDED_CPU_MS) return;
  record({
    requests: p.requests,
    cpu_ms: Math.round(spentMs),
    memory_mb: Math.round(p.memoryBytes / 2 ** 20), // peak of V8 heap + memory its objects hold outside it
    peak_rss_mb: peakRssMb(),
  });
}

function poll(shared: Int32Array) {
  const cpuMs = mainThreadCpuMs();
  const ended = Atomics.load(shared, BUSY_PERIODS_ENDED);
  const startedWhenEnded = Atomics.load(shared, STARTED_WHEN_LAST_ENDED);
  const started = Atomics.load(shared, REQUESTS_STARTED);
  if (!period && started !== startedSeen) {
    period = { startCpuMs: idleCpuMs, startedBefore: startedSeen, requests: 0, memoryBytes: 0 };
  }
  if (period && ended !== endedSeen) {
    // Every request started before the last end has ended: that busy period is over.
    period.requests = (startedWhenEnded - period.startedBefore) | 0;
    takeMemory(shared, period);
    finish(period, cpuMs - period.startCpuMs);
    period = null;
    startedSeen = startedWhenEnded;
    // Requests started since then open the next one.
    if (started !== startedWhenEnded) {
      period = { startCpuMs: cpuMs, startedBefore: startedWhenEnded, requests: 0, memoryBytes: 0 };
    }
  }
  endedSeen = ended;
  if (!period) {
    idleCpuMs = cpuMs;
    return;
  }
  startedSeen = started;
  period.requests = (started - period.startedBefore) | 0;
  takeMemory(shared, period);
  const spent = cpuMs - period.startCpuMs;
  if (limitMs > 0 && spent > limitMs * period.requests) {
    end(
      "cpu",
      `a request passed the CPU time limit (${spent} ms of CPU for ${period.requests} request(s), limit ${limitMs} ms each)`,
      { cpu_ms: Math.round(spent) },
    );
  }
}

(self as unknown as Worker).onmessage = (
  e: MessageEvent<{ type: "shared"; shared: Int32Array } | { type: "over-memory"; memoryBytes: number }>,
) => {
  if (e.data.type === "shared") {
    const shared = e.data.shared;
    if (limitMs > 0 || usageFile) setInterval(() => poll(shared), POLL_MS);
    return;
  }
  const mb = Math.round(e.data.memoryBytes / 2 ** 20);
  end(
    "memory",
    `its memory (V8 heap and what its objects hold outside it) reached ${mb} MB, above the limit`,
    { memory_mb: mb },
  );
};
