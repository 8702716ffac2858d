/**
 * The env server: a Hono app with every HTTP route and the WebSocket `/ws`
 * session of docs/protocol.md, and {@link serve} to listen on TCP or a unix socket.
 *
 * @module
 */
import {
  type FileIdentity,
  fileIdentity,
  removeOwnSocket,
  SocketInUseError,
} from "./unix_socket.ts";
import { Hono } from "npm:hono@4.13.19";
import { z } from "npm:zod@4.6.7";
import type { EnvFactory, EnvMetadata } from "../protocol/environment.ts";
import {
  asEnvTorchError,
  CapacityError,
  EnvTorchError,
  InvalidJsonError,
  PayloadTooLargeError,
  SessionError,
  toHttpBody,
  ValidationError,
} from "../protocol/errors.ts";
import {
  type EnvModels,
  JsonObjectSchema,
  jsonSchemas,
  SESSION_HEADER,
} from "../protocol/models.ts";
import { FrontDoor, type FrontDoorOptions } from "./front_door.ts";
import { type Session, SessionManager } from "./sessions.ts";
import { errorMessage, openWireSession } from "./wire_session.ts";
import { handleMcp, type JsonRpcResponse, openMcpSocket, rpcError, SERVER_ERROR } from "./mcp.ts";
import { openApiDocument } from "./openapi.ts";
import { isInitialize, MCP_SESSION_HEADER, StreamableMcp } from "./mcp_http.ts";
import { swaggerUI } from "npm:@hono/swagger-ui@0.6.1";

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_PENDING_MESSAGES = 256;

/**
 * Options of {@link createApp}; the front door's (token, allowed origins and
 * hosts, WebSocket connection caps) are described in server/front_door.ts.
 */
export interface AppOptions extends FrontDoorOptions {
  /**
   * Most sessions open at once, HTTP and WebSocket together. Forced to 1
   * when `concurrentSessions` is false.
   * @default 64
   */
  maxSessions?: number;
  /**
   * Whether the env may run many sessions in one process.
   * @default true
   */
  concurrentSessions?: boolean;
  /**
   * Seconds without a call after which a session is closed; 0 disables.
   * @default 300
   */
  idleTimeoutS?: number;
  /**
   * Largest request body, in bytes.
   * @default 1048576
   */
  maxBodyBytes?: number;
  /**
   * Largest WebSocket message, in bytes.
   * @default 1048576
   */
  maxMessageBytes?: number;
  /**
   * When the server is full, how long a new session waits for a free slot
   * before CAPACITY_REACHED, in seconds; 0 refuses at once.
   * @default 0
   */
  admissionWaitS?: number;
  /** What `/metadata` reports; by default, read from a fresh env. */
  metadata?: EnvMetadata;
}

/** The app {@link createApp} returns: a Hono app that also owns its sessions. */
export class EnvApp extends Hono implements AsyncDisposable {
  /** The sessions of this app, HTTP and WebSocket alike. */
  sessions!: SessionManager;
  /** The checks every request passes first (token, Origin, Host, WebSocket caps). */
  frontDoor!: FrontDoor;
  /** The options in effect. */
  limits!: Required<Pick<AppOptions, "maxBodyBytes" | "maxMessageBytes">>;

