/**
 * The wire protocol: zod models, errors and their wire codes, the
 * `Environment` base class, env manifests, the `Provider` interface and the
 * one cancellation helper (`withDeadline`, `delay`). Server, client and
 * providers all build on this module; it depends on nothing else.
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
} from "./models.ts";
export {
  type EnvFactory,
  Environment,
  type EnvMetadata,
  type MaybePromise,
  readmeBeside,
  type StepOptions,
} from "./environment.ts";
export {
  type AccessCode,
  AccessError,
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
  type WireError,
} from "./errors.ts";
export { defineEnv, type EnvManifest } from "./manifest.ts";
export {
  CallToolAction,
  type CallToolResult,
  defineTool,
  describeTools,
  ListToolsAction,
  type Tool,
  ToolCallError,
  type ToolCallOptions,
  type ToolErrorType,
  type ToolInfo,
  ToolOutcome,
} from "./tools.ts";
export type { Provider, ProviderStartOptions, ServerHandle } from "./provider.ts";
export {
  type Cancellation,
  type DeadlineOptions,
  delay,
  type DelayOptions,
  withDeadline,
} from "./deadline.ts";
export {
  allOf,
  applyRubric,
  atEpisodeEnd,
  type EpisodeEndOptions,
  evaluate as evaluateRubric,
  gate,
  type LeafOptions,
  resetRubric,
  type Rubric,
  rubric,
  type RubricInput,
  type RubricLike,
  type Score,
  type ThresholdOptions,
  toRubric,
  trajectory,
  type WeightedPart,
  weightedSum,
} from "./rubric.ts";
