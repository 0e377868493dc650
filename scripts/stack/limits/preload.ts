// Hosted Edge Functions' limits for a local function: preloaded before its index.ts (host.ts).
// Hosted, a request may spend 2 s of CPU and the isolate 256 MB; locally plain Deno has neither.
// The heap cap is V8's (--max-old-space-size, set by host.ts); this module wraps Deno.serve so a
// watchdog thread (watchdog.ts) sees each request start and end, and ends the process when a
// request's CPU time passes FUNCTION_CPU_MS, as the edge runtime ends its worker. host.ts starts
// the function again, as the edge runtime starts a new worker for the next request.

import { mainThreadCpuMs } from "./cpu.ts";

// Made when the function starts serving: a Worker made while a preload module runs holds the
// main module back (Deno 2.9).
let watchdog: Worker;
let nextId = 0;

type Handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>;

// The memory requests use (V8 heap and the memory outside it that its objects hold, such as
// ArrayBuffers, which the edge runtime counts too and V8's heap cap does not), sampled while any
// is in flight: above FUNCTION_MEMORY_MB the watchdog ends the function; its peak is recorded.
const memoryLimitBytes = Number(Deno.env.get("FUNCTION_MEMORY_MB") ?? "0") * 2 ** 20;
let inFlight = 0;
let peakMemoryBytes = 0;
let sampler: ReturnType<typeof setInterval> | undefined;
function sampleMemory() {
  const m = Deno.memoryUsage();
  peakMemoryBytes = Math.max(peakMemoryBytes, m.heapUsed + m.external);
  if (memoryLimitBytes > 0 && m.heapUsed + m.external > memoryLimitBytes) {
    watchdog.postMessage({ type: "over-memory", id: -1, cpuMs: 0, memoryBytes: m.heapUsed + m.external });
  }
}

function watched(handler: Handler): Handler {
  return async (req, info) => {
    const id = nextId++;
    if (inFlight++ === 0) {
      peakMemoryBytes = 0;
      sampler = setInterval(sampleMemory, 50);
    }
    sampleMemory();
    watchdog.postMessage({ type: "start", id, cpuMs: mainThreadCpuMs() });
    try {
      return await handler(req, info);
    } finally {
      sampleMemory();
      if (--inFlight === 0) clearInterval(sampler);
      watchdog.postMessage({ type: "end", id, cpuMs: mainThreadCpuMs(), memoryBytes: peakMemoryBytes });
    }
  };
}

const serve = Deno.serve;
// deno-lint-ignore no-explicit-any
(Deno as any).serve = (...args: any[]) => {
  watchdog ??= new Worker(new URL("./watchdog.ts", import.meta.url).href, { type: "module" });
  // Deno.serve(handler), Deno.serve(options, handler), or Deno.serve({ ...options, handler }).
  const at = args.findIndex((a) => typeof a === "function");
  if (at >= 0) args[at] = watched(args[at]);
  else if (args[0] && typeof args[0].handler === "function") {
    args[0] = { ...args[0], handler: watched(args[0].handler) };
  }
  // deno-lint-ignore no-explicit-any
  return (serve as any)(...args);
};
