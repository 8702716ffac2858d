/**
 * The server's front door: what every request passes before a route runs.
 *
 * A browser page on any site can send requests to a server on localhost, so
 * the front door refuses what only a browser acting for someone else sends:
 *
 * - a `Host` that is not the bound address, `localhost`, `127.0.0.1` or
 *   `[::1]` (DNS rebinding), unless allowed (421 `HOST_NOT_ALLOWED`);
 * - an `Origin` on a WebSocket upgrade or a POST/DELETE that is not allowed
 *   (cross-site request forgery, cross-site WebSocket hijacking; 403
 *   `ORIGIN_NOT_ALLOWED`); no `Origin` at all is a non-browser client;
 * - a POST body whose `Content-Type` is not `application/json` (415
 *   `UNSUPPORTED_MEDIA_TYPE`);
 * - when a token is set, a request without `Authorization: Bearer <token>`
 *   (401 `UNAUTHORIZED`).
 *
 * `GET /health` passes everything: it says only that the server is up, and
 * health checkers (Docker, kubelet) send neither tokens nor local Hosts.
 *
 * WebSocket connections are admitted by {@link FrontDoor.admitWebSocket}:
 * capped in total and per peer, and closed (with their session) when no
 * complete message arrives within a deadline.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "npm:hono@4.13.19";
import { type AccessCode, AccessError } from "../protocol/errors.ts";

/** Options of the front door; part of the app's options. */
export interface FrontDoorOptions {
  /**
   * Browser origins allowed to open WebSockets and send POST/DELETE, e.g.
   * `https://notebook.example.com`; `*` allows any. Requests without an
   * `Origin` header (every non-browser client) are always allowed.
   * @default []
   */
  allowedOrigins?: string[];
  /**
   * Host names (without port) the server answers to besides the bound
   * address, `localhost`, `127.0.0.1` and `::1`; `*` allows any. Servers
   * on a unix socket answer to any Host.
   * @default []
   */
  allowedHosts?: string[];
  /**
   * A secret every request but `GET /health` must carry as
   * `Authorization: Bearer <token>` (WebSocket: in the upgrade request).
   * Unset: no token is asked for.
   */
  token?: string;
  /**
   * Most WebSocket connections at once. Each may make the runtime buffer up
   * to 64 MiB for one unfinished frame, so this bounds that memory too.
   * @default twice the session cap, at least 128
   */
  maxConnections?: number;
  /**
   * Most WebSocket connections at once from one peer address (all unix
   * socket clients are one peer).
   * @default half of maxConnections
   */
  maxConnectionsPerPeer?: number;
  /**
   * Seconds a new WebSocket connection has to deliver its first complete
   * message; after that it is closed (1008) and its session freed. 0 disables.
   * @default 10
   */
  firstMessageTimeoutS?: number;
}

/** What Deno.serve passes a handler as its second argument (Hono's `c.env`). */
interface ServeInfo {
  remoteAddr?: { transport: string; hostname?: string };
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);
const WILDCARD_BINDS = new Set(["0.0.0.0", "::", ""]);
/** Methods that change nothing, so a foreign Origin may send them (it cannot read the answer). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Whether `hostname` is a loopback interface: `localhost`, `127.0.0.0/8` or
 * `::1`. `envtorch serve` asks for a token on any other address.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./front_door.ts";
 *
 * console.log(isLoopback("127.0.0.1"), isLoopback("[::1]"), isLoopback("0.0.0.0")); // true true false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The host name of a `Host` header, without port or brackets, lower case.
 *
 * @example
 * ```ts
 * import { hostnameOf } from "./front_door.ts";
 *
 * console.log(hostnameOf("[::1]:8000"), hostnameOf("LocalHost:1")); // ::1 localhost
 * ```
 */
export function hostnameOf(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    h = end === -1 ? h.slice(1) : h.slice(1, end);
  } else if (h.indexOf(":") === h.lastIndexOf(":")) {
    h = h.replace(/:\d*$/, "");
  }
  return h.replace(/\.$/, "");
}

