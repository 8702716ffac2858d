/**
 * envtorch: isolated execution environments for agentic RL, with a
 * Gymnasium-style API (`reset`, `step`, `state`) over HTTP and WebSocket.
 *
 * Drive a bundled env with no Docker, in a child process:
 *
 * ```ts
 * import { EchoEnv } from "./mod.ts";
 *
 * await using env = await EchoEnv.fromProcess();
 * const first = await env.reset({ seed: 7 });
 * console.log(first.observation.echoed_message); // Echo environment ready!
 * const result = await env.step({ message: "Hello, World!" });
 * console.log(result.observation.echoed_message); // Hello, World!
 * console.log(result.reward); // 1.3
 * const state = await env.state();
 * console.log(state.step_count); // 1
 * ```
 *
 * Build your own by extending {@link Environment} with zod models made from
 * {@link Action}, {@link Observation} and {@link State}, then serve it with
 * {@link createApp} and {@link serve}.
 *
 * @module
 */
export {
  Action,
  type ActionSchema,
  type EnvModels,
  jsonSchemas,
  Metadata,
  Observation,
  type ObservationSchema,
  ResetOptions,
  Reward,
  serializeObservation,
  SESSION_HEADER,
  State,
  type StateSchema,
  type StepResult,
  type WireStepResult,
} from "./core/models.ts";
export {
  type EnvFactory,
  Environment,
  type EnvMetadata,
  type MaybePromise,
  readmeBeside,
  type StepOptions,
} from "./core/environment.ts";
export {
  asEnvTorchError,
  CapacityError,
  ConnectionError,
  EnvTorchError,
  type ErrorCode,
  errorFromHttp,
  errorFromWire,
  ExecutionError,
  FactoryError,
  InvalidJsonError,
  PayloadTooLargeError,
  SessionError,
  TimeoutError,
  UnknownTypeError,
  ValidationError,
  type ValidationIssue,
} from "./core/errors.ts";
export {
  type AppOptions,
  createApp,
  EnvApp,
  type ListenOptions,
  type RunningServer,
  serve,
} from "./core/server.ts";
export { Session, SessionManager, type SessionManagerOptions } from "./core/sessions.ts";
export {
  type ClientOptions,
  GenericEnvClient,
  GenericObservation,
  HTTPEnvClient,
  type JsonObject,
  type RequestOptions,
  type ResetCallOptions,
  type ServerHandle,
  type StepCallOptions,
} from "./core/client.ts";
export {
  type CallOptions,
  type ClientRequest,
  HttpTransport,
  InProcessTransport,
  parseBaseUrl,
  type Transport,
  type TransportReply,
  WebSocketTransport,
} from "./core/transport.ts";
export { defineEnv, type EnvManifest } from "./core/manifest.ts";
export {
  type CallEntry,
  CallRecord,
  EpisodeRecorder,
  parseRecording,
  readRecording,
  type RecorderOptions,
  type Recording,
  RecordingFormatError,
  RecordingHeader,
  RecordingTransport,
} from "./core/recording.ts";
export {
  DEFAULT_IGNORED_FIELDS,
  type Divergence,
  type ReplayOptions,
  replayRecording,
  type ReplayReport,
} from "./core/replay.ts";
export {
  type CheckResult,
  type CheckStatus,
  type ValidateOptions,
  validateServer,
  type ValidationReport,
} from "./core/validate.ts";
export { checkSchema, type JsonSchema, type SchemaIssue } from "./core/json_schema.ts";
export { invalidFromSchema, sampleFromSchema } from "./core/schema_samples.ts";
export { type Difference, firstDifference, pathMatcher } from "./core/json_diff.ts";
export { Metrics, STEP_BUCKETS } from "./core/metrics.ts";
export {
  type AutoresetMode,
  VectorEnv,
  type VectorEnvOptions,
  type VectorOutcome,
  type VectorResetOptions,
  type VectorResult,
} from "./core/vector_env.ts";
export { EnvClient, type ProvidedClientOptions } from "./providers/env_client.ts";
export { type ProcessOptions, type ProcessServer, startProcess } from "./providers/process.ts";
export { EnvPool, type EnvPoolOptions, type PoolStats } from "./providers/pool.ts";
export { waitForHealth, type WaitForHealthOptions } from "./providers/health.ts";
export { getEnv, listEnvs, UnknownEnvError } from "./envs/registry.ts";
export {
  EchoAction,
  EchoEnv,
  EchoEnvironment,
  echoModels,
  EchoObservation,
  EchoState,
} from "./envs/echo/mod.ts";
export {
  ContainerStartError,
  DockerConflictError,
  DockerContainer,
  DockerEngine,
  type DockerEngineOptions,
  DockerError,
  DockerNotFoundError,
  type DockerStartOptions,
  EngineUnreachableError,
  HardeningError,
  type HardeningOptions,
  ImageBuildError,
  ImageNotFoundError,
  LocalDockerProvider,
  type LocalDockerProviderOptions,
  type ManagedContainer,
  reapContainers,
  type ReapedContainer,
} from "./providers/docker/mod.ts";
export {
  CodeAction,
  CodeObservation,
  CodeResetOptions,
  CodeState,
  CodeTask,
  CodingEnv,
  CodingEnvironment,
  type CodingEnvironmentOptions,
  codingModels,
  defaultRubric,
  type ExecResult,
  ExecutorClosedError,
  type ExecutorOptions,
  type Isolation,
  PythonExecutor,
  type Rubric,
  type RubricInput,
  type RubricOutput,
  type RunOptions as CodeRunOptions,
  type TestResult as CodeTestResult,
  type TestRun as CodeTestRun,
  UidPool,
  UidPoolExhaustedError,
  type UidPoolOptions,
  type UidRange,
  WorkerBusyError,
  WorkerProtocolError,
  WorkerStartError,
  type WorkerUser,
} from "./envs/coding/mod.ts";
