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
 * This module is the everyday API. The rest is exported by path:
 * `./client` (transports, recording), `./server` (sessions, metrics),
 * `./protocol` (wire models, errors, deadlines), `./providers/process`,
 * `./providers/docker`, `./providers/kubernetes`, `./providers/pool`,
 * `./tools` (validate, replay, probe, load), `./envs/echo`, `./envs/coding`.
 *
 * @module
 */
export {
  Action,
  type ActionSchema,
  type EnvModels,
  Metadata,
  Observation,
  type ObservationSchema,
  ResetOptions,
  Reward,
  State,
  type StateSchema,
  type StepResult,
  type WireStepResult,
} from "./protocol/models.ts";
export {
  type EnvFactory,
  Environment,
  type EnvMetadata,
  type MaybePromise,
  type StepOptions,
} from "./protocol/environment.ts";
export {
  type AccessCode,
  AccessError,
  CapacityError,
  ConnectionError,
  EnvTorchError,
  type ErrorCode,
  ExecutionError,
  FactoryError,
  SessionError,
  TimeoutError,
  ValidationError,
  type ValidationIssue,
} from "./protocol/errors.ts";
export { defineEnv, type EnvManifest } from "./protocol/manifest.ts";
export { defineTool, type Tool, ToolOutcome } from "./protocol/tools.ts";
export type { Provider, ProviderStartOptions, ServerHandle } from "./protocol/provider.ts";
export {
  allOf,
  applyRubric,
  atEpisodeEnd,
  evaluate as evaluateRubric,
  gate,
  type Rubric,
  rubric,
  type RubricInput,
  type RubricLike,
  type Score,
  trajectory,
  weightedSum,
} from "./protocol/rubric.ts";
export {
  type AppOptions,
  createApp,
  type EnvApp,
  type ListenOptions,
  type RunningServer,
  serve,
} from "./server/app.ts";
export { inProcess } from "./server/in_process.ts";
export {
  type ClientOptions,
  GenericEnvClient,
  GenericObservation,
  HTTPEnvClient,
  type JsonObject,
  type RequestOptions,
  type ResetCallOptions,
  type StepCallOptions,
} from "./client/client.ts";
export type { CallOptions, ClientRequest, Transport, TransportReply } from "./client/transport.ts";
export { EnvClient, type ProvidedClientOptions } from "./client/env_client.ts";
export {
  type AutoresetMode,
  VectorEnv,
  type VectorEnvOptions,
  type VectorOutcome,
  type VectorResetOptions,
  type VectorResult,
} from "./client/vector_env.ts";
export { type AnyClient, EnvPool, type EnvPoolOptions, type PoolStats } from "./providers/pool.ts";
export {
  EchoAction,
  EchoEnv,
  EchoEnvironment,
  echoModels,
  EchoObservation,
  EchoState,
} from "./envs/echo/mod.ts";
export { CodingEnv } from "./envs/coding/client.ts";
export { CodeAction, CodeObservation, CodeState } from "./envs/coding/models.ts";
