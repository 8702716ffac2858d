/**
 * MCP over the env server, as OpenEnv's `http_server.py` serves it: JSON-RPC
 * 2.0 `tools/list` and `tools/call`, plus `openenv/session/create` and
 * `openenv/session/close` for a stateful session over HTTP. The same handler
 * answers `POST /mcp`, each message of WebSocket `/mcp`, and the `/ws`
 * `{"type": "mcp"}` message (inside that socket's session).
 *
 * OpenEnv's dialect has no `initialize` handshake and answers `tools/call`
 * with FastMCP's snake_case `CallToolResult`, so the MCP SDK's server
 * transports (which require the handshake) cannot serve it; the envelope is
 * checked here against the SDK's own `JSONRPCRequestSchema` and error codes.
 * Standard MCP clients use `envtorch mcp <env>` (stdio, see `mcp_stdio.ts`).
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { ErrorCode } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import { CapacityError, EnvTorchError, FactoryError } from "../protocol/errors.ts";
import { describeTools, ToolCallError } from "../protocol/tools.ts";
import type { Session, SessionManager } from "./sessions.ts";

/** A JSON-RPC 2.0 id. */
export type JsonRpcId = string | number | null;

/** A JSON-RPC 2.0 response: `result` or `error`. */
export type JsonRpcResponse =
  | { jsonrpc: "2.0"; id: JsonRpcId; result: unknown }
  | { jsonrpc: "2.0"; id: JsonRpcId; error: { code: number; message: string; data: unknown } };

/** The generic server error code OpenEnv uses for capacity and factory failures. */
export const SERVER_ERROR = -32000;

/** OpenEnv's `JsonRpcRequest`: params default to `{}`, the id may be left out. */
const Request = z.strictObject({
  jsonrpc: z.literal("2.0"),
  method: z.string(),
  params: z.unknown().optional(),
  id: z.union([z.string(), z.number().int()]).nullable().optional(),
});

/** Where a request runs. */
export interface McpContext {
  /** The server's sessions (for `session_id` and the session methods). */
  sessions?: SessionManager;
  /** The session of the connection the request came on (WebSocket), if any. */
  session?: Session;
}

/** Builds a success response. */
export function rpcResult(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: "2.0", id, result };
}

/** Builds an error response. */
export function rpcError(
  id: JsonRpcId,
  code: number,
  message: string,
  data: unknown = null,
): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error: { code, message, data } };
}

/** Parses JSON text: the value, or the parse error response to send. */
export function parseJsonRpc(
  text: string,
): { ok: true; value: unknown } | { ok: false; reply: JsonRpcResponse } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reply: rpcError(null, ErrorCode.ParseError, "Parse error") };
  }
}

