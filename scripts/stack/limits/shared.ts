// The counters a local function's requests share with its watchdog thread (preload.ts writes them
// with atomic operations, watchdog.ts reads them): slots of one Int32Array over a SharedArrayBuffer.
// Counts wrap around at 2^31: compare them with `(a - b) | 0`.

/** Requests the function is serving now. */
export const REQUESTS_IN_FLIGHT = 0;
/** Requests started since the function started. */
export const REQUESTS_STARTED = 1;
/** Times the requests in flight fell to none: each ends a busy period. */
export const BUSY_PERIODS_ENDED = 2;
/** REQUESTS_STARTED when the last busy period ended. */
export const STARTED_WHEN_LAST_ENDED = 3;
/** The largest V8 heap + external memory a sample saw since the watchdog last took it, in KiB. */
export const MEMORY_PEAK_KB = 4;
export const SHARED_SLOTS = 5;
