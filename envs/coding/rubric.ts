/**
 * The coding env's rubrics, built on the core ones (protocol/rubric.ts).
 * Each reads only the observation (and the action), so each runs on the
 * server or, just as well, on the trainer's side on what the client got.
 * None of them runs in the agent's interpreter: the tests' verdict in
 * `metadata.tests` comes from the grader (grader.ts), and stdout is compared
 * here, on the host.
 *
 * @module
 */
import { type Rubric, rubric, type RubricInput } from "../../protocol/rubric.ts";
import type { CodeAction, CodeObservation } from "./models.ts";

/** What a coding rubric scores: the action and the observation of one step. */
export type CodingRubricInput = RubricInput<CodeAction, CodeObservation>;

/** The tests' tally the coding env puts in `observation.metadata.tests`. */
export interface TestsTally {
  /** Tests that passed, hidden ones included. */
  passed: number;
  /** Tests run, hidden ones included. */
  total: number;
}

/** The tests' tally of an observation, if the step ran a task's tests. */
export function testsTally(observation: CodeObservation): TestsTally | undefined {
  const tests = observation.metadata?.tests as Partial<TestsTally> | undefined;
  if (!tests || typeof tests.passed !== "number" || typeof tests.total !== "number") {
    return undefined;
  }
  return { passed: tests.passed, total: tests.total };
}

/**
 * The fraction of the task's tests that pass (0 on a step without tests).
 *
 * @example
 * ```ts
 * import { evaluate } from "../../protocol/rubric.ts";
 * import { testsPassed } from "./rubric.ts";
 * const observation = {
 *   stdout: "", stderr: "", exit_code: 0, timed_out: false, truncated: false, state_lost: false,
 *   duration_ms: 1, done: false, reward: null, metadata: { tests: { passed: 1, total: 4 } },
 * };
 * const score = await evaluate(testsPassed(), { action: { code: "" }, observation, step: 1, done: false });
 * console.log(score.value); // 0.25
 * ```
 */
export function testsPassed(): Rubric<CodingRubricInput> {
  return rubric((input) => {
    const tally = testsTally(input.observation);
    return tally && tally.total > 0 ? tally.passed / tally.total : 0;
  });
}

/** 0 for a step that exits 0 in time, -1 for one that fails or times out. */
export function exitStatus(): Rubric<CodingRubricInput> {
  return rubric(({ observation: o }) => (o.exit_code === 0 && !o.timed_out ? 0 : -1));
}

/** Options of {@link outputMatches}. */
export interface OutputMatchOptions {
  /**
   * `exact`: byte for byte; `trim`: without leading and trailing whitespace;
   * `lines`: line by line, each without trailing whitespace, blank lines at
   * the end ignored.
   * @default "lines"
   */
  compare?: "exact" | "trim" | "lines";
}

/**
 * 1 when the step's stdout matches `expected`, else 0. What the program
 * prints is the agent's to choose: `print("42")` matches "42" as well as a
 * computation does, so pair this with tests or fresh inputs when that
 * matters.
 *
 * @example
 * ```ts
 * import { evaluate } from "../../protocol/rubric.ts";
 * import { outputMatches } from "./rubric.ts";
 * const observation = {
 *   stdout: "1\n2  \n\n", stderr: "", exit_code: 0, timed_out: false, truncated: false,
 *   state_lost: false, duration_ms: 1, done: false, reward: null, metadata: {},
 * };
 * const input = { action: { code: "" }, observation, step: 1, done: false };
 * console.log((await evaluate(outputMatches("1\n2\n"), input)).value); // 1
 * ```
 */
export function outputMatches(
  expected: string,
  options: OutputMatchOptions = {},
): Rubric<CodingRubricInput> {
  const compare = options.compare ?? "lines";
  const norm = compare === "exact"
    ? (s: string) => s
    : compare === "trim"
    ? (s: string) => s.trim()
    : (s: string) => s.split("\n").map((l) => l.trimEnd()).join("\n").replace(/\n+$/, "");
  const want = norm(expected);
  return rubric(({ observation: o }) => (!o.truncated && norm(o.stdout) === want ? 1 : 0));
}

/**
 * The default rubric: with a task, the fraction of its tests that pass after
 * the step (part `tests`); without one, 0 for a step that exits 0 and -1 for
 * one that fails or times out (part `exit`).
 */
export function defaultRubric(): Rubric<CodingRubricInput> {
  const tests = testsPassed();
  const exit = exitStatus();
  return {
    async score(input) {
      const withTests = testsTally(input.observation) !== undefined;
      const { value } = await (withTests ? tests : exit).score(input);
      return { value, parts: { [withTests ? "tests" : "exit"]: value } };
    },
  };
}