  /** Closes every session and stops the idle reaper. */
  close(): Promise<void> {
    return this.sessions.closeAll();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const StepBody = z.strictObject({
  action: JsonObjectSchema,
  timeout_s: z.number().positive().max(86_400).optional(),
  request_id: z.string().max(255).optional(),
});

/**
 * Creates the Hono app of an env: `/health`, `/metadata`, `/schema`,
 * `/reset`, `/step`, `/state`, `DELETE /session` and the WebSocket `/ws`.
 *
 * @example
 * ```ts
 * import { createApp } from "../mod.ts";
 * import { EchoEnvironment, echoModels } from "../envs/echo/mod.ts";
 *
 * await using app = createApp(() => new EchoEnvironment(), echoModels);
 * const res = await app.request("/health");
 * console.log(await res.json()); // { status: "healthy" }
 * ```
 */
export function createApp(
  factory: EnvFactory,
  models: EnvModels,
  options: AppOptions = {},
): EnvApp {
  const concurrent = options.concurrentSessions ?? true;
  const app = new EnvApp();
  app.sessions = new SessionManager(factory, models, {
    maxSessions: concurrent ? options.maxSessions ?? 64 : 1,
    idleTimeoutS: options.idleTimeoutS ?? 300,
    admissionWaitS: options.admissionWaitS ?? 0,
  });
  app.limits = {
    maxBodyBytes: options.maxBodyBytes ?? 1 << 20,
    maxMessageBytes: options.maxMessageBytes ?? 1 << 20,
  };
  app.frontDoor = new FrontDoor(options, app.sessions.maxSessions);
  const sessions = app.sessions;
  const schemas = jsonSchemas(models);
  let metadata: Promise<EnvMetadata> | undefined = options.metadata
    ? Promise.resolve(options.metadata)
    : undefined;
  let defaultSessionId: string | undefined;
  let defaultOpening: Promise<Session> | undefined;

  /** The session a request names, the default one, or a new one. */
  async function sessionFor(header: string | undefined, route: string): Promise<Session> {
    if (header === undefined || header === "") {
      const existing = defaultSessionId ? sessions.get(defaultSessionId) : undefined;
      if (existing) return existing;
      // The implicit session does not hold a slot against the cap (see README).
      defaultOpening ??= sessions.open("http", undefined, { exempt: true }).then((s) => {
        defaultSessionId = s.id;
        return s;
      }).finally(() => (defaultOpening = undefined));
      return await defaultOpening;
    }
    if (header === "new") {
      if (route !== "reset") {
        throw new SessionError(`${SESSION_HEADER}: new is only valid on POST /reset`, {
          status: 400,
        });
      }
      return await sessions.open("http");
    }
    if (!SESSION_ID.test(header)) {
      throw new SessionError(
        `Malformed ${SESSION_HEADER} header: expected "new" or a session id`,
        { status: 400 },
      );
    }
    const session = sessions.get(header);
    if (!session || session.kind !== "http") {
      throw new SessionError(`Unknown session ${header}: it was closed, reaped or never existed`, {
        status: 404,
      });
    }
    return session;
  }

  app.onError((error, c) => {
    const e = error instanceof EnvTorchError ? error : asEnvTorchError(error, "Request failed");
    sessions.metrics.error(e.code);
    if (e instanceof CapacityError) c.header("Retry-After", "1");
    if (e instanceof InvalidJsonError) {
      // FastAPI's shape: 422 with a `detail` list, so OpenEnv's clients read it.
      const detail = [{ type: "json_invalid", loc: ["body"], msg: e.message }];
      return c.json({ detail, message: e.message, code: e.code }, 422);
    }
    return c.json(toHttpBody(e), e.status as 400);
  });
  app.notFound((c) => {
    const allowed = ROUTE_METHODS[c.req.path];
    if (allowed) {
      return c.json({ detail: "Method Not Allowed" }, 405, { allow: allowed.join(", ") });
    }
    return c.json({ detail: "Not Found" }, 404);
  });
  app.use("*", app.frontDoor.middleware());

  app.get("/health", (c) => c.json({ status: "healthy" }));

  app.get("/metadata", async (c) => {
    metadata ??= (async () => {
      const env = await factory();
      try {
        return env.metadata;
      } finally {
        await env.close();
      }
    })();
    try {
      return c.json(await metadata);
    } catch (error) {
      metadata = undefined;
      throw error;
    }
  });

  app.get("/schema", (c) => c.json(schemas));

  const openapi = openApiDocument(models);
  const streamable = new StreamableMcp(sessions, options.metadata?.name ?? "env");
  app.get("/openapi.json", (c) => c.json(openapi));
  app.get("/docs", swaggerUI({ url: "/openapi.json" }));

  app.post("/mcp", async (c) => {
    let raw: unknown;
    try {
      raw = await readJson(c.req.raw, app.limits.maxBodyBytes);
    } catch (error) {
      if (error instanceof InvalidJsonError) return c.json(rpcError(null, -32700, "Parse error"));
      throw error;
    }
    // A standard MCP client (initialize, then Mcp-Session-Id) goes to the SDK's transport.
    if (c.req.header(MCP_SESSION_HEADER) || isInitialize(raw)) {
      return await streamable.handle(c.req.raw, raw);
    }
    const reply: JsonRpcResponse = await handleMcp(raw, { sessions });
    return c.json(reply);
  });

  app.delete("/mcp", (c) => streamable.handle(c.req.raw));

  /**
   * Admits a WebSocket through the front door (connection caps), upgrades it,
   * opens its session with `open`, and closes a connection that stays silent
   * past the first-message deadline. `/ws` and `/mcp` differ only in `open`
   * and in how an error opening the session is sent.
   */
  const acceptSocket = (
    info: unknown,
    request: Request,
    open: () => Promise<SocketHandler | EnvTorchError>,
    openError: (error: EnvTorchError) => unknown,
  ): Response => {
    const ticket = app.frontDoor.admitWebSocket(info);
    if (ticket instanceof Response) return ticket;
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(request);
    } catch (error) {
      ticket.release();
      return Response.json(
        { detail: `Cannot upgrade to WebSocket: ${(error as Error).message}` },
        { status: 400 },
      );
    }
    const { socket, response } = upgraded;
    const opened = open();
    attachSocket(socket, opened, sessions, openError);
    // A connection silent past the deadline is closed and its session freed.
    ticket.watch(
      socket,
      () =>
        void closeOpened(opened, sessions, "closed: no message before the first-message deadline"),
    );
    return response;
  };

  app.get("/mcp", (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      if (c.req.header(MCP_SESSION_HEADER)) return streamable.handle(c.req.raw);
      return c.json({ detail: "Method Not Allowed" }, 405, { allow: "POST, DELETE" });
    }
    return acceptSocket(
      c.env,
      c.req.raw,
      () => openMcpSocket(sessions, app.limits.maxMessageBytes),
      (e) => rpcError(null, SERVER_ERROR, e.message),
    );
  });

