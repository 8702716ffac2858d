/**
 * Client transports: WebSocket (one session per connection), HTTP (sessions
 * by the `envtorch-session` header) and in-process (no socket at all). Each
 * turns a request into the same reply shapes, so the client above them does
 * not care which one runs. Base URLs may be `http(s)://`, `ws(s)://` or
 * `unix:/path/to.sock`.
 *
 * @module
 */
import { quote } from "../protocol/quote.ts";
import {
  ConnectionError,
  EnvTorchError,
  errorFromHttp,
  errorFromWire,
  InvalidJsonError,
  type WireError,
} from "../protocol/errors.ts";
import { withDeadline } from "../protocol/deadline.ts";
import { SESSION_HEADER, type WireStepResult } from "../protocol/models.ts";

/** A request the client makes. */
export type ClientRequest =
  | { type: "reset"; data: Record<string, unknown> }
  | { type: "step"; data: Record<string, unknown>; timeout_s?: number }
  | { type: "state" };

/** What a transport gives back for a request. */
export type TransportReply =
  | { type: "observation"; data: WireStepResult }
  | { type: "state"; data: Record<string, unknown> };

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call; the session stays usable where the transport can manage. */
  signal?: AbortSignal;
  /** Time allowed for the call, in seconds. */
  timeoutS: number;
}

/** A way to reach an env server. */
export interface Transport extends AsyncDisposable {
  /** Sends one request and waits for its reply; throws typed errors. */
  request(request: ClientRequest, options: CallOptions): Promise<TransportReply>;
  /** Ends the session and frees the connection. Safe to call twice. */
  close(): Promise<void>;
  /** False once the transport knows its session is gone (connection lost, closed). */
  readonly alive: boolean;
  /** What the client reports as its `baseUrl` when none is given (e.g. `in-process`). */
  readonly name?: string;
}

/** Where a base URL points, split into what fetch and WebSocket need. */
export interface Endpoint {
  /** `http(s)://host:port` (for unix sockets, `http://localhost`). */
  httpBase: string;
  /** `ws(s)://host:port`. */
  wsBase: string;
  /** The unix socket path, if any. */
  socketPath?: string;
}

