/**
 * The coding env: each step runs Python code in a persistent, locked-down
 * interpreter (see executor.ts); reset gives a fresh interpreter and a fresh
 * folder, and may set a task whose tests decide the reward (see rubric.ts).
 *
 * @module
 */
import {
  Environment,
  type EnvMetadata,
  readmeBeside,
  type StepOptions,
} from "../../protocol/environment.ts";
import { ExecutionError } from "../../protocol/errors.ts";
import type { ResetOptions } from "../../protocol/models.ts";
import { type ExecutorOptions, PythonExecutor, type TestRun } from "./executor.ts";
import {
  type CodeAction,
  type CodeObservation,
  CodeResetOptions,
  type CodeState,
  type CodeTask,
  MAX_STEP_TIMEOUT_S,
} from "./models.ts";
import { defaultRubric, type Rubric } from "./rubric.ts";

/** Options of a {@link CodingEnvironment}: the executor's, plus the reward. */
export interface CodingEnvironmentOptions extends ExecutorOptions {
  /**
   * Scores each step.
   * @default defaultRubric (0 / -1 without a task; fraction of tests passing with one)
   */
  rubric?: Rubric;
  /**
   * Largest timeout a step may ask for, in seconds.
   * @default 300
   */
  maxTimeoutS?: number;
  /**
   * Seconds all of a task's tests may take together after each step.
   * @default 5
   */
  testTimeoutS?: number;
}

/**
 * Runs Python code, one step at a time, in a persistent namespace.
 *
 * @example
 * ```ts
 * import { CodingEnvironment } from "./environment.ts";
 *
 * const env = new CodingEnvironment();
 * try {
 *   await env.reset({ task: { prompt: "Define add", tests: ["assert add(2, 3) == 5"] } });
 *   const obs = await env.step({ code: "def add(a, b):\n    return a + b" });
 *   console.log(obs.reward, obs.done); // 1 true
 * } finally {
 *   await env.close();
 * }
 * ```
 */
export class CodingEnvironment extends Environment<CodeAction, CodeObservation, CodeState> {
  #options: CodingEnvironmentOptions;
  #rubric: Rubric;
  #executor?: Promise<PythonExecutor>;
  #task?: CodeTask;
  #state: CodeState = { episode_id: null, step_count: 0, last_exit_code: null };
  #closed = false;

  /** Creates the env; its worker starts at the first reset. */
  constructor(options: CodingEnvironmentOptions = {}) {
    super();
    this.#options = options;
    this.#rubric = options.rubric ?? defaultRubric;
  }

  /** Starts an episode: a fresh interpreter, a fresh folder, and the task if one is given. */
  async reset(options: ResetOptions = {}): Promise<CodeObservation> {
    if (this.#closed) throw new ExecutionError("The coding env is closed");
    const parsed = CodeResetOptions.parse(options);
    const started = performance.now();
    let executor: PythonExecutor;
    if (this.#executor) {
      executor = await this.#executor;
      await executor.reset();
    } else {
      this.#executor = PythonExecutor.start(this.#options);
      this.#executor.catch(() => (this.#executor = undefined));
      executor = await this.#executor;
    }
    this.#task = parsed.task;
    this.#state = {
      episode_id: parsed.episode_id ?? crypto.randomUUID(),
      step_count: 0,
      last_exit_code: null,
    };
    return {
      stdout: "",
      stderr: "",
      exit_code: 0,
      timed_out: false,
      truncated: false,
      state_lost: false,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      done: false,
      reward: null,
      metadata: {
        work_dir: executor.workDir,
        python: executor.pythonVersion,
        isolation: executor.isolation,
        ...(parsed.task ? { prompt: parsed.task.prompt, tests: parsed.task.tests.length } : {}),
      },
    };
  }

  /** Runs the action's code, then the task's tests if any, and scores the step. */
  async step(action: CodeAction, options: StepOptions = {}): Promise<CodeObservation> {
    if (!this.#executor) throw new ExecutionError("Episode not started: call reset before step");
    const executor = await this.#executor;
    const maxTimeout = this.#options.maxTimeoutS ?? MAX_STEP_TIMEOUT_S;
    const timeoutS = Math.min(
      action.timeout_s ?? this.#options.timeoutS ?? 10,
      options.timeout_s ?? Infinity,
      maxTimeout,
    );
    const result = await executor.run(action.code, { timeoutS, signal: options.signal });
    let tests: TestRun | undefined;
    if (this.#task && !options.signal?.aborted) {
      tests = await executor.runTests(this.#task.tests, {
        timeoutS: this.#options.testTimeoutS ?? 5,
        signal: options.signal,
      });
    }
    this.#state.step_count++;
    this.#state.last_exit_code = result.exit_code;
    const verdict = await this.#rubric({
      action,
      result,
      task: this.#task,
      tests,
      step: this.#state.step_count,
    });
    const { reward, done } = typeof verdict === "number"
      ? { reward: verdict, done: false }
      : verdict;
    const metadata: Record<string, unknown> = {
      signal: result.signal,
      processes_killed: result.processes_killed,
      threads: result.threads,
      notes: result.notes,
    };
    if (tests) {
      metadata.tests = {
        passed: tests.results.filter((t) => t.passed).length,
        total: tests.results.length,
        results: tests.results,
        timed_out: tests.timed_out,
      };
    }
    return {
      stdout: result.stdout,
      stderr: result.stderr,
      exit_code: result.exit_code,
      timed_out: result.timed_out,
      truncated: result.truncated,
      state_lost: result.state_lost || (tests?.state_lost ?? false),
      duration_ms: result.duration_ms,
      done: done ?? false,
      reward,
      metadata,
    };
  }

  /** Episode id, step count and the last exit code. */
  get state(): CodeState {
    return { ...this.#state };
  }

  /** Kills the worker and removes the session's files. */
  override async close(): Promise<void> {
    this.#closed = true;
    const executor = await this.#executor?.catch(() => undefined);
    this.#executor = undefined;
    await executor?.close();
  }

  /** Name, description, version and README of the env. */
  override get metadata(): EnvMetadata {
    return {
      name: "coding",
      description: "Runs Python code in a persistent, locked-down interpreter",
      version: "0.1.0",
      readme_content: readmeBeside(import.meta.url),
    };
  }
}