function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin.trim().toLowerCase();
  }
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** Whether a POST body is declared as JSON: `application/json`, optionally with a UTF-8 charset. */
function isJsonContentType(value: string | null): boolean {
  if (value === null) return false;
  const [type, ...params] = value.split(";").map((p) => p.trim().toLowerCase());
  if (type !== "application/json") return false;
  return params.every((p) => {
    const [name, raw] = p.split("=", 2).map((s) => s.trim());
    if (name !== "charset") return true;
    const charset = raw?.replace(/^"|"$/g, "");
    return charset === "utf-8" || charset === "utf8";
  });
}

/** A WebSocket connection let in by {@link FrontDoor.admitWebSocket}. */
export interface WebSocketTicket {
  /** Frees the connection slot (when the upgrade itself failed); safe to call twice. */
  release(): void;
  /**
   * Watches the upgraded socket: frees the connection slot when it closes,
   * and calls `onSilent` (and closes it) if no complete message arrives in time.
   */
  watch(socket: WebSocket, onSilent: () => void): void;
}

/**
 * The checks of {@link FrontDoorOptions}, and the WebSocket connection count.
 * `createApp` makes one from its options and runs it before every route.
 *
 * @example
 * ```ts
 * import { FrontDoor } from "./front_door.ts";
 *
 * const door = new FrontDoor({ token: "a-long-enough-secret-token" });
 * const refused = door.check(new Request("http://localhost/state"));
 * console.log(refused?.status, refused?.code); // 401 UNAUTHORIZED
 * ```
 */
export class FrontDoor {
  #origins: Set<string>;
  #anyOrigin: boolean;
  #hosts: Set<string>;
  #anyHost: boolean;
  #token?: Uint8Array;
  /** Most WebSocket connections at once. */
  readonly maxConnections: number;
  /** Most WebSocket connections at once per peer. */
  readonly maxConnectionsPerPeer: number;
  /** Seconds a new connection has for its first message; 0: no deadline. */
  readonly firstMessageTimeoutS: number;
  #connections = new Map<string, number>();
  #total = 0;

  /**
   * Creates the front door; {@link bindTo} adds the address the server
   * listens on. `maxSessions` (the app's session cap) sets the default
   * connection caps.
   */
  constructor(options: FrontDoorOptions = {}, maxSessions = 64) {
    const origins = options.allowedOrigins ?? [];
    this.#anyOrigin = origins.includes("*");
    this.#origins = new Set(origins.map(normalizeOrigin));
    const hosts = options.allowedHosts ?? [];
    this.#anyHost = hosts.includes("*");
    this.#hosts = new Set([...LOOPBACK_NAMES, ...hosts.map(hostnameOf)]);
    if (options.token !== undefined) {
      if (options.token === "") throw new TypeError("The server token must not be empty");
      this.#token = digest(options.token);
    }
    this.maxConnections = options.maxConnections ?? Math.max(128, 2 * maxSessions);
    this.maxConnectionsPerPeer = options.maxConnectionsPerPeer ??
      Math.max(1, Math.floor(this.maxConnections / 2));
    this.firstMessageTimeoutS = options.firstMessageTimeoutS ?? 10;
  }

  /** WebSocket connections open now. */
  get connections(): number {
    return this.#total;
  }

  /** Adds the interface the server listens on to the Hosts it answers to. */
  bindTo(hostname: string): void {
    const h = hostnameOf(hostname.includes(":") ? `[${hostname}]` : hostname);
    if (!WILDCARD_BINDS.has(h)) this.#hosts.add(h);
  }