  app.get("/metrics", (c) => {
    const text = sessions.metrics.render({
      active: sessions.countByKind(),
      max: sessions.maxSessions,
      waiting: sessions.waiting,
      opened: sessions.openedTotal,
      reaped: sessions.reapedTotal,
    });
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.post("/reset", async (c) => {
    const body = await readJson(c.req.raw, app.limits.maxBodyBytes, { allowEmpty: true });
    if (body !== undefined && (body === null || typeof body !== "object" || Array.isArray(body))) {
      throw new ValidationError("Invalid reset request: body must be a JSON object", [
        { loc: ["body"], msg: "Expected an object", type: "invalid_type" },
      ]);
    }
    const session = await sessionFor(c.req.header(SESSION_HEADER), "reset");
    // Set first: an error response still tells the client which session it has.
    c.header(SESSION_HEADER, session.id);
    return c.json(await session.reset(body ?? {}));
  });

  app.post("/step", async (c) => {
    const raw = await readJson(c.req.raw, app.limits.maxBodyBytes);
    const parsed = StepBody.safeParse(knownStepFields(raw));
    if (!parsed.success) {
      throw ValidationError.fromZod("step request", parsed.error, ["body"]);
    }
    const session = await sessionFor(c.req.header(SESSION_HEADER), "step");
    c.header(SESSION_HEADER, session.id);
    let result;
    try {
      result = await session.step(parsed.data.action, { timeoutS: parsed.data.timeout_s });
    } catch (error) {
      if (error instanceof ValidationError && error.status === 422) {
        // Point the locations at the action inside the body, as FastAPI does.
        const errors = error.errors.map((e) => ({ ...e, loc: ["body", "action", ...e.loc] }));
        throw new ValidationError(error.message, errors);
      }
      throw error;
    }
    return c.json(result);
  });

  app.get("/state", async (c) => {
    const session = await sessionFor(c.req.header(SESSION_HEADER), "state");
    c.header(SESSION_HEADER, session.id);
    const state = await session.state();
    return c.json(state);
  });

  app.delete("/session", async (c) => {
    const header = c.req.header(SESSION_HEADER);
    const session = await sessionFor(header, "close");
    await sessions.close(session.id, "closed by the client");
    return c.body(null, 204);
  });

  app.get("/ws", (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ detail: "Expected a WebSocket upgrade request" }, 426);
    }
    return acceptSocket(
      c.env,
      c.req.raw,
      () => openWireSession(sessions, app.limits.maxMessageBytes),
      errorMessage,
    );
  });

  return app;
}

