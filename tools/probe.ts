/**
 * Raw access to an env server for conformance checks: HTTP requests whose
 * status, headers and body are returned as they are (no typed errors), and
 * WebSocket connections seen as a queue of messages and a close event. Works
 * over TCP and unix sockets alike.
 *
 * @module
 */
import { ConnectionError, TimeoutError } from "../protocol/errors.ts";
import { withDeadline } from "../protocol/deadline.ts";
import { type Endpoint, httpClientFor, parseBaseUrl } from "../client/transport.ts";
import { envToken, withToken } from "../client/token.ts";

/** An HTTP response, read whole. */
export interface ProbeResponse {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The body as text. */
  text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: unknown;
}

/** Options of a {@link Probe} request. */
export interface ProbeRequest {
  /**
   * HTTP method.
   * @default "GET"
   */
  method?: string;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** What waiting on a socket gives: a message, or the end of the connection. */
export type SocketEvent =
  | { kind: "message"; raw: string; message: unknown }
  | { kind: "closed"; code: number; reason: string };

/** Options of {@link Probe}. */
export interface ProbeOptions {
  /**
   * Seconds each request or reply may take.
   * @default 30
   */
  timeoutS?: number;
  /** Aborts every request. */
  signal?: AbortSignal;
  /**
   * Token sent as `Authorization: Bearer` on every request and WebSocket
   * handshake (unless a request sets its own Authorization); `""` sends none.
   * @default $ENVTORCH_TOKEN
   */
  token?: string;
}

/** Raw HTTP and WebSocket access to one server. */
export class Probe implements AsyncDisposable {
  /** The server's base URL. */
  readonly baseUrl: string;
  /** Seconds each request or reply may take. */
  readonly timeoutS: number;
  #endpoint: Endpoint;
  #client?: Deno.HttpClient;
  #signal?: AbortSignal;
  #token?: string;
  #sockets = new Set<ProbeSocket>();

  /** Creates a probe; nothing is sent until the first request. */
  constructor(baseUrl: string, options: ProbeOptions = {}) {
    this.baseUrl = baseUrl;
    this.timeoutS = options.timeoutS ?? 30;
    this.#signal = options.signal;
    this.#token = options.token ?? envToken();
    this.#endpoint = parseBaseUrl(baseUrl);
    this.#client = httpClientFor(this.#endpoint);
  }

