/**
 * The coding env: Python code in a persistent, locked-down worker. Models,
 * environment, client, manifest, the executor, the grader, and the rubrics.
 *
 * @module
 */
export { CodingEnv } from "./client.ts";
export { CodingEnvironment, type CodingEnvironmentOptions } from "./environment.ts";
export {
  ExecutorClosedError,
  UidPoolExhaustedError,
  WorkerBusyError,
  WorkerProtocolError,
  WorkerStartError,
} from "./errors.ts";
export {
  type CallOptions,
  type CallReply,
  type ExecResult,
  type ExecutorOptions,
  PythonExecutor,
  type RunOptions,
  type WorkerUser,
} from "./executor.ts";
export {
  type CallRelay,
  type GradeOptions,
  Grader,
  type GraderOptions,
  type TestResult,
  type TestRun,
} from "./grader.ts";
export { type Isolation } from "./isolation.ts";
export { manifest } from "./manifest.ts";
export {
  CodeAction,
  CodeObservation,
  CodeResetOptions,
  CodeState,
  CodeTask,
  codingModels,
  MAX_STEP_TIMEOUT_S,
} from "./models.ts";
export { processesOfUid, type ProcessInfo } from "./procfs.ts";
export {
  type CodingRubricInput,
  defaultRubric,
  exitStatus,
  outputMatches,
  type OutputMatchOptions,
  testsPassed,
  type TestsTally,
  testsTally,
} from "./rubric.ts";
export { parseUidRange, UidPool, type UidPoolOptions, type UidRange } from "./uid_pool.ts";