/** Answers one JSON-RPC request (already parsed from JSON); never throws. */
export async function handleMcp(raw: unknown, ctx: McpContext): Promise<JsonRpcResponse> {
  const parsed = Request.safeParse(raw);
  if (!parsed.success) {
    const id = idOf(raw);
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return rpcError(id, ErrorCode.InvalidRequest, `Invalid request: ${issues.join("; ")}`);
  }
  const { method } = parsed.data;
  const id = parsed.data.id ?? null;
  const params = parsed.data.params ?? {};
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    return rpcError(id, ErrorCode.InvalidParams, "Params must be an object");
  }
  const p = params as Record<string, unknown>;
  try {
    switch (method) {
      case "openenv/session/create":
        return await createSession(id, ctx);
      case "openenv/session/close":
        return await closeSession(id, p, ctx);
      case "tools/list":
      case "tools/call":
        return await toolsMethod(method, id, p, ctx);
      default:
        return rpcError(id, ErrorCode.MethodNotFound, `Method not found: ${method}`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return rpcError(id, ErrorCode.InternalError, message);
  }
}

function idOf(raw: unknown): JsonRpcId {
  if (raw === null || typeof raw !== "object") return null;
  const id = (raw as Record<string, unknown>).id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

async function createSession(id: JsonRpcId, ctx: McpContext): Promise<JsonRpcResponse> {
  if (ctx.session) return rpcResult(id, { session_id: ctx.session.id });
  if (!ctx.sessions) return rpcError(id, ErrorCode.InternalError, "No sessions here");
  try {
    const session = await ctx.sessions.open("mcp");
    return rpcResult(id, { session_id: session.id });
  } catch (error) {
    return sessionOpenError(id, error);
  }
}

async function closeSession(
  id: JsonRpcId,
  params: Record<string, unknown>,
  ctx: McpContext,
): Promise<JsonRpcResponse> {
  const target = params.session_id;
  if (typeof target !== "string" || target === "") {
    return rpcError(id, ErrorCode.InvalidParams, "Invalid params - 'session_id' is required");
  }
  if (ctx.session && ctx.session.id === target) {
    return rpcError(
      id,
      ErrorCode.InvalidRequest,
      "Cannot close active WebSocket-managed session via MCP method",
    );
  }
  const session = ctx.sessions?.get(target);
  if (!session || session.kind === "ws") {
    return rpcError(id, ErrorCode.InvalidParams, `Unknown session_id: ${target}`);
  }
  await ctx.sessions!.close(target, "closed by the client");
  return rpcResult(id, { session_id: target, closed: true });
}

async function toolsMethod(
  method: "tools/list" | "tools/call",
  id: JsonRpcId,
  params: Record<string, unknown>,
  ctx: McpContext,
): Promise<JsonRpcResponse> {
  let session = ctx.session;
  const requested = params.session_id;
  if (!session && typeof requested === "string" && requested !== "") {
    session = ctx.sessions?.get(requested);
    if (!session || session.kind === "ws") {
      return rpcError(id, ErrorCode.InvalidParams, `Unknown session_id: ${requested}`);
    }
  }
  if (method === "tools/call" && (typeof params.name !== "string" || params.name === "")) {
    return rpcError(id, ErrorCode.InvalidParams, "Missing 'name' in params");
  }
  const name = params.name as string;
  const args = params.arguments ?? {};
  if (session) {
    if (session.tools.length === 0) {
      return rpcError(id, ErrorCode.InternalError, "Environment does not support MCP");
    }
    if (method === "tools/list") return rpcResult(id, { tools: mcpTools(session.listTools()) });
    return await answerCall(id, () => session.callTool(name, args));
  }
  // No session: a throwaway one, as OpenEnv's stateless /mcp does; it holds a
  // slot while it runs, so a flood of stateless calls meets the cap.
  if (!ctx.sessions) return rpcError(id, ErrorCode.InternalError, "No session for this request");
  let temp: Session;
  try {
    temp = await ctx.sessions.open("mcp");
  } catch (error) {
    return sessionOpenError(id, error);
  }
  try {
    return await toolsMethod(method, id, { ...params, session_id: undefined }, {
      sessions: ctx.sessions,
      session: temp,
    });
  } finally {
    await ctx.sessions.close(temp.id, "stateless MCP call done");
  }
}

function sessionOpenError(id: JsonRpcId, error: unknown): JsonRpcResponse {
  if (error instanceof CapacityError) {
    return rpcError(id, SERVER_ERROR, error.message, {
      active_sessions: error.activeSessions,
      max_sessions: error.maxSessions,
    });
  }
  if (error instanceof EnvTorchError) return rpcError(id, SERVER_ERROR, error.message);
  throw error;
}

/** Tools in MCP's `tools/list` shape (`inputSchema`), as OpenEnv's /mcp lists them. */
function mcpTools(tools: ReturnType<typeof describeTools>) {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: t.input_schema,
  }));
}

async function answerCall(id: JsonRpcId, call: () => Promise<unknown>): Promise<JsonRpcResponse> {
  try {
    return rpcResult(id, await call());
  } catch (error) {
    if (error instanceof ToolCallError) {
      const code = error.errorType === "tool_not_found" || error.errorType === "invalid_args"
        ? ErrorCode.InvalidParams
        : ErrorCode.InternalError;
      return rpcError(id, code, error.message, { error_type: error.errorType });
    }
    throw error;
  }
}

/** Serves MCP messages on one WebSocket `/mcp` connection, in its own session. */
export class McpSocket {
  /** The connection's session. */
  readonly session: Session;
  #ctx: McpContext;

  #maxBytes: number;

  /** Binds the handler to a session; `maxBytes` caps each message. */
  constructor(session: Session, sessions: SessionManager, maxBytes: number) {
    this.session = session;
    this.#ctx = { sessions, session };
    this.#maxBytes = maxBytes;
  }

  /** Handles one text frame; never throws. */
  async handle(data: unknown): Promise<{ reply: JsonRpcResponse }> {
    if (typeof data !== "string") {
      return { reply: rpcError(null, ErrorCode.ParseError, "Parse error: expected a text frame") };
    }
    if (data.length > this.#maxBytes) {
      const message = `Message is over the limit of ${this.#maxBytes} bytes`;
      return { reply: rpcError(null, ErrorCode.InvalidRequest, message) };
    }
    const parsed = parseJsonRpc(data);
    if (!parsed.ok) return { reply: parsed.reply };
    return { reply: await handleMcp(parsed.value, this.#ctx) };
  }
}

/** Opens the session of a new WebSocket `/mcp` connection, or gives the error to send. */
export async function openMcpSocket(
  sessions: SessionManager,
  maxBytes: number,
): Promise<McpSocket | EnvTorchError> {
  try {
    return new McpSocket(await sessions.open("ws"), sessions, maxBytes);
  } catch (error) {
    if (error instanceof EnvTorchError) return error;
    return new FactoryError(error instanceof Error ? error.message : String(error));
  }
}
