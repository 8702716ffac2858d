/**
 * The client side: typed env clients, transports (WebSocket, HTTP),
 * recording, and the vector env. Importing it loads neither Hono nor any
 * provider.
 *
 * @module
 */
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
} from "./client.ts";
export {
  type CallOptions,
  type ClientRequest,
  type Endpoint,
  httpClientFor,
  HttpTransport,
  type NetworkTransportOptions,
  parseBaseUrl,
  type Transport,
  type TransportReply,
  WebSocketTransport,
} from "./transport.ts";
export {
  type CallCommon,
  type CallEntry,
  type CallError,
  CallRecord,
  EpisodeRecorder,
  parseRecording,
  readRecording,
  type RecorderOptions,
  type Recording,
  RECORDING_FORMAT,
  RecordingFormatError,
  RecordingHeader,
  RecordingTransport,
} from "./recording.ts";
export {
  type AutoresetMode,
  VectorEnv,
  type VectorEnvOptions,
  type VectorOutcome,
  type VectorResetOptions,
  type VectorResult,
} from "./vector_env.ts";
export {
  EnvClient,
  type EnvClientClass,
  type FromProviderOptions,
  type ProvidedClientOptions,
} from "./env_client.ts";
export { envToken, withToken } from "./token.ts";
// Types the signatures above name, so this module documents itself.
export type {
  Action,
  EnvModels,
  Metadata,
  Observation,
  ResetOptions,
  Reward,
  State,
  StepResult,
  WireStepResult,
} from "../protocol/models.ts";
export type { EnvTorchError, ErrorCode } from "../protocol/errors.ts";
export type { ProviderStartOptions } from "../protocol/provider.ts";
