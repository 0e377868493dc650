// Hosted Edge Functions' limits for a local function: preloaded before its index.ts (host.ts).
// Hosted, a request may spend 2 s of CPU and the isolate 256 MB; locally plain Deno has neither.
// The heap cap is V8's (--max-old-space-size, set by host.ts); this module wraps Deno.serve so a
// watchdog thread (watchdog.ts) can tell when requests are in flight, and ends the process when
// they spend more than FUNCTION_CPU_MS each, as the edge runtime ends its worker. host.ts starts
// the function again, as the edge runtime starts a new worker for the next request.
//
// The edge runtime keeps these accounts outside the isolate, at no cost to the function; so that
// the local function's CPU stays the function's own (the bench measures it), a request costs this
// module a few atomic counters and one read of V8's heap figures: no system call, no message.

import v8 from "node:v8";
import {
  BUSY_PERIODS_ENDED,
  MEMORY_PEAK_KB,
  REQUESTS_IN_FLIGHT,
  REQUESTS_STARTED,
  SHARED_SLOTS,
  STARTED_WHEN_LAST_ENDED,
} from "./shared.ts";

// Made when the function starts serving: a Worker made while a preload module runs holds the
// main module back (Deno 2.9).
let watchdog: Worker;
const shared = new Int32Array(new SharedArrayBuffer(SHARED_SLOTS * Int32Array.BYTES_PER_ELEMENT));

type Handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>;

// The memory requests use (V8 heap and the memory outside it that its objects hold, such as
// ArrayBuffers, which the edge runtime counts too and V8's heap cap does not): sampled at each
// request's end and every 50 ms while any is in flight. Above FUNCTION_MEMORY_MB the watchdog
// ends the function; the peak goes to the watchdog's record of the busy period.
const memoryLimitBytes = Number(Deno.env.get("FUNCTION_MEMORY_MB") ?? "0") * 2 ** 20;
let sampler: ReturnType<typeof setInterval> | undefined;
function sampleMemory() {
  const heap = v8.getHeapStatistics();
  const bytes = heap.used_heap_size + heap.external_memory;
  const kb = Math.ceil(bytes / 1024);
  if (kb > Atomics.load(shared, MEMORY_PEAK_KB)) Atomics.store(shared, MEMORY_PEAK_KB, kb);
  if (memoryLimitBytes > 0 && bytes > memoryLimitBytes) {
    watchdog.postMessage({ type: "over-memory", memoryBytes: bytes });
  }
}

function watched(handler: Handler): Handler {
  return async (req, info) => {
    Atomics.add(shared, REQUESTS_STARTED, 1);
    if (Atomics.add(shared, REQUESTS_IN_FLIGHT, 1) === 0) sampler = setInterval(sampleMemory, 50);
    try {
      return await handler(req, info);
    } finally {
      sampleMemory();
      if (Atomics.sub(shared, REQUESTS_IN_FLIGHT, 1) === 1) {
        clearInterval(sampler);
        Atomics.store(shared, STARTED_WHEN_LAST_ENDED, Atomics.load(shared, REQUESTS_STARTED));
        Atomics.add(shared, BUSY_PERIODS_ENDED, 1);
      }
    }
  };
}

const serve = Deno.serve;
// deno-lint-ignore no-explicit-any
(Deno as any).serve = (...args: any[]) => {
  if (!watchdog) {
    watchdog = new Worker(new URL("./watchdog.ts", import.meta.url).href, { type: "module" });
    watchdog.postMessage({ type: "shared", shared });
  }
  // Deno.serve(handler), Deno.serve(options, handler), or Deno.serve({ ...options, handler }).
  const at = args.findIndex((a) => typeof a === "function");
  if (at >= 0) args[at] = watched(args[at]);
  else if (args[0] && typeof args[0].handler === "function") {
    args[0] = { ...args[0], handler: watched(args[0].handler) };
  }
  // deno-lint-ignore no-explicit-any
  return (serve as any)(...args);
};
