// CPU time of a local function's JavaScript thread, read from /proc (see preload.ts, watchdog.ts).
const TICKS_PER_SECOND = 100; // Linux's USER_HZ, the unit of /proc's CPU times

/** CPU time (user + system) of the process's main thread, where its JavaScript runs, in ms. */
export function mainThreadCpuMs(): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND; // utime, stime (fields 14, 15)
}
