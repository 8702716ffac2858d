/**
 * A vector env: N sessions stepped concurrently, in Gymnasium's vector-env
 * style (batched reset and step, autoreset), where one env's error is
 * reported for that env without sinking the batch.
 *
 * @module
 */
import type { HTTPEnvClient, StepCallOptions } from "./client.ts";
import { asEnvTorchError, type EnvTorchError } from "../protocol/errors.ts";
import type { Action, Observation, Reward, State } from "../protocol/models.ts";

/** What happens to an env whose episode ended. */
export type AutoresetMode =
  /** Gymnasium's default: the next `step` resets that env instead of stepping it. */
  | "next_step"
  /** Reset in the same step: the observation is the new episode's, the last one is `finalObservation`. */
  | "same_step"
  /** Never: the caller resets (stepping a done env is then that env's error). */
  | "disabled";

/** Options of a {@link VectorEnv}. */
export interface VectorEnvOptions {
  /**
   * What happens to an env whose episode ended.
   * @default "next_step"
   */
  autoreset?: AutoresetMode;
  /**
   * Seconds each env's call may take before it is that env's TimeoutError.
   * @default 60
   */
  stepTimeoutS?: number;
}

/** One env's part of a batched call. */
export type VectorOutcome<O extends Observation> =
  | {
    ok: true;
    observation: O;
    reward: Reward;
    done: boolean;
    /** This env was reset (autoreset) rather than stepped. */
    autoreset: boolean;
    /** With `same_step` autoreset, the last observation of the finished episode. */
    finalObservation?: O;
  }
  | { ok: false; error: EnvTorchError };

/** What a batched reset or step gives. */
export interface VectorResult<O extends Observation> {
  /** One outcome per env, in order. */
  outcomes: VectorOutcome<O>[];
  /** Rewards per env (null where the env failed). */
  rewards: Reward[];
  /** Done flags per env (false where the env failed). */
  dones: boolean[];
  /** The error per env, or null. */
  errors: (EnvTorchError | null)[];
}

/** Options of a batched reset. */
export interface VectorResetOptions {
  /** Env i gets seed `seed + i`; or one seed per env. */
  seed?: number | (number | undefined)[];
  /** Other reset options, the same for every env. */
  options?: Record<string, unknown>;
}

/**
 * Steps N env sessions concurrently.
 *
 * @example
 * ```ts
 * import { createApp, EchoEnv, EchoEnvironment, echoModels, inProcess, VectorEnv } from "../mod.ts";
 * await using app = createApp(() => new EchoEnvironment(), echoModels);
 * await using vec = new VectorEnv([
 *   new EchoEnv({ transport: inProcess(app) }),
 *   new EchoEnv({ transport: inProcess(app) }),
 * ]);
 * await vec.reset({ seed: 0 });
 * const { rewards } = await vec.step([{ message: "hi" }, { message: "hello" }]);
 * console.log(rewards); // [ 0.2, 0.5 ]
 * ```
 */
export class VectorEnv<
  A extends Action = Action,
  O extends Observation = Observation,
  S extends State = State,
> implements AsyncDisposable {
  /** The sessions, in order. */
  readonly envs: HTTPEnvClient<A, O, S>[];
  #autoreset: AutoresetMode;
  #timeoutS: number;
  #needsReset: boolean[];
  #resetOptions: Record<string, unknown>[];

  /** Wraps connected (or lazily connecting) clients; the vector owns and closes them. */
  constructor(envs: HTTPEnvClient<A, O, S>[], options: VectorEnvOptions = {}) {
    if (envs.length === 0) throw new RangeError("A VectorEnv needs at least one env");
    this.envs = envs;
    this.#autoreset = options.autoreset ?? "next_step";
    this.#timeoutS = options.stepTimeoutS ?? 60;
    this.#needsReset = envs.map(() => false);
    this.#resetOptions = envs.map(() => ({}));
  }

  /** Number of envs. */
  get numEnvs(): number {
    return this.envs.length;
  }

  /** Resets every env concurrently. */
  reset(options: VectorResetOptions = {}): Promise<VectorResult<O>> {
    return this.#batch(async (env, i) => {
      const seed = Array.isArray(options.seed)
        ? options.seed[i]
        : options.seed !== undefined
        ? options.seed + i
        : undefined;
      this.#resetOptions[i] = { ...options.options };
      const r = await env.reset({ ...options.options, seed, timeoutS: this.#timeoutS });
      this.#needsReset[i] = false;
      return { ok: true, ...r, autoreset: false };
    });
  }

  /** Steps every env with its action concurrently; `actions[i]` goes to env i. */
  step(actions: A[], options: Omit<StepCallOptions, "timeoutS"> = {}): Promise<VectorResult<O>> {
    if (actions.length !== this.envs.length) {
      throw new RangeError(`Expected ${this.envs.length} actions, got ${actions.length}`);
    }
    return this.#batch(async (env, i) => {
      if (this.#needsReset[i] && this.#autoreset === "next_step") {
        const r = await env.reset({ ...this.#resetOptions[i], timeoutS: this.#timeoutS });
        this.#needsReset[i] = false;
        return { ok: true, ...r, autoreset: true };
      }
      const r = await env.step(actions[i]!, { ...options, timeoutS: this.#timeoutS });
      if (!r.done || this.#autoreset === "disabled") return { ok: true, ...r, autoreset: false };
      if (this.#autoreset === "next_step") {
        this.#needsReset[i] = true;
        return { ok: true, ...r, autoreset: false };
      }
      const fresh = await env.reset({ ...this.#resetOptions[i], timeoutS: this.#timeoutS });
      return {
        ok: true,
        observation: fresh.observation,
        reward: r.reward,
        done: true,
        autoreset: true,
        finalObservation: r.observation,
      };
    });
  }

  /** Replaces env `i` (e.g. after its server died); the old client is closed. */
  async replace(i: number, env: HTTPEnvClient<A, O, S>): Promise<void> {
    const old = this.envs[i];
    if (!old) throw new RangeError(`No env at index ${i}`);
    this.envs[i] = env;
    this.#needsReset[i] = false;
    await old.close().catch(() => {});
  }

  /** Closes every env. */
  async close(): Promise<void> {
    await Promise.all(this.envs.map((e) => e.close().catch(() => {})));
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #batch(
    call: (env: HTTPEnvClient<A, O, S>, i: number) => Promise<VectorOutcome<O>>,
  ): Promise<VectorResult<O>> {
    const outcomes = await Promise.all(this.envs.map(async (env, i) => {
      try {
        return await call(env, i);
      } catch (error) {
        // A call past stepTimeoutS fails with the client's TimeoutError.
        return { ok: false as const, error: asEnvTorchError(error, `Env ${i} failed`) };
      }
    }));
    return {
      outcomes,
      rewards: outcomes.map((o) => (o.ok ? o.reward : null)),
      dones: outcomes.map((o) => (o.ok ? o.done : false)),
      errors: outcomes.map((o) => (o.ok ? null : o.error)),
    };
  }
}