/** Closes the session of a WebSocket connection, once it is open. */
async function closeOpened(
  opened: Promise<SocketHandler | EnvTorchError>,
  sessions: SessionManager,
  reason: string,
): Promise<void> {
  const result = await opened;
  if (!(result instanceof EnvTorchError)) await sessions.close(result.session.id, reason);
}

/** What serves one socket's messages: the `/ws` protocol or MCP on `/mcp`. */
interface SocketHandler {
  /** The socket's session. */
  session: Session;
  /** Handles one message; never throws. */
  handle(data: unknown): Promise<{ reply?: unknown; close?: boolean }>;
}

/** Routes with their methods, for 405 answers. */
const ROUTE_METHODS: Record<string, string[]> = {
  "/health": ["GET"],
  "/metadata": ["GET"],
  "/schema": ["GET"],
  "/metrics": ["GET"],
  "/openapi.json": ["GET"],
  "/docs": ["GET"],
  "/reset": ["POST"],
  "/step": ["POST"],
  "/state": ["GET"],
  "/session": ["DELETE"],
  "/ws": ["GET"],
  "/mcp": ["POST", "GET", "DELETE"],
};

/** Wires a server-side WebSocket to its session, in message order. */
function attachSocket(
  socket: WebSocket,
  opened: Promise<SocketHandler | EnvTorchError>,
  sessions: SessionManager,
  openError: (error: EnvTorchError) => unknown,
): void {
  let wire: SocketHandler | undefined;
  let chain: Promise<unknown> = opened;
  let pending = 0;
  const send = (message: unknown) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };
  const closeSocket = (code: number, reason: string) => {
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(code, reason.slice(0, 120));
    }
  };

  socket.onopen = () => {
    void opened.then((result) => {
      if (result instanceof EnvTorchError) {
        send(openError(result));
        closeSocket(1013, result.message);
        return;
      }
      wire = result;
      result.session.onClose((reason) => {
        closeSocket(reason.startsWith("idle") ? 4000 : 1001, `Session ${reason}`);
      });
      if (socket.readyState !== WebSocket.OPEN) void sessions.close(result.session.id, "gone");
    });
  };

  const handleOne = async (data: unknown) => {
    try {
      if (!wire) return;
      const { reply, close } = await wire.handle(data);
      if (reply) send(reply);
      if (close) closeSocket(1000, "Closed by the client");
    } finally {
      pending--;
    }
  };
  socket.onmessage = (event) => {
    if (++pending > MAX_PENDING_MESSAGES) {
      closeSocket(1008, `More than ${MAX_PENDING_MESSAGES} messages waiting for replies`);
      return;
    }
    // Nothing in flight: handle it now; otherwise after the messages before it.
    chain = pending === 1 && wire ? handleOne(event.data) : chain.then(() => handleOne(event.data));
  };

  socket.onclose = () => {
    void opened.then((result) => {
      if (!(result instanceof EnvTorchError)) {
        void sessions.close(result.session.id, "connection closed");
      }
    });
  };
  socket.onerror = () => {};
}

/**
 * The fields of a /step body envtorch reads; other top-level keys
 * (`trace_id`, ...) are ignored as OpenEnv does, and never copied.
 */
function knownStepFields(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const body = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ["action", "timeout_s", "request_id"]) {
    if (Object.hasOwn(body, key)) out[key] = body[key];
  }
  return out;
}

/** Options of {@link readJson}. */
interface ReadJsonOptions {
  /** An empty body gives `undefined` instead of an error. */
  allowEmpty?: boolean;
}

/**
 * Reads a request body as JSON, enforcing the size limit while streaming (a
 * lying or missing Content-Length changes nothing) and rejecting invalid UTF-8.
 */