  /** Why a request is refused, or `undefined` when it may pass. */
  check(req: Request, info?: ServeInfo): AccessError | undefined {
    if (req.method === "GET" && new URL(req.url).pathname === "/health") return undefined;
    const host = req.headers.get("host");
    const unix = info?.remoteAddr?.transport === "unix";
    if (host !== null && !unix && !this.#anyHost && !this.#hosts.has(hostnameOf(host))) {
      return refuse(
        "HOST_NOT_ALLOWED",
        `Host ${JSON.stringify(host)} is not an address this server answers to; ` +
          `allow it with --allow-host ${hostnameOf(host)} (allowedHosts)`,
      );
    }
    const upgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    const changes = !SAFE_METHODS.has(req.method);
    const origin = req.headers.get("origin");
    if ((upgrade || changes) && origin !== null && !this.#anyOrigin) {
      if (!this.#origins.has(normalizeOrigin(origin))) {
        return refuse(
          "ORIGIN_NOT_ALLOWED",
          `Origin ${JSON.stringify(origin)} is not allowed; ` +
            `allow a browser client with --allow-origin ${
              normalizeOrigin(origin)
            } (allowedOrigins)`,
        );
      }
    }
    if (this.#token && !this.#tokenMatches(req.headers.get("authorization"))) {
      return refuse(
        "UNAUTHORIZED",
        req.headers.has("authorization")
          ? "Wrong token: the Authorization header does not carry this server's token"
          : "This server needs a token: send Authorization: Bearer <token> (ENVTORCH_TOKEN)",
      );
    }
    if (
      req.method === "POST" && hasBody(req) && !isJsonContentType(req.headers.get("content-type"))
    ) {
      const type = req.headers.get("content-type");
      return refuse(
        "UNSUPPORTED_MEDIA_TYPE",
        `Content-Type must be application/json, got ${
          type === null ? "none" : JSON.stringify(type)
        }`,
      );
    }
    return undefined;
  }

  #tokenMatches(header: string | null): boolean {
    const match = header?.match(/^\s*Bearer\s+(\S+)\s*$/i);
    // Compare digests: equal length, and no early exit on the first wrong byte.
    const given = digest(match?.[1] ?? "");
    return timingSafeEqual(given, this.#token!) && match !== null && match !== undefined;
  }

  /** Hono middleware that answers refused requests with `{detail, code}`. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const refused = this.check(c.req.raw, c.env as ServeInfo | undefined);
      if (refused) {
        if (refused.code === "UNAUTHORIZED") c.header("WWW-Authenticate", "Bearer");
        await c.req.raw.body?.cancel().catch(() => {});
        return c.json({ detail: refused.message, code: refused.code }, refused.status as 401);
      }
      await next();
    };
  }

  /**
   * Lets a WebSocket connection in, or answers 503 `CAPACITY_REACHED` when
   * the server or this peer has as many connections as allowed.
   */
  admitWebSocket(info?: unknown): WebSocketTicket | Response {
    const addr = (info as ServeInfo | undefined)?.remoteAddr;
    const peer = addr?.transport === "tcp" ? addr.hostname ?? "?" : addr?.transport ?? "local";
    const mine = this.#connections.get(peer) ?? 0;
    const refusal = this.#total >= this.maxConnections
      ? `Server has ${this.#total} of ${this.maxConnections} WebSocket connections open`
      : mine >= this.maxConnectionsPerPeer
      ? `${peer} has ${mine} of ${this.maxConnectionsPerPeer} WebSocket connections allowed per peer open`
      : undefined;
    if (refusal) {
      return Response.json(
        {
          detail: `${refusal}: close one or retry later`,
          code: "CAPACITY_REACHED",
          max_connections: this.maxConnections,
          max_connections_per_peer: this.maxConnectionsPerPeer,
        },
        { status: 503, headers: { "Retry-After": "1" } },
      );
    }
    this.#total++;
    this.#connections.set(peer, mine + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#connections.get(peer) ?? 1) - 1;
      if (left > 0) this.#connections.set(peer, left);
      else this.#connections.delete(peer);
    };
    return {
      release,
      watch: (socket, onSilent) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = this.firstMessageTimeoutS;
        if (limit > 0) {
          timer = setTimeout(() => {
            timer = undefined;
            if (
              socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING
            ) {
              socket.close(1008, `No complete message within ${limit} s`);
            }
            onSilent();
          }, limit * 1000);
        }
        const stop = () => {
          if (timer !== undefined) clearTimeout(timer);
          timer = undefined;
        };
        socket.addEventListener("message", stop, { once: true });
        socket.addEventListener("close", () => {
          stop();
          release();
        }, { once: true });
      },
    };
  }
}

/** Whether a request carries a body (by its framing headers). */
function hasBody(req: Request): boolean {
  const length = req.headers.get("content-length");
  if (length !== null) return length.trim() !== "0";
  return req.headers.has("transfer-encoding") || req.body !== null;
}

function refuse(code: AccessCode, message: string): AccessError {
  return new AccessError(code, message);
}
