/**
 * Standard MCP over HTTP on `/mcp` (the official SDK's Streamable HTTP
 * transport, web-standard flavour), beside OpenEnv's dialect on the same
 * route: a request that starts with `initialize`, or carries an
 * `Mcp-Session-Id` header, is a standard MCP client's and goes to the SDK;
 * everything else is OpenEnv's (see `mcp.ts`). Each MCP session is an
 * envtorch session (kind `mcp`): it counts against the cap, is reaped when
 * idle, and ends with `DELETE /mcp`.
 *
 * @module
 */
import { WebStandardStreamableHTTPServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp.js";
import { ErrorCode } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import type { McpServer } from "npm:@modelcontextprotocol/sdk@1.32.2/server/mcp.js";
import { CapacityError, EnvTorchError } from "../protocol/errors.ts";
import { mcpServerFor } from "./mcp_stdio.ts";
import type { SessionManager } from "./sessions.ts";
import { rpcError, SERVER_ERROR } from "./mcp.ts";

/** Header of a Streamable HTTP MCP session. */
export const MCP_SESSION_HEADER = "mcp-session-id";

interface Entry {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
}

/** Whether a parsed JSON-RPC body starts a standard MCP session. */
export function isInitialize(body: unknown): boolean {
  const first = Array.isArray(body) ? body[0] : body;
  return first !== null && typeof first === "object" &&
    (first as Record<string, unknown>).method === "initialize";
}

/** The Streamable HTTP MCP sessions of one app. */
export class StreamableMcp implements AsyncDisposable {
  #sessions: SessionManager;
  #envName: string;
  #entries = new Map<string, Entry>();

  /** Serves MCP sessions backed by `sessions`; `envName` names the server. */
  constructor(sessions: SessionManager, envName: string) {
    this.#sessions = sessions;
    this.#envName = envName;
  }

  /** Handles a request of a standard MCP client; `parsedBody` is the POST body already read. */
  async handle(req: Request, parsedBody?: unknown): Promise<Response> {
    const id = req.headers.get(MCP_SESSION_HEADER);
    if (id) {
      const entry = this.#entries.get(id);
      if (!entry) {
        return Response.json(
          rpcError(null, ErrorCode.ConnectionClosed, `Unknown MCP session ${id}: closed or reaped`),
          { status: 404 },
        );
      }
      return await entry.transport.handleRequest(req, { parsedBody });
    }
    if (req.method !== "POST" || !isInitialize(parsedBody)) {
      return Response.json(
        rpcError(null, ErrorCode.InvalidRequest, "Bad request: no MCP session; send initialize"),
        { status: 400 },
      );
    }
    let session;
    try {
      session = await this.#sessions.open("mcp");
    } catch (error) {
      if (error instanceof CapacityError) {
        return Response.json(
          rpcError(null, SERVER_ERROR, error.message, {
            active_sessions: error.activeSessions,
            max_sessions: error.maxSessions,
          }),
          { status: 503, headers: { "retry-after": "1" } },
        );
      }
      if (error instanceof EnvTorchError) {
        return Response.json(rpcError(null, SERVER_ERROR, error.message), { status: 500 });
      }
      throw error;
    }
    const server = mcpServerFor(session, this.#envName);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => session.id,
      enableJsonResponse: true,
      onsessionclosed: (closed: string) =>
        void this.#sessions.close(closed, "closed by the MCP client"),
    });
    this.#entries.set(session.id, { transport, server });
    session.onClose(() => {
      this.#entries.delete(session.id);
      void server.close().catch(() => {});
    });
    await server.connect(transport);
    return await transport.handleRequest(req, { parsedBody });
  }

  /** Closes every MCP transport (their sessions close with the app). */
  async close(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((e) => e.server.close().catch(() => {})));
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
