/**
 * The server side: the Hono app (`createApp`, `serve`), sessions, the
 * WebSocket wire session, metrics, and the in-process transport.
 *
 * @module
 */
export {
  type AppOptions,
  createApp,
  EnvApp,
  type ListenOptions,
  type RunningServer,
  serve,
} from "./app.ts";
export {
  FrontDoor,
  type FrontDoorOptions,
  hostnameOf,
  isLoopback,
  type WebSocketTicket,
} from "./front_door.ts";
export {
  Session,
  type SessionKind,
  SessionManager,
  type SessionManagerOptions,
  type SessionStepOptions,
} from "./sessions.ts";
export { Metrics, type SessionCounts, STEP_BUCKETS } from "./metrics.ts";
export { inProcess, InProcessTransport } from "./in_process.ts";
export { claimSocketPath, SocketInUseError } from "./unix_socket.ts";