/** Parses `http://`, `https://`, `ws://`, `wss://` or `unix:/path` base URLs. */
export function parseBaseUrl(baseUrl: string): Endpoint {
  if (baseUrl.startsWith("unix:")) {
    const socketPath = baseUrl.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!socketPath.startsWith("/")) {
      throw new TypeError(`Invalid base URL ${baseUrl}: expected unix:/absolute/path.sock`);
    }
    return { httpBase: "http://localhost", wsBase: "ws://localhost", socketPath };
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(
      `Invalid base URL ${JSON.stringify(baseUrl)}: expected http://host:port or unix:/path.sock`,
    );
  }
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) {
    throw new TypeError(`Invalid base URL ${baseUrl}: unsupported scheme ${url.protocol}`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  return {
    httpBase: `${secure ? "https" : "http"}://${url.host}${path}`,
    wsBase: `${secure ? "wss" : "ws"}://${url.host}${path}`,
  };
}

/**
 * The HTTP client that reaches an endpoint: one over its unix socket, or
 * `undefined` for TCP (fetch's default client). The caller closes it. Every
 * place that talks to a `unix:` base URL (transports, probes, health checks)
 * gets its client here.
 *
 * @example
 * ```ts
 * import { httpClientFor, parseBaseUrl } from "./transport.ts";
 * const client = httpClientFor(parseBaseUrl("unix:/tmp/env.sock"));
 * client?.close();
 * ```
 */
export function httpClientFor(endpoint: Endpoint): Deno.HttpClient | undefined {
  return endpoint.socketPath
    ? Deno.createHttpClient({ proxy: { transport: "unix", path: endpoint.socketPath } })
    : undefined;
}

/** Options of the network transports. */
export interface NetworkTransportOptions {
  /** Extra headers on every request (or the WebSocket handshake). */
  headers?: HeadersInit;
  /** The fetch to use for HTTP (e.g. a Hono app's `request`, to stay in-process). */
  fetch?: (input: string, init: RequestInit & { client?: Deno.HttpClient }) => Promise<Response>;
}

/** Transport over plain HTTP requests, with a session of its own. */
export class HttpTransport implements Transport {
  #endpoint: Endpoint;
  #client?: Deno.HttpClient;
  #headers: Headers;
  #fetchFn: (input: string, init: RequestInit & { client?: Deno.HttpClient }) => Promise<Response>;
  #session: string | undefined;
  #closed = false;

  /** Creates the transport; nothing is sent until the first request. */
  constructor(baseUrl: string, options: NetworkTransportOptions = {}) {
    this.#endpoint = parseBaseUrl(baseUrl);
    this.#headers = new Headers(options.headers);
    this.#fetchFn = options.fetch ?? fetch;
    this.#client = httpClientFor(this.#endpoint);
  }

  /** The session id the server gave, once known. */
  get sessionId(): string | undefined {
    return this.#session;
  }

  /** HTTP has no connection to lose: alive until closed. */
  get alive(): boolean {
    return !this.#closed;
  }

  async request(request: ClientRequest, options: CallOptions): Promise<TransportReply> {
    if (this.#closed) throw new ConnectionError("Client is closed");
    const headers = new Headers(this.#headers);
    headers.set("content-type", "application/json");
    if (this.#session) headers.set(SESSION_HEADER, this.#session);
    else if (request.type === "reset") headers.set(SESSION_HEADER, "new");
    let path: string;
    let init: RequestInit;
    switch (request.type) {
      case "reset":
        path = "/reset";
        init = { method: "POST", body: JSON.stringify(request.data) };
        break;
      case "step":
        path = "/step";
        init = {
          method: "POST",
          body: JSON.stringify({ action: request.data, timeout_s: request.timeout_s }),
        };
        break;
      case "state":
        path = "/state";
        init = { method: "GET" };
        break;
    }
    const body = await this.#fetch(path, { ...init, headers }, options);
    return request.type === "state"
      ? { type: "state", data: body as Record<string, unknown> }
      : { type: "observation", data: body as WireStepResult };
  }

  async #fetch(path: string, init: RequestInit, options: CallOptions): Promise<unknown> {
    const url = this.#endpoint.httpBase + path;
    return await withDeadline(`${init.method} ${path}`, options, async ({ signal }) => {
      let res: Response;
      try {
        res = await this.#fetchFn(url, { ...init, signal, client: this.#client });
      } catch (error) {
        if (signal.aborted) throw error;
        throw new ConnectionError(`Cannot reach ${this.#where()}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const session = res.headers.get(SESSION_HEADER);
      if (session) this.#session = session;
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        if (res.ok) {
          throw new InvalidJsonError(`Server sent a body that is not JSON for ${path}`);
        }
      }
      if (!res.ok) throw errorFromHttp(res.status, body);
      return body;
    });
  }

  #where(): string {
    return this.#endpoint.socketPath
      ? `unix:${this.#endpoint.socketPath}`
      : this.#endpoint.httpBase;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#session) {
        const headers = new Headers(this.#headers);
        headers.set(SESSION_HEADER, this.#session);
        await withDeadline("DELETE /session", { timeoutS: 5 }, async ({ signal }) => {
          const res = await this.#fetchFn(this.#endpoint.httpBase + "/session", {
            method: "DELETE",
            headers,
            client: this.#client,
            signal,
          });
          await res.body?.cancel();
        });
      }
    } catch {
      // The server may be gone already (an OpenEnv server has no such route); the session will be reaped.
    } finally {
      this.#client?.close();
    }
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const REFUSALS: Record<string, string> = {
  "401": "the server needs a token (ENVTORCH_TOKEN, or the client's token option)",
  "403": "the server refused this client's Origin",
  "421": "the server does not answer to this host name",
  "503": "the server has as many WebSocket connections as it allows",
};

/** Adds what a refused WebSocket handshake's status means to the runtime's message. */
function refusalHint(message: string): string {
  const status = message.match(/status code:? (\d{3})/i)?.[1];
  const hint = status ? REFUSALS[status] : undefined;
  return hint ? `${message} (${hint})` : message;
}

interface Pending {
  resolve: (reply: TransportReply) => void;
  reject: (error: unknown) => void;
  abandoned: boolean;
  /** The `state` sent on connect, whose reply only matters if it refuses the session. */
  greeting?: boolean;
}

/** Errors that mean the server refused the session itself, not one call. */
const SESSION_REFUSALS = new Set(["CAPACITY_REACHED", "FACTORY_ERROR"]);

/** Transport over one WebSocket: the connection is the session. */
export class WebSocketTransport implements Transport {
  #endpoint: Endpoint;
  #headers?: HeadersInit;
  #client?: Deno.HttpClient;
  #socket?: WebSocket;
  #opening?: Promise<WebSocket>;
  #pending: Pending[] = [];
  #failure?: EnvTorchError;
  #closed = false;

  /** Creates the transport; the connection opens on the first request or {@link connect}. */
  constructor(baseUrl: string, options: NetworkTransportOptions = {}) {
    this.#endpoint = parseBaseUrl(baseUrl);
    this.#headers = options.headers;
    this.#client = httpClientFor(this.#endpoint);
  }

  /** Whether the connection is open (or not yet opened) and has not failed. */
  get alive(): boolean {
    if (this.#closed || this.#failure) return false;
    return !this.#socket || this.#socket.readyState === WebSocket.OPEN;
  }

  /** Opens the connection (once). */
  connect(options: CallOptions): Promise<WebSocket> {
    if (this.#closed) return Promise.reject(new ConnectionError("Client is closed"));
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#opening ??= withDeadline(
      "WebSocket connect",
      options,
      (cancellation) =>
        new Promise<WebSocket>((resolve, reject) => {
          const url = `${this.#endpoint.wsBase}/ws`;
          const where = this.#endpoint.socketPath ? `unix:${this.#endpoint.socketPath}` : url;
          let socket: WebSocket;
          try {
            socket = new WebSocket(url, {
              client: this.#client,
              headers: this.#headers,
            } as WebSocketOptions);
          } catch (error) {
            reject(new ConnectionError(`Cannot connect to ${where}: ${(error as Error).message}`));
            return;
          }
          let opened = false;
          cancellation.onCancel((reason) => {
            if (opened) return;
            socket.close();
            reject(reason);
          });
          socket.onopen = () => {
            opened = true;
            this.#socket = socket;
            // Speak at once: a server closes a connection that stays silent past its
            // first-message deadline, and a warm client may wait long for its reset.
            this.#pending.push({
              resolve: () => {},
              reject: () => {},
              abandoned: true,
              greeting: true,
            });
            socket.send('{"type":"state"}');
            resolve(socket);
          };
          socket.onmessage = (event) => this.#onMessage(event.data);
          socket.onerror = (event) => {
            const message = refusalHint((event as ErrorEvent).message || "connection failed");
            this.#failure ??= new ConnectionError(
              this.#socket
                ? `Connection to ${where} lost: ${message}`
                : `Cannot connect to ${where}: ${message}`,
            );
          };
          socket.onclose = (event) => {
            this.#failure ??= new ConnectionError(
              `Connection to ${where} closed${event.code ? ` (${event.code}` : ""}${
                event.reason ? `: ${event.reason})` : event.code ? ")" : ""
              }`,
            );
            for (const p of this.#pending.splice(0)) p.reject(this.#failure);
            if (!this.#socket) reject(this.#failure);
          };
        }),
    );
  }

  #onMessage(data: unknown) {
    let message: { type?: string; data?: unknown };
    try {
      message = JSON.parse(String(data));
    } catch {
      this.#failure = new InvalidJsonError("Server sent a message that is not JSON");
      this.#socket?.close();
      return;
    }
    const pending = this.#pending.shift();
    if (!pending) {
      // An unsolicited error: the server refused the session (e.g. at capacity).
      if (message.type === "error") this.#failure = errorFromWire(message.data as WireError);
      return;
    }
    if (pending.greeting && message.type === "error") {
      const error = errorFromWire(message.data as WireError);
      if (SESSION_REFUSALS.has(error.code)) this.#failure = error;
    }
    if (pending.abandoned) return;
    if (message.type === "error") pending.reject(errorFromWire(message.data as WireError));
    else if (message.type === "observation" || message.type === "state") {
      pending.resolve(message as TransportReply);
    } else {
      pending.reject(
        new InvalidJsonError(`Server sent an unknown message type ${quote(message.type)}`),
      );
    }
  }

  request(request: ClientRequest, options: CallOptions): Promise<TransportReply> {
    // Connected already (every call but the first): no await, no extra tick.
    const socket = this.#socket;
    if (socket?.readyState === WebSocket.OPEN && !this.#closed && !this.#failure) {
      return this.#send(socket, request, options);
    }
    return this.connect(options).then((opened) => {
      if (this.#failure) throw this.#failure;
      return this.#send(opened, request, options);
    });
  }

  #send(socket: WebSocket, request: ClientRequest, options: CallOptions): Promise<TransportReply> {
    return withDeadline(
      request.type,
      options,
      (cancellation) =>
        new Promise<TransportReply>((resolve, reject) => {
          const entry: Pending = { resolve, reject, abandoned: false };
          // The reply still comes, in order: mark it abandoned so it is dropped.
          cancellation.onCancel((reason) => {
            entry.abandoned = true;
            reject(reason);
          });
          this.#pending.push(entry);
          socket.send(JSON.stringify(request));
        }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const socket = this.#socket ?? await this.#opening?.catch(() => undefined);
    if (socket && socket.readyState === WebSocket.OPEN) {
      // Waits for the close handshake, at most 2 s: the session ends either way.
      const closed = withDeadline(
        "WebSocket close",
        { timeoutS: 2 },
        (cancellation) =>
          new Promise<void>((resolve) => {
            socket.addEventListener("close", () => resolve(), { once: true });
            cancellation.onCancel(() => resolve());
          }),
      );
      try {
        socket.send(JSON.stringify({ type: "close" }));
      } catch {
        // Already closing.
      }
      socket.close(1000);
      await closed;
    }
    this.#client?.close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
