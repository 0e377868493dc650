import type { FailureFacts } from "./errors.ts";

// An abort signal that fires when nothing happened for `ms` (call `touch()` on progress),
// or when the caller's own signal fires. The SDKs' `timeout` only covers the wait for the
// response headers, so a stalled body or stream needs this.
export class Deadline {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, outer?: AbortSignal) {
    this.#ms = ms;
    this.signal = outer ? AbortSignal.any([outer, this.#controller.signal]) : this.#controller.signal;
    this.touch();
  }

  /** True when this deadline (not the caller) ended the request. */
  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#controller.abort(new DOMException("provider timeout", "TimeoutError")),
      this.#ms,
    );
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

/** Facts for a request ended by the deadline or by the caller's signal; null when neither fired. */
export function abortFacts(deadline: Deadline, outer?: AbortSignal): FailureFacts | null {
  if (deadline.expired) return { timedOut: true };
  if (!outer?.aborted) return null;
  const reason = outer.reason;
  const timedOut = reason instanceof DOMException && reason.name === "TimeoutError";
  return { timedOut, code: "aborted", message: "the request was aborted" };
}
