/**
 * Models of the coding env: an action carries Python code, an observation
 * what running it gave, and reset may set a task whose tests decide the
 * reward.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import {
  Action,
  type ActionSchema,
  type EnvModels,
  Observation,
  type ObservationSchema,
  ResetOptions,
  State,
  type StateSchema,
} from "../../protocol/models.ts";

/** Largest per-step timeout an action may ask for, in seconds. */
export const MAX_STEP_TIMEOUT_S = 300;

/** Run Python code in the episode's persistent interpreter. */
export const CodeAction: ActionSchema<{
  code: z.ZodString;
  timeout_s: z.ZodOptional<z.ZodNumber>;
}> = Action.extend({
  /** Python source; a trailing expression's repr is printed, as in a REPL. */
  code: z.string(),
  /** Seconds this step may run (the env's default if absent). */
  timeout_s: z.number().positive().max(MAX_STEP_TIMEOUT_S).optional(),
});
/** A coding action. */
export type CodeAction = z.infer<typeof CodeAction>;

/**
 * What running the code gave. On the wire `timed_out`, `truncated`,
 * `state_lost` and `duration_ms` travel inside `metadata` (OpenEnv's
 * `CodeObservation` forbids other fields); the TypeScript client lifts them
 * back, and they default to false / 0 when a server (OpenEnv's) does not send them.
 */
export const CodeObservation: ObservationSchema<{
  stdout: z.ZodDefault<z.ZodString>;
  stderr: z.ZodDefault<z.ZodString>;
  exit_code: z.ZodDefault<z.ZodNumber>;
  timed_out: z.ZodDefault<z.ZodBoolean>;
  truncated: z.ZodDefault<z.ZodBoolean>;
  state_lost: z.ZodDefault<z.ZodBoolean>;
  duration_ms: z.ZodDefault<z.ZodNumber>;
}> = Observation.extend({
  /** What the code wrote to stdout, cut at the env's cap; invalid UTF-8 replaced. */
  stdout: z.string().default(""),
  /** What the code wrote to stderr, tracebacks included. */
  stderr: z.string().default(""),
  /** 0, 1 for an uncaught exception, n for SystemExit(n), -N when killed by signal N. */
  exit_code: z.number().int().default(0),
  /** The step ran out of time. */
  timed_out: z.boolean().default(false),
  /** stdout or stderr was cut. */
  truncated: z.boolean().default(false),
  /** The interpreter was replaced: variables, functions and imports are gone (files stay). */
  state_lost: z.boolean().default(false),
  /** Wall-clock time of the step, in milliseconds. */
  duration_ms: z.number().min(0).default(0),
});
/** A coding observation. */
export type CodeObservation = z.infer<typeof CodeObservation>;

/** Episode id, step count and the last step's exit code (0 before the first step, as in OpenEnv). */
export const CodeState: StateSchema<{
  last_exit_code: z.ZodDefault<z.ZodNumber>;
}> = State.extend({
  last_exit_code: z.number().int().default(0),
});
/** The coding env's state. */
export type CodeState = z.infer<typeof CodeState>;

/** A task: what to ask for, and Python tests (usually asserts) that decide the reward. */
export const CodeTask: z.ZodObject<
  {
    prompt: z.ZodString;
    tests: z.ZodArray<z.ZodString>;
    hidden_tests: z.ZodOptional<z.ZodArray<z.ZodString>>;
  },
  z.core.$strict
> = z.strictObject({
  /** The task's statement, shown in the reset observation's metadata. */
  prompt: z.string().max(100_000),
  /**
   * Python snippets run by the grader, outside the agent's reach; each passes
   * if it runs without an exception. A name a test does not define is looked
   * up in the agent's namespace: functions are called with plain data, values
   * are copied as plain data.
   */
  tests: z.array(z.string().max(100_000)).min(1).max(100),
  /**
   * Tests graded like `tests` but reported only as a count: neither their
   * source nor their errors reach the observation.
   */
  hidden_tests: z.array(z.string().max(100_000)).max(100).optional(),
});
/** A coding task. */
export type CodeTask = z.infer<typeof CodeTask>;

/** Reset options: the protocol's, plus an optional task. */
export const CodeResetOptions: z.ZodObject<
  typeof ResetOptions.shape & { task: z.ZodOptional<typeof CodeTask> },
  z.core.$loose
> = ResetOptions.extend({
  task: CodeTask.optional(),
});
/** Reset options of the coding env. */
export type CodeResetOptions = z.infer<typeof CodeResetOptions>;

/** Observation fields that travel inside `metadata` on the wire. */
export const CODE_METADATA_FIELDS: readonly string[] = [
  "timed_out",
  "truncated",
  "state_lost",
  "duration_ms",
];

/** The coding env's models, for the server and the client. */
export const codingModels: EnvModels = {
  action: CodeAction,
  observation: CodeObservation,
  state: CodeState,
  resetOptions: CodeResetOptions,
  wireMetadataFields: CODE_METADATA_FIELDS,
};
