/**
 * A pool of warm envs: N connected clients (each owning its server — a
 * container, a child process — or a session on a shared server) kept ready,
 * handed out in milliseconds, recycled after a reset, replaced when dead, and
 * all removed on dispose.
 *
 * @module
 */
import type { HTTPEnvClient } from "../client/client.ts";
import { ConnectionError, TimeoutError } from "../protocol/errors.ts";
import { delay, withDeadline } from "../protocol/deadline.ts";
import type { Action, Observation, State } from "../protocol/models.ts";

/** Any env client, whatever its models: what a pool holds. */
// deno-lint-ignore no-explicit-any
export type AnyClient = HTTPEnvClient<any, any, any, any>;

/** Options of an {@link EnvPool}. */
export interface EnvPoolOptions<T extends AnyClient> {
  /** Envs to keep, warm and in use together. */
  size: number;
  /**
   * Starts one env and returns its connected client (whose `close()` frees
   * everything it holds). It must clean up after itself when it fails or
   * when `signal` aborts.
   */
  create: (signal: AbortSignal) => Promise<T>;
  /**
   * Envs starting at once.
   * @default 4
   */
  concurrency?: number;
  /**
   * Random delay before each start, up to this many seconds, so that
   * many starts do not hit the engine in the same instant.
   * @default 0.025
   */
  jitterS?: number;
  /**
   * Reset a released env before handing it out again.
   * @default true
   */
  resetOnRelease?: boolean;
  /**
   * Seconds `checkout` waits for a warm env by default.
   * @default 60
   */
  checkoutTimeoutS?: number;
  /**
   * Consecutive start failures after which waiting callers get the error.
   * @default 3
   */
  maxStartFailures?: number;
  /**
   * How often idle envs are checked for a lost connection, in seconds.
   * @default 0.5
   */
  sweepIntervalS?: number;
}

/** Counts of a pool, for monitoring and tests. */
export interface PoolStats {
  /** Warm envs ready to hand out. */
  idle: number;
  /** Envs handed out. */
  inUse: number;
  /** Envs being started. */
  starting: number;
  /** Envs started since the pool was made. */
  started: number;
  /** Envs found dead and replaced. */
  replaced: number;
}

/**
 * Keeps `size` envs warm. Envs come out connected; the caller starts its
 * episode with `reset` (its own seed), and a released env is reset before it
 * is handed out again, so no episode's state reaches the next caller.
 *
 * @example
 * ```ts
 * import { EchoEnv, EnvPool } from "../mod.ts";
 * await using pool = await EnvPool.create({ size: 2, create: () => EchoEnv.fromProcess() });
 * const env = await pool.checkout(); // a warm, connected env, in microseconds
 * await env.reset({ seed: 1 });
 * await env.step({ message: "hi" });
 * await pool.release(env); // reset again, then handed out to the next caller
 * ```
 */
