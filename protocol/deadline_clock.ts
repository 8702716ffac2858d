/**
 * One shared clock for call deadlines. A timer per call costs more than the
 * call itself on a fast transport (Deno's setTimeout goes through its Node
 * timers layer), so deadlines are kept in a set and checked by one interval
 * that runs only while deadlines are pending (and one tick after), to within
 * `resolutionMs`.
 *
 * @module
 */

/** A registered deadline. */
export interface Deadline {
  /** `performance.now()` value after which `fire` is called: monotonic, so a clock set back does not delay it. */
  at: number;
  /** Called once, when the deadline passes. */
  fire: () => void;
}

/** Checks deadlines on one interval, alive only while deadlines are pending. */
export class DeadlineClock {
  #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #resolutionMs: number;

  /** Creates a clock that checks every `resolutionMs` milliseconds while busy. */
  constructor(resolutionMs = 20) {
    this.#resolutionMs = resolutionMs;
  }

  /** Calls `deadline.fire()` once `performance.now()` passes `deadline.at`, unless removed first. */
  add(deadline: Deadline): Deadline {
    this.#pending.add(deadline);
    this.#timer ??= setInterval(() => this.#tick(), this.#resolutionMs);
    return deadline;
  }

  /** Calls `fire` once `ms` milliseconds have passed, unless removed first. */
  after(ms: number, fire: () => void): Deadline {
    return this.add({ at: performance.now() + ms, fire });
  }

  /**
   * Forgets a deadline (it will not fire). The interval stops at its next
   * tick if nothing is pending then, so back-to-back calls share one timer.
   */
  remove(deadline: Deadline): void {
    this.#pending.delete(deadline);
  }

  /** Deadlines pending now. */
  get size(): number {
    return this.#pending.size;
  }

  #tick(): void {
    const now = performance.now();
    for (const d of this.#pending) {
      if (d.at <= now) {
        this.#pending.delete(d);
        d.fire();
      }
    }
    if (this.#pending.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
