/**
 * The one place a timeout becomes a {@link TimeoutError}: every call that
 * waits (client calls, engine requests, health probes, executor replies) runs
 * through {@link withDeadline}, and every pause through {@link delay}.
 *
 * @module
 */
import { TimeoutError } from "./errors.ts";
import { type Deadline, DeadlineClock } from "./deadline_clock.ts";

/** Options of {@link withDeadline}. */
export interface DeadlineOptions {
  /** Aborts the call; the caller's reason is thrown as it is. */
  signal?: AbortSignal;
  /** Time allowed for the call, in seconds. */
  timeoutS: number;
}

const clock = new DeadlineClock(20);

/**
 * How a call learns that it was cancelled (caller's signal or timeout):
 * a callback, or an AbortSignal made only when asked for (fetch needs one).
 */
export interface Cancellation {
  /** An AbortSignal that aborts on cancel; created on first use. */
  readonly signal: AbortSignal;
  /** Registers the one callback run on cancel. */
  onCancel(callback: (reason: unknown) => void): void;
}

/**
 * One call's cancellation state: it is the deadline on the shared clock and
 * the listener on the caller's signal (`handleEvent`), so a call allocates
 * one object rather than a set of closures.
 */
class Call implements Cancellation, Deadline {
  at: number;
  timedOut = false;
  #what: string;
  #caller?: AbortSignal;
  #controller?: AbortController;
  #callback?: (reason: unknown) => void;
  #cancelled = false;
  #reason: unknown;

  constructor(what: string, timeoutS: number, caller?: AbortSignal) {
    this.at = performance.now() + timeoutS * 1000;
    this.#what = what;
    this.#caller = caller;
  }

  /** The deadline passed. */
  fire(): void {
    this.timedOut = true;
    this.#cancel(new DOMException(`${this.#what} timed out`, "TimeoutError"));
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.#cancel(this.#caller!.reason);
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.#cancelled && !this.#controller.signal.aborted) this.#controller.abort(this.#reason);
    return this.#controller.signal;
  }

  onCancel(callback: (reason: unknown) => void): void {
    this.#callback = callback;
    if (this.#cancelled) callback(this.#reason);
  }

  #cancel(reason: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#callback?.(reason);
  }
}

/**
 * Runs `fn`, cancelling it on the caller's signal or after the timeout. This
 * is on every call's path, so it allocates little: the timeout is a deadline
 * on a shared clock (not a timer of its own, nor AbortSignal.timeout/any),
 * an AbortController exists only if `fn` asks for a signal, and the result
 * takes one `then` (no async frame around `fn`).
 *
 * @example
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * const text = await withDeadline("GET /health", { timeoutS: 5 }, async ({ signal }) => {
 *   const res = await fetch("data:text/plain,ok", { signal });
 *   return await res.text();
 * });
 * console.log(text); // ok
 * ```
 */
export function withDeadline<T>(
  what: string,
  options: DeadlineOptions,
  fn: (cancellation: Cancellation) => Promise<T>,
): Promise<T> {
  const caller = options.signal;
  if (caller?.aborted) return Promise.reject(caller.reason);
  const call = new Call(what, options.timeoutS, caller);
  clock.add(call);
  caller?.addEventListener("abort", call, { once: true });
  let running: Promise<T>;
  try {
    running = fn(call);
  } catch (error) {
    running = Promise.reject(error);
  }
  return running.then(
    (value) => {
      clock.remove(call);
      caller?.removeEventListener("abort", call);
      return value;
    },
    (error) => {
      clock.remove(call);
      caller?.removeEventListener("abort", call);
      if (call.timedOut) {
        throw new TimeoutError(`${what} got no answer within ${options.timeoutS} s`, {
          cause: error,
        });
      }
      if (caller?.aborted) throw caller.reason;
      throw error;
    },
  );
}

/** Options of {@link delay}. */
export interface DelayOptions {
  /** Ends the wait early, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Waits `ms` milliseconds; rejects with the signal's reason if it aborts
 * first (and removes its listener either way).
 *
 * @example
 * ```ts
 * import { delay } from "./deadline.ts";
 * await delay(1);
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