  /** Sends one HTTP request and reads the whole response. */
  http(path: string, request: ProbeRequest = {}): Promise<ProbeResponse> {
    const method = request.method ?? "GET";
    const headers = withToken(request.headers, this.#token);
    let body: string | undefined;
    if (request.body !== undefined) {
      body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const options = { signal: this.#signal, timeoutS: this.timeoutS };
    return withDeadline(`${method} ${path}`, options, async ({ signal }) => {
      let res: Response;
      let text: string;
      try {
        res = await fetch(this.#endpoint.httpBase + path, {
          method,
          headers,
          body,
          signal,
          client: this.#client,
        });
        text = await res.text();
      } catch (error) {
        if (signal.aborted) throw error;
        throw new ConnectionError(
          `Cannot reach ${this.baseUrl} for ${method} ${path}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    });
  }

  /** Opens a WebSocket to `/ws`. */
  ws(): Promise<ProbeSocket> {
    const url = `${this.#endpoint.wsBase}/ws`;
    const where = this.#endpoint.socketPath ? `unix:${this.#endpoint.socketPath} /ws` : url;
    const options = { signal: this.#signal, timeoutS: this.timeoutS };
    return withDeadline(
      `WebSocket ${where} open`,
      options,
      (cancellation) =>
        new Promise<ProbeSocket>((resolve, reject) => {
          let socket: WebSocket;
          try {
            socket = new WebSocket(url, {
              client: this.#client,
              headers: withToken(undefined, this.#token),
            } as WebSocketOptions);
          } catch (error) {
            reject(new ConnectionError(`Cannot open ${url}: ${(error as Error).message}`));
            return;
          }
          const probe = new ProbeSocket(socket, this.timeoutS);
          cancellation.onCancel((reason) => {
            socket.close();
            reject(reason);
          });
          socket.addEventListener("open", () => {
            this.#sockets.add(probe);
            probe.closed.then(() => this.#sockets.delete(probe));
            resolve(probe);
          }, { once: true });
          socket.addEventListener("close", (event) => {
            reject(
              new ConnectionError(
                `Cannot open ${where}${event.code ? ` (close code ${event.code})` : ""}`,
              ),
            );
          }, { once: true });
        }),
    );
  }

  /** Closes every socket still open and the HTTP client. */
  async close(): Promise<void> {
    await Promise.all([...this.#sockets].map((s) => s.close()));
    this.#client?.close();
    this.#client = undefined;
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One WebSocket connection, as a queue of events. */
export class ProbeSocket {
  /** Resolves with the close code and reason once the connection has ended. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #socket: WebSocket;
  #timeoutS: number;
  #events: SocketEvent[] = [];
  #waiters: ((event: SocketEvent) => void)[] = [];
  #ended = false;

  /** Wraps an opening socket; use {@link Probe.ws}. */
  constructor(socket: WebSocket, timeoutS: number) {
    this.#socket = socket;
    this.#timeoutS = timeoutS;
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#ended = true;
        const closed = { code: event.code, reason: event.reason };
        this.#push({ kind: "closed", ...closed });
        resolve(closed);
      });
    });
    socket.addEventListener("message", (event) => {
      const raw = typeof event.data === "string" ? event.data : "(binary frame)";
      let message: unknown;
      try {
        message = JSON.parse(raw);
      } catch {
        message = undefined;
      }
      this.#push({ kind: "message", raw, message });
    });
  }

  /** Whether the connection has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Sends a frame: a string as text, bytes as a binary frame, anything else
   * as JSON text. False if the socket is not open.
   */
  send(data: unknown): boolean {
    if (this.#socket.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(
      typeof data === "string" || data instanceof Uint8Array ? data : JSON.stringify(data),
    );
    return true;
  }

  /** The next event; rejects with TimeoutError when none comes in time. */
  next(timeoutS: number = this.#timeoutS): Promise<SocketEvent> {
    const queued = this.#events.shift();
    if (queued) {
      // The close event stays available to every later call.
      if (queued.kind === "closed") this.#events.unshift(queued);
      return Promise.resolve(queued);
    }
    return withDeadline(
      "WebSocket message",
      { timeoutS },
      (cancellation) =>
        new Promise<SocketEvent>((resolve, reject) => {
          const waiter = (event: SocketEvent) => resolve(event);
          cancellation.onCancel((reason) => {
            const i = this.#waiters.indexOf(waiter);
            if (i >= 0) this.#waiters.splice(i, 1);
            reject(reason);
          });
          this.#waiters.push(waiter);
        }),
    ).catch((error) => {
      if (error instanceof TimeoutError) {
        throw new TimeoutError(`No WebSocket message within ${timeoutS} s`, { cause: error });
      }
      throw error;
    });
  }

  /** Sends a message and waits for the next event. */
  request(data: unknown, timeoutS?: number): Promise<SocketEvent> {
    this.send(data);
    return this.next(timeoutS);
  }

  /** Closes from the client side and waits (briefly) for the end. */
  async close(): Promise<void> {
    if (!this.#ended) {
      try {
        this.#socket.close(1000);
      } catch {
        // Already closing.
      }
      // Waits at most 2 s for the server's close frame.
      await withDeadline(
        "WebSocket close",
        { timeoutS: 2 },
        (cancellation) =>
          new Promise<void>((resolve) => {
            cancellation.onCancel(() => resolve());
            this.closed.then(() => resolve());
          }),
      );
    }
  }

  #push(event: SocketEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(event);
      if (event.kind === "closed") {
        for (const w of this.#waiters.splice(0)) w(event);
        this.#events.push(event);
      }
    } else {
      this.#events.push(event);
    }
  }
}
