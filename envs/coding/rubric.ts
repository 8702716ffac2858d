/**
 * How the coding env turns a step into a reward: a rubric is a function the
 * env takes, so a trainer can plug in its own.
 *
 * @module
 */
import type { ExecResult, TestRun } from "./executor.ts";
import type { CodeAction, CodeTask } from "./models.ts";

/** What a rubric gets for one step. */
export interface RubricInput {
  /** The action the step ran. */
  action: CodeAction;
  /** What running it gave. */
  result: ExecResult;
  /** The episode's task, if reset gave one. */
  task?: CodeTask;
  /** The task's tests, run after the step (only with a task). */
  tests?: TestRun;
  /** Steps in the episode so far, this one included. */
  step: number;
}

/** A rubric's verdict: the reward, and whether the episode is over. */
export interface RubricOutput {
  /** The step's reward. */
  reward: number;
  /**
   * Whether the episode ends.
   * @default false
   */
  done?: boolean;
}

/** Scores one step; may be async. A bare number is a reward with `done: false`. */
export type Rubric = (input: RubricInput) => number | RubricOutput | Promise<number | RubricOutput>;

/**
 * The default rubric. Without a task: 0 for a step that exits 0, -1 for one
 * that fails or times out. With a task: the fraction of its tests that pass
 * after the step, and `done` once they all pass.
 *
 * @example
 * ```ts
 * import { defaultRubric } from "./rubric.ts";
 * const result = {
 *   stdout: "", stderr: "", exit_code: 0, timed_out: false, truncated: false,
 *   state_lost: false, duration_ms: 1, signal: null, processes_killed: 0, threads: 1, notes: [],
 * };
 * console.log(defaultRubric({ action: { code: "x = 1" }, result, step: 1 })); // { reward: 0, done: false }
 * ```
 */
export function defaultRubric(input: RubricInput): RubricOutput {
  const { result, tests } = input;
  if (tests) {
    const total = tests.results.length;
    const passed = tests.results.filter((t) => t.passed).length;
    return { reward: total ? passed / total : 0, done: total > 0 && passed === total };
  }
  const ok = result.exit_code === 0 && !result.timed_out;
  return { reward: ok ? 0 : -1, done: false };
}
