/**
 * The server side: the Hono app (`createApp`, `serve`), sessions, the
 * WebSocket wire session, metrics, the in-process transport, MCP (`/mcp`
 * and `envtorch mcp` over stdio) and the OpenAPI document.
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
export { handleMcp, type JsonRpcResponse, type McpContext } from "./mcp.ts";
export {
  createMcpServer,
  type EnvMcpServer,
  mcpServerFor,
  type McpServerOptions,
  serveMcpStdio,
} from "./mcp_stdio.ts";
export { isInitialize, MCP_SESSION_HEADER, StreamableMcp } from "./mcp_http.ts";
export { openApiDocument } from "./openapi.ts";
export { claimSocketPath, SocketInUseError } from "./unix_socket.ts";