export async function readJson(
  req: Request,
  maxBytes: number,
  options: ReadJsonOptions = {},
): Promise<unknown> {
  const tooLarge = () =>
    new PayloadTooLargeError(`Request body is over the limit of ${maxBytes} bytes`);
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel().catch(() => {});
          throw tooLarge();
        }
        chunks.push(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidJsonError("Request body is not valid UTF-8");
  }
  if (text.trim() === "") {
    if (options.allowEmpty) return undefined;
    throw new InvalidJsonError("Request body is empty: expected JSON");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError(`Request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Where {@link serve} listens: a TCP port, or a unix socket path. */
export type ListenOptions =
  | {
    /** TCP port; 0 picks a free one. */
    port: number;
    /**
     * Interface to bind.
     * @default "127.0.0.1"
     */
    hostname?: string;
    socket?: undefined;
  }
  | {
    /**
     * Path of a unix socket to listen on. It must not exist: call
     * `claimSocketPath()` (server/unix_socket.ts) first to remove a stale socket. On shutdown the
     * socket is removed only if it is still the one this server created.
     */
    socket: string;
    port?: undefined;
    hostname?: undefined;
  };

/** A listening server. */
export interface RunningServer extends AsyncDisposable {
  /** Where to reach it: `http://127.0.0.1:PORT` or `unix:/path/to.sock`. */
  baseUrl: string;
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
  /** Closes every session, then stops listening. */
  shutdown(): Promise<void>;
}

/**
 * Listens on TCP or a unix socket.
 *
 * @example
 * ```ts
 * import { createApp, serve } from "../mod.ts";
 * import { EchoEnvironment, echoModels } from "../envs/echo/mod.ts";
 *
 * const app = createApp(() => new EchoEnvironment(), echoModels);
 * await using server = serve(app, { port: 0 });
 * const res = await fetch(`${server.baseUrl}/health`);
 * console.log(await res.json()); // { status: "healthy" }
 * ```
 */
export function serve(app: EnvApp, options: ListenOptions): RunningServer {
  let server: Deno.HttpServer<Deno.NetAddr> | Deno.HttpServer<Deno.UnixAddr>;
  let baseUrl: string;
  let own: FileIdentity | undefined;
  if (options.socket !== undefined) {
    const listening = listenUnix(options.socket, app.fetch);
    server = listening.server;
    own = listening.own;
    baseUrl = `unix:${options.socket}`;
  } else {
    const hostname = options.hostname ?? "127.0.0.1";
    app.frontDoor.bindTo(hostname);
    const tcp = Deno.serve({ port: options.port, hostname, onListen: () => {} }, app.fetch);
    server = tcp;
    const host = hostname === "0.0.0.0"
      ? "127.0.0.1"
      : hostname.includes(":")
      ? `[${hostname}]`
      : hostname;
    baseUrl = `http://${host}:${tcp.addr.port}`;
  }
  app.sessions.metrics.startLagMonitor();
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      app.sessions.metrics.stopLagMonitor();
      await app.close();
      await server.shutdown();
      if (options.socket !== undefined) removeOwnSocket(options.socket, own);
    })();
  return {
    baseUrl,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * Listens on a unix socket at `path` without ever replacing what is there.
 * Deno unlinks a unix listener's path when it closes, whatever file is at the
 * path by then; so the server binds a private name next to `path` and
 * hard-links it into place (a link never overwrites: it fails if `path`
 * exists), then drops the private name. On close Deno unlinks only the private
 * name, long gone, and {@link removeOwnSocket} removes `path` only if it is
 * still this socket.
 */
function listenUnix(
  path: string,
  handler: Deno.ServeHandler<Deno.UnixAddr>,
): { server: Deno.HttpServer<Deno.UnixAddr>; own: FileIdentity | undefined } {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const temp = `${dir}/.${crypto.randomUUID().slice(0, 8)}.sock`;
  const server = Deno.serve({ path: temp, transport: "unix", onListen: () => {} }, handler);
  try {
    Deno.linkSync(temp, path);
  } catch (error) {
    void server.shutdown();
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    throw new SocketInUseError(
      path,
      `${path} exists: another server may be listening on it (claimSocketPath() removes a stale socket)`,
    );
  } finally {
    try {
      Deno.removeSync(temp);
    } catch {
      // Already gone.
    }
  }
  return { server, own: fileIdentity(path) };
}