export class EnvPool<T extends AnyClient = HTTPEnvClient<Action, Observation, State>>
  implements AsyncDisposable {
  #options: Required<EnvPoolOptions<T>>;
  #idle: T[] = [];
  #inUse = new Set<T>();
  #starting = 0;
  #started = 0;
  #replaced = 0;
  #failures = 0;
  #lastError?: unknown;
  #waiters: { resolve: (c: T) => void; reject: (e: unknown) => void }[] = [];
  #abort = new AbortController();
  #closed = false;
  #background = new Set<Promise<unknown>>();
  #sweeper: ReturnType<typeof setInterval>;

  /** Makes a pool and starts filling it; see {@link EnvPool.create} to wait until it is full. */
  constructor(options: EnvPoolOptions<T>) {
    if (!(options.size >= 1)) throw new RangeError("A pool needs a size of at least 1");
    this.#options = {
      concurrency: 4,
      jitterS: 0.025,
      resetOnRelease: true,
      checkoutTimeoutS: 60,
      maxStartFailures: 3,
      sweepIntervalS: 0.5,
      ...options,
    };
    // Idle envs whose connection dropped (a killed container) are replaced
    // before anyone checks them out.
    this.#sweeper = setInterval(() => this.#sweep(), this.#options.sweepIntervalS * 1000);
    Deno.unrefTimer(this.#sweeper);
    this.#fill();
  }

  #sweep(): void {
    const dead = this.#idle.filter((c) => !c.alive);
    if (dead.length === 0) return;
    this.#idle = this.#idle.filter((c) => c.alive);
    this.#replaced += dead.length;
    for (const c of dead) this.#discard(c);
  }

  /** Makes a pool and waits until every env is warm (or a start fails for good). */
  static async create<T extends AnyClient>(options: EnvPoolOptions<T>): Promise<EnvPool<T>> {
    const pool = new EnvPool(options);
    try {
      await pool.ready();
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Resolves once `size` envs are idle or in use; rejects after repeated start failures. */
  async ready(): Promise<void> {
    while (this.#idle.length + this.#inUse.size < this.#options.size) {
      if (this.#closed) throw new ConnectionError("Pool is closed");
      if (this.#failures >= this.#options.maxStartFailures) throw this.#startError();
      await delay(5);
    }
  }

  /** Current counts. */
  get stats(): PoolStats {
    return {
      idle: this.#idle.length,
      inUse: this.#inUse.size,
      starting: this.#starting,
      started: this.#started,
      replaced: this.#replaced,
    };
  }

  /** Hands out a warm env, waiting for one if all are in use. */
  async checkout(options: { signal?: AbortSignal; timeoutS?: number } = {}): Promise<T> {
    while (true) {
      if (this.#closed) throw new ConnectionError("Pool is closed");
      const client = this.#idle.pop();
      if (!client) break;
      if (client.alive) {
        this.#inUse.add(client);
        return client;
      }
      this.#replaced++;
      this.#discard(client);
    }
    if (this.#failures >= this.#options.maxStartFailures) {
      // Report the failure now, and let the next checkout try afresh.
      const error = this.#startError();
      this.#failures = 0;
      this.#fill();
      throw error;
    }
    const timeoutS = options.timeoutS ?? this.#options.checkoutTimeoutS;
    const deadline = { signal: options.signal, timeoutS };
    return await withDeadline(
      "Pool checkout",
      deadline,
      (cancellation) =>
        new Promise<T>((resolve, reject) => {
          const waiter = { resolve, reject };
          cancellation.onCancel((reason) => {
            const i = this.#waiters.indexOf(waiter);
            if (i >= 0) this.#waiters.splice(i, 1);
            reject(reason);
          });
          this.#waiters.push(waiter);
          this.#fill();
        }),
    ).catch((error) => {
      if (!(error instanceof TimeoutError)) throw error;
      throw new TimeoutError(`No env of the pool became free within ${timeoutS} s`, {
        cause: error.cause,
      });
    });
  }

  /**
   * Gives an env back. It is reset and handed out again, or replaced when it
   * is dead, its reset fails, or `discard` is set.
   */
  async release(client: T, options: { discard?: boolean } = {}): Promise<void> {
    if (!this.#inUse.delete(client)) return;
    if (this.#closed || options.discard || !client.alive) {
      if (!this.#closed && !options.discard) this.#replaced++;
      this.#discard(client);
      return;
    }
    if (!this.#options.resetOnRelease) {
      this.#offer(client);
      return;
    }
    this.#starting++;
    const recycle = client.reset({ timeoutS: 30 }).then(
      () => {
        this.#starting--;
        this.#offer(client);
      },
      () => {
        this.#starting--;
        this.#replaced++;
        this.#discard(client);
      },
    );
    this.#track(recycle);
    await recycle;
  }

  /** Stops every start, closes every env (idle and in use), fails waiting callers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#abort.abort(new ConnectionError("Pool is closed"));
    for (const w of this.#waiters.splice(0)) w.reject(new ConnectionError("Pool is closed"));
    const all = [...this.#idle, ...this.#inUse];
    this.#idle = [];
    this.#inUse.clear();
    await Promise.all(all.map((c) => c.close().catch(() => {})));
    while (this.#background.size) await Promise.all([...this.#background]);
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #offer(client: T): void {
    if (this.#closed) {
      this.#track(client.close().catch(() => {}));
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#inUse.add(client);
      waiter.resolve(client);
    } else {
      this.#idle.push(client);
    }
  }

  #discard(client: T): void {
    this.#track(client.close().catch(() => {}));
    this.#fill();
  }

  #track(p: Promise<unknown>): void {
    this.#background.add(p);
    p.finally(() => this.#background.delete(p));
  }

  #fill(): void {
    if (this.#closed) return;
    const total = () => this.#idle.length + this.#inUse.size + this.#starting;
    while (total() < this.#options.size && this.#starting < this.#options.concurrency) {
      this.#starting++;
      this.#track(this.#startOne());
    }
  }

  async #startOne(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      const jitter = Math.random() * this.#options.jitterS * 1000;
      if (this.#failures > 0) {
        // Back off after failures: 0.2 s, 0.4 s, ... up to 5 s.
        await delay(Math.min(5000, 200 * 2 ** (this.#failures - 1)) + jitter, { signal });
      } else if (jitter > 0) await delay(jitter, { signal });
      const client = await this.#options.create(signal);
      this.#starting--;
      this.#started++;
      this.#failures = 0;
      this.#offer(client);
    } catch (error) {
      this.#starting--;
      if (this.#closed) return;
      this.#failures++;
      this.#lastError = error;
      if (this.#failures >= this.#options.maxStartFailures) {
        for (const w of this.#waiters.splice(0)) w.reject(this.#startError());
        return;
      }
    }
    this.#fill();
  }

  #startError(): ConnectionError {
    const message = this.#lastError instanceof Error
      ? this.#lastError.message
      : String(this.#lastError);
    return new ConnectionError(
      `Pool cannot start envs: ${this.#failures} starts failed in a row, the last with: ${message}`,
      { cause: this.#lastError },
    );
  }
}
