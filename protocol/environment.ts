/**
 * The base class an env author extends: `reset`, `step`, `state`, `close`,
 * `metadata`. Implementations may be sync or async.
 *
 * @module
 */
import type { Action, Observation, ResetOptions, State } from "./models.ts";
import type { Tool } from "./tools.ts";

/** What `GET /metadata` returns. */
export interface EnvMetadata {
  /** Name of the env. */
  name: string;
  /** One line on what the env does. */
  description: string;
  /** Version of the env. */
  version?: string;
  /** The env's README, as Markdown. */
  readme_content?: string;
  /** Who wrote it. */
  author?: string;
  /** Where its documentation lives. */
  documentation_url?: string;
}

/** Options the server passes to {@link Environment.step}. */
export interface StepOptions {
  /** Time the client allows for this step, in seconds. */
  timeout_s?: number;
  /** Aborted when the step's time is up or the session is closed. */
  signal?: AbortSignal;
}

/** A value or a promise of it: env methods may be sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * An environment: one instance serves one session at a time.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { Action, Environment, Observation, State } from "../mod.ts";
 *
 * const CountAction = Action.extend({ by: z.number().int() });
 * const CountObservation = Observation.extend({ total: z.number() });
 * type CountAction = z.infer<typeof CountAction>;
 * type CountObservation = z.infer<typeof CountObservation>;
 *
 * class CountEnv extends Environment<CountAction, CountObservation> {
 *   #total = 0;
 *   #state: State = { episode_id: null, step_count: 0 };
 *   reset(): CountObservation {
 *     this.#total = 0;
 *     this.#state = { episode_id: crypto.randomUUID(), step_count: 0 };
 *     return CountObservation.parse({ total: 0 });
 *   }
 *   step(action: CountAction): CountObservation {
 *     this.#total += action.by;
 *     this.#state.step_count++;
 *     return CountObservation.parse({ total: this.#total, reward: action.by });
 *   }
 *   get state(): State {
 *     return this.#state;
 *   }
 * }
 * const env = new CountEnv();
 * env.reset();
 * console.log(env.step({ by: 2 }).total); // 2
 * ```
 */
export abstract class Environment<
  A extends Action = Action,
  O extends Observation = Observation,
  S extends State = State,
> {
  /** Starts a new episode and returns its first observation. */
  abstract reset(options?: ResetOptions): MaybePromise<O>;
  /** Applies an action and returns what followed. */
  abstract step(action: A, options?: StepOptions): MaybePromise<O>;
  /** The current state of the episode. */
  abstract get state(): S;
  /** Frees what the env holds; called once when its session ends. */
  close(): MaybePromise<void> {}
  /**
   * The env's MCP tools (see `defineTool`): listed and called with the
   * `list_tools` / `call_tool` step actions, MCP over `/mcp` and the `/ws`
   * `mcp` message, and `envtorch mcp` over stdio. Read once per session.
   * None by default.
   */
  get tools(): readonly Tool[] {
    return [];
  }
  /** What `GET /metadata` reports; override to describe the env. */
  get metadata(): EnvMetadata {
    const name = this.constructor.name;
    return { name, description: `${name} environment` };
  }
}

/** Makes a new env for a session. */
export type EnvFactory<E extends Environment = Environment> = () => MaybePromise<E>;

const readmes = new Map<string, string | undefined>();

/**
 * The `README.md` beside an env's module, for `metadata.readme_content`;
 * read once. Undefined where it cannot be read (no file, no permission, a
 * remote import).
 *
 * @example
 * ```ts
 * import { readmeBeside } from "./environment.ts";
 * const readme = readmeBeside(new URL("../envs/echo/environment.ts", import.meta.url));
 * console.log(readme?.startsWith("# echo")); // true
 * ```
 */
export function readmeBeside(moduleUrl: string | URL): string | undefined {
  const url = new URL("./README.md", moduleUrl).href;
  if (!readmes.has(url)) {
    let text: string | undefined;
    try {
      text = url.startsWith("file:") ? Deno.readTextFileSync(new URL(url)) || undefined : undefined;
    } catch {
      text = undefined;
    }
    readmes.set(url, text);
  }
  return readmes.get(url);
}
