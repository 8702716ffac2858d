/**
 * The coding env: Python code in a persistent, locked-down worker. Models,
 * environment, client, manifest, the executor, and the reward rubric.
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
  type ExecResult,
  type ExecutorOptions,
  PythonExecutor,
  type RunOptions,
  type TestResult,
  type TestRun,
  type WorkerUser,
} from "./executor.ts";
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
export { defaultRubric, type Rubric, type RubricInput, type RubricOutput } from "./rubric.ts";
export { parseUidRange, UidPool, type UidPoolOptions, type UidRange } from "./uid_pool.ts";
