/**
 * The three ways a test reaches a server — in-process, TCP, unix socket —
 * behind one interface, so one conformance suite runs against each.
 *
 * @module
 */
import {
  type AppOptions,
  type ClientOptions,
  createApp,
  type EnvApp,
  type EnvFactory,
  type EnvModels,
  inProcess,
  serve,
} from "../../mod.ts";
import { openWireSession } from "../../server/wire_session.ts";
import { httpClientFor, parseBaseUrl } from "../../client/transport.ts";
import { Probe } from "../../tools/probe.ts";

/** A WebSocket connection seen as raw messages. */
export interface RawWs {
  /** Sends a text (string) or binary (bytes) frame. */
  send(data: string | Uint8Array): void;
  /** The next message, parsed; rejects if none comes within `timeoutMs`. */
  next(timeoutMs?: number): Promise<{ type: string; data: Record<string, unknown> }>;
  /** Resolves with the close code and reason once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** Closes from the client side. */
  close(): void;
}

/** A server under test. */
export interface Target extends AsyncDisposable {
  /** The app behind it. */
  app: EnvApp;
  /** Makes a raw HTTP request. */
  http(path: string, init?: RequestInit): Promise<Response>;
  /** Opens a raw WebSocket session. */
  ws(): Promise<RawWs>;
  /** Options for a typed client over `transport`. */
  client(transport: "websocket" | "http"): ClientOptions;
  /** Base URL for network targets. */
  baseUrl?: string;
}

/** Kinds of target. */
export type TargetKind = "in-process" | "tcp" | "unix";
/** Every kind, for suites that run against each. */
export const TARGET_KINDS: TargetKind[] = ["in-process", "tcp", "unix"];

/** Starts a server of `kind` for the env. */
export async function startTarget(
  kind: TargetKind,
  factory: EnvFactory,
  models: EnvModels,
  options: AppOptions = {},
): Promise<Target> {
  const app = createApp(factory, models, options);
  if (kind === "in-process") {
    return {
      app,
      http: async (path, init) => await app.request(path, asJson(init)),
      ws: () => Promise.resolve(inProcessWs(app)),
      client: (transport) =>
        transport === "websocket" ? { transport: inProcess(app) } : {
          baseUrl: "http://in-process",
          transport: "http",
          fetch: (input, init) => Promise.resolve(app.request(input, init)),
        },
      [Symbol.asyncDispose]: () => app.close(),
    };
  }
  let dir: string | undefined;
  const server = kind === "tcp"
    ? serve(app, { port: 0 })
    : serve(app, { socket: `${dir = await Deno.makeTempDir()}/env.sock` });
  const endpoint = parseBaseUrl(server.baseUrl);
  const client = httpClientFor(endpoint);
  return {
    app,
    baseUrl: server.baseUrl,
    http: (path, init) => fetch(endpoint.httpBase + path, { ...asJson(init), client }),
    ws: () => networkWs(server.baseUrl),
    client: (transport) => ({ baseUrl: server.baseUrl, transport }),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      client?.close();
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A POST with a body and no Content-Type is sent as `application/json`, as
 * every real client does (the server refuses other types with 415).
 */
function asJson(init: RequestInit | undefined): RequestInit | undefined {
  if (init?.method !== "POST" || init.body == null) return init;
  const headers = new Headers(init.headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return { ...init, headers };
}

function queue() {
  const items: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  return {
    push(v: unknown) {
      const w = waiters.shift();
      if (w) w(v);
      else items.push(v);
    },
    next(timeoutMs: number): Promise<unknown> {
      if (items.length) return Promise.resolve(items.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(done), 1);
          reject(new Error(`No WebSocket message within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (v: unknown) => {
          clearTimeout(timer);
          resolve(v);
        };
        waiters.push(done);
      });
    },
  };
}

function inProcessWs(app: EnvApp): RawWs {
  const messages = queue();
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  let isClosed = false;
  const finish = (code: number, reason: string) => {
    if (isClosed) return;
    isClosed = true;
    resolveClosed({ code, reason });
  };
  const opened = openWireSession(app.sessions, app.limits.maxMessageBytes).then((wire) => {
    if (!("handle" in wire)) {
      messages.push({
        type: "error",
        data: { message: wire.message, code: wire.code, ...wire.details },
      });
      finish(1013, wire.message);
      return undefined;
    }
    wire.session.onClose((reason) =>
      finish(reason.startsWith("idle") ? 4000 : 1001, `Session ${reason}`)
    );
    return wire;
  });
  let chain: Promise<unknown> = opened;
  return {
    send(data) {
      chain = chain.then(async () => {
        const wire = await opened;
        if (!wire || isClosed) return;
        const { reply, close } = await wire.handle(typeof data === "string" ? data : data.buffer);
        if (reply) messages.push(reply);
        if (close) {
          finish(1000, "Closed by the client");
          await app.sessions.close(wire.session.id, "connection closed");
        }
      });
    },
    next: async (timeoutMs = 5000) => await messages.next(timeoutMs) as never,
    closed,
    close() {
      void opened.then((wire) => wire && app.sessions.close(wire.session.id, "connection closed"));
      finish(1000, "");
    },
  };
}

/** A raw socket over the network: the same raw client as `envtorch validate` (tools/probe.ts). */
async function networkWs(baseUrl: string): Promise<RawWs> {
  const probe = new Probe(baseUrl, { timeoutS: 10 });
  let socket;
  try {
    socket = await probe.ws();
  } catch (error) {
    await probe.close();
    throw error;
  }
  const closed = socket.closed.finally(() => probe.close());
  return {
    send: (data) => void socket.send(data),
    async next(timeoutMs = 5000) {
      const event = await socket.next(timeoutMs / 1000);
      if (event.kind === "closed") {
        throw new Error(`WebSocket closed (${event.code}) while a message was awaited`);
      }
      return event.message as never;
    },
    closed,
    close: () => void socket.close(),
  };
}
