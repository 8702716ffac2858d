/**
 * The coding env: each step runs Python code in a persistent, locked-down
 * interpreter (see executor.ts); reset gives a fresh interpreter and a fresh
 * folder, and may set a task whose tests decide the reward: the grader
 * (grader.ts) runs them outside the agent's reach, and a rubric (rubric.ts)
 * turns the observation into the reward.
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
import { evaluate, resetRubric, type RubricLike } from "../../protocol/rubric.ts";
import { type ExecutorOptions, PythonExecutor } from "./executor.ts";
import { Grader, type TestRun } from "./grader.ts";
import {
  type CodeAction,
  type CodeObservation,
  CodeResetOptions,
  type CodeState,
  type CodeTask,
  MAX_STEP_TIMEOUT_S,
} from "./models.ts";
import { type CodingRubricInput, defaultRubric } from "./rubric.ts";
import { defineTool, type Tool, ToolOutcome } from "../../protocol/tools.ts";
import { z } from "npm:zod@4.6.7";

/** Options of a {@link CodingEnvironment}: the executor's, plus the reward. */
export interface CodingEnvironmentOptions extends ExecutorOptions {
  /**
   * Scores each step from its action and observation; its parts go to
   * `metadata.rubric`.
   * @default defaultRubric() (0 / -1 without a task; fraction of tests passing with one)
   */
  rubric?: RubricLike<CodingRubricInput>;
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
  /**
   * Seconds one call of the agent's code by a test may take; past it the call
   * fails (and with it the test), not the episode.
   * @default 2
   */
  callTimeoutS?: number;
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
  #rubric: RubricLike<CodingRubricInput>;
  #executor?: Promise<PythonExecutor>;
  #grader?: Promise<Grader>;
  #task?: CodeTask;
  #state: CodeState = { episode_id: null, step_count: 0, last_exit_code: 0 };
  #closed = false;

  /** Creates the env; its worker starts at the first reset. */
  constructor(options: CodingEnvironmentOptions = {}) {
    super();
    this.#options = options;
    this.#rubric = options.rubric ?? defaultRubric();
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
    if (parsed.task) await this.#startGrader();
    resetRubric(this.#rubric);
    this.#state = {
      episode_id: parsed.episode_id ?? crypto.randomUUID(),
      step_count: 0,
      last_exit_code: 0,
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
      reward: 0,
      metadata: {
        work_dir: executor.workDir,
        python: executor.pythonVersion,
        isolation: executor.isolation,
        ...(parsed.task
          ? {
            prompt: parsed.task.prompt,
            tests: parsed.task.tests.length,
            hidden_tests: parsed.task.hidden_tests?.length ?? 0,
          }
          : {}),
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
    const task = this.#task;
    let tests: TestRun | undefined;
    if (task && !options.signal?.aborted) {
      const grader = await this.#startGrader();
      tests = await grader.grade([...task.tests, ...task.hidden_tests ?? []], {
        call: (name, args, kwargs, callOptions) => executor.call(name, args, kwargs, callOptions),
        timeoutS: this.#options.testTimeoutS ?? 5,
        callTimeoutS: this.#options.callTimeoutS ?? 2,
        signal: options.signal,
      });
    }
    this.#state.step_count++;
    this.#state.last_exit_code = result.exit_code;
    const metadata: Record<string, unknown> = {
      signal: result.signal,
      processes_killed: result.processes_killed,
      threads: result.threads,
      notes: result.notes,
    };
    let done = false;
    if (task && tests) {
      const shown = task.tests.length;
      const passed = tests.results.filter((t) => t.passed).length;
      const hidden = tests.results.slice(shown);
      metadata.tests = {
        passed,
        total: tests.results.length,
        results: tests.results.slice(0, shown),
        ...(hidden.length
          ? { hidden: { passed: hidden.filter((t) => t.passed).length, total: hidden.length } }
          : {}),
        timed_out: tests.timed_out,
      };
      done = passed === tests.results.length;
    }
    const observation: CodeObservation = {
      stdout: result.stdout,
      stderr: result.stderr,
      exit_code: result.exit_code,
      timed_out: result.timed_out,
      truncated: result.truncated,
      state_lost: result.state_lost || (tests?.state_lost ?? false),
      duration_ms: result.duration_ms,
      done,
      reward: null,
      metadata,
    };
    const score = await evaluate(this.#rubric, {
      action,
      observation,
      step: this.#state.step_count,
      done,
    });
    return { ...observation, reward: score.value, metadata: { ...metadata, rubric: score.parts } };
  }

  #startGrader(): Promise<Grader> {
    if (!this.#grader) {
      this.#grader = Grader.start({
        python: this.#options.python,
        startTimeoutS: this.#options.startTimeoutS,
      });
      this.#grader.catch(() => (this.#grader = undefined));
    }
    return this.#grader;
  }

  /**
   * The step as an MCP tool, `run_python`: runs code in the episode's
   * interpreter (starting an episode first if none is running) and returns
   * stdout, stderr, exit code and the rest of the observation; as a step
   * action the call carries the step's reward.
   */
  override get tools(): readonly Tool[] {
    return [
      defineTool({
        name: "run_python",
        description:
          "Run Python code in the episode's persistent interpreter; variables, functions " +
          "and imports stay for the next call. A trailing expression's repr is printed.",
        input: z.strictObject({
          code: z.string().describe("Python source to run"),
          timeout_s: z.number().positive().max(MAX_STEP_TIMEOUT_S).optional()
            .describe("Seconds the code may run"),
        }),
        handler: async ({ code, timeout_s }, options) => {
          if (!this.#executor) await this.reset();
          const { done, reward, metadata, ...result } = await this.step(
            { code, timeout_s },
            options,
          );
          return new ToolOutcome(result, { reward, done, metadata });
        },
      }),
    ];
  }

  /** Episode id, step count and the last exit code. */
  get state(): CodeState {
    return { ...this.#state };
  }

  /** Kills the worker and removes the session's files. */
  override async close(): Promise<void> {
    this.#closed = true;
    const [executor, grader] = await Promise.all([
      this.#executor?.catch(() => undefined),
      this.#grader?.catch(() => undefined),
    ]);
    this.#executor = undefined;
    this.#grader = undefined;
    await Promise.all([executor?.close(), grader?.close()]);
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
