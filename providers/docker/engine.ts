/**
 * A small typed client of the Docker Engine API over a unix socket: one
 * core request function that negotiates the API version, maps failures to
 * typed errors and enforces timeouts, with resource classes on top
 * ({@link DockerEngine.containers}, {@link DockerEngine.images},
 * {@link DockerEngine.exec}).
 *
 * @module
 */
import { TimeoutError } from "../../protocol/errors.ts";
import { withDeadline } from "../../protocol/deadline.ts";
import { httpClientFor } from "../../client/transport.ts";
import { ContainerApi } from "./containers.ts";
import { DockerError, dockerErrorFromResponse, EngineUnreachableError } from "./engine_errors.ts";
import type { EngineVersion } from "./engine_types.ts";
import { ExecApi } from "./exec.ts";
import { ImageApi } from "./images.ts";
import { BodyTooLargeError, readCappedText } from "../read_capped.ts";
import { printable } from "./printable.ts";

/** The most of a JSON answer that is read (a container list of thousands fits). */
export const MAX_JSON_BODY_BYTES = 32 * 1024 * 1024;
/** The most of an error answer that is read. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** What a negotiated API version must look like. */
const API_VERSION = /^1\.\d{1,3}$/;

/** The oldest Engine API version envtorch speaks. */
export const MIN_API_VERSION = "1.40";
/** The newest Engine API version envtorch was written against. */
export const MAX_API_VERSION = "1.45";
/** Where the engine listens unless `DOCKER_HOST` says otherwise. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** Options of {@link DockerEngine}. */
export interface DockerEngineOptions {
  /**
   * Where the engine listens: `unix:///path/to/docker.sock` or an absolute path.
   * @default $DOCKER_HOST, else unix:///var/run/docker.sock
   */
  host?: string;
  /**
   * API version to speak, e.g. `1.41`.
   * @default the newest both sides speak, from `GET /_ping`
   */
  apiVersion?: string;
  /**
   * Seconds an ordinary request may take (streams and waits have none unless given).
   * @default 60
   */
  timeoutS?: number;
}

/** A query string value; arrays repeat the key, undefined drops it. */
export type QueryValue = string | number | boolean | undefined | null | string[];

/** Options of {@link DockerEngine.request}. */
export interface EngineRequestOptions {
  /** Query parameters. */
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  json?: unknown;
  /** A raw body (a tar stream for builds and imports). */
  body?: BodyInit;
  /** Content type of a raw body. */
  contentType?: string;
  /** Extra headers. */
  headers?: HeadersInit;
  /** Aborts the request. */
  signal?: AbortSignal;
  /**
   * Seconds until the answer must be complete (for {@link DockerEngine.request},
   * until its headers have arrived); `null` for none.
   * @default the engine's timeoutS for {@link DockerEngine.json}, none for {@link DockerEngine.request} and {@link DockerEngine.read}
   */
  timeoutS?: number | null;
  /**
   * Whether to prefix the path with the API version.
   * @default true
   */
  versioned?: boolean;
  /**
   * The most bytes of a JSON answer {@link DockerEngine.json} reads.
   * @default 33554432 (32 MiB)
   */
  maxBodyBytes?: number;
}

/** Reads the socket path out of `DOCKER_HOST` (or the default). */
export function resolveDockerSocket(host?: string): string {
  let value = host ?? Deno.env.get("DOCKER_HOST") ?? "";
  if (!value) return DEFAULT_DOCKER_SOCKET;
  if (value.startsWith("unix://")) value = value.slice("unix://".length);
  else if (value.startsWith("unix:")) value = value.slice("unix:".length);
  else if (/^[a-z]+:\/\//i.test(value)) {
    throw new TypeError(
      `Unsupported DOCKER_HOST ${value}: envtorch reaches the engine over a unix socket only (unix:///path/to/docker.sock)`,
    );
  }
  if (!value.startsWith("/")) {
    throw new TypeError(`Invalid DOCKER_HOST ${value}: expected unix:///absolute/path.sock`);
  }
  return value;
}

/** Compares `1.41`-style versions. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/**
 * A connection to one Docker engine.
 *
 * @example
 * ```ts ignore
 * import { DockerEngine } from "./engine.ts";
 * await using engine = new DockerEngine();
 * console.log((await engine.version()).Version);
 * const running = await engine.containers.list({ labels: ["envtorch.managed=true"] });
 * ```
 */
export class DockerEngine implements AsyncDisposable {
  /** The engine's socket path. */
  readonly socketPath: string;
  /** Containers: create, start, inspect, logs, wait, stop, kill, remove, list. */
  readonly containers: ContainerApi;
  /** Images: build, import, inspect, list, remove. */
  readonly images: ImageApi;
  /** Commands run inside running containers. */
  readonly exec: ExecApi;
  #client: Deno.HttpClient;
  #timeoutS: number;
  #version?: Promise<string>;
  #closed = false;

  /** Creates the client; nothing is sent until the first call. */
  constructor(options: DockerEngineOptions = {}) {
    this.socketPath = resolveDockerSocket(options.host);
    this.#timeoutS = options.timeoutS ?? 60;
    if (options.apiVersion) {
      if (!API_VERSION.test(options.apiVersion)) {
        throw new TypeError(
          `Invalid apiVersion ${JSON.stringify(options.apiVersion)}: expected e.g. 1.41`,
        );
      }
      this.#version = Promise.resolve(options.apiVersion);
    }
    this.#client = httpClientFor({
      httpBase: "http://docker",
      wsBase: "ws://docker",
      socketPath: this.socketPath,
    })!;
    this.containers = new ContainerApi(this);
    this.images = new ImageApi(this);
    this.exec = new ExecApi(this);
  }

  /** The API version in use, negotiated with `GET /_ping` on first use. */
  apiVersion(signal?: AbortSignal): Promise<string> {
    if (!this.#version) {
      const negotiating = this.#negotiate(signal);
      this.#version = negotiating;
      negotiating.catch(() => {
        if (this.#version === negotiating) this.#version = undefined;
      });
    }
    return this.#version;
  }

  async #negotiate(signal?: AbortSignal): Promise<string> {
    const res = await this.request("GET", "/_ping", { versioned: false, signal, timeoutS: 10 });
    await res.body?.cancel();
    const server = res.headers.get("api-version");
    if (!server) return MIN_API_VERSION;
    if (!API_VERSION.test(server)) {
      throw new DockerError(
        `Docker engine at ${this.socketPath} sent an invalid API version ${
          JSON.stringify(printable(server.slice(0, 40)))
        }: expected e.g. 1.41`,
      );
    }
    if (compareApiVersions(server, MIN_API_VERSION) < 0) {
      throw new DockerError(
        `Docker engine API ${server} is too old: envtorch needs ${MIN_API_VERSION} or later`,
      );
    }
    return compareApiVersions(server, MAX_API_VERSION) > 0 ? MAX_API_VERSION : server;
  }

  /** `GET /_ping`: resolves when the engine answers. */
  async ping(options: { signal?: AbortSignal; timeoutS?: number } = {}): Promise<void> {
    const res = await this.request("GET", "/_ping", {
      versioned: false,
      signal: options.signal,
      timeoutS: options.timeoutS ?? 10,
    });
    await res.body?.cancel();
  }

  /** `GET /version`. */
  version(options: { signal?: AbortSignal } = {}): Promise<EngineVersion> {
    return this.json<EngineVersion>("GET", "/version", options);
  }

  /**
   * Sends one request and returns the response once its headers arrive.
   * A status of 400 or more becomes a typed error; a socket nobody answers
   * on becomes {@link EngineUnreachableError}. The caller reads or cancels
   * the body; `timeoutS` covers the answer's headers (use {@link read} for
   * a deadline that covers the body too).
   */
  request(method: string, path: string, options: EngineRequestOptions = {}): Promise<Response> {
    return this.read(method, path, options, (res) => Promise.resolve(res));
  }

  /**
   * Sends one request and hands its answer to `consume`, both under one
   * deadline (`timeoutS`, none unless given): a body that stops arriving
   * fails with {@link TimeoutError} too. Errors as for {@link request}.
   */
  read<T>(
    method: string,
    path: string,
    options: EngineRequestOptions,
    consume: (res: Response, signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new DockerError("Docker engine client is closed"));
    const timeoutS = options.timeoutS ?? null;
    if (timeoutS === null) return this.#exchange(method, path, options, options.signal, consume);
    return withDeadline(
      `Docker engine (${method} ${path})`,
      { signal: options.signal, timeoutS },
      ({ signal }) => this.#exchange(method, path, options, signal, consume),
    );
  }

  async #exchange<T>(
    method: string,
    path: string,
    options: EngineRequestOptions,
    signal: AbortSignal | undefined,
    consume: (res: Response, signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    const what = `${method} ${path}`;
    const versioned = options.versioned ?? true;
    const prefix = versioned ? `/v${await this.apiVersion(signal)}` : "";
    const url = `http://docker${prefix}${path}${queryString(options.query)}`;
    const headers = new Headers(options.headers);
    let body: BodyInit | undefined = options.body;
    if (options.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(options.json);
    } else if (options.contentType) {
      headers.set("content-type", options.contentType);
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal, client: this.#client });
    } catch (error) {
      throw this.#failure(error, what, signal);
    }
    if (res.status >= 400) {
      let message = "";
      try {
        const text = await readCappedText(
          res.body,
          MAX_ERROR_BODY_BYTES,
          `Docker engine (${what})`,
        );
        try {
          message = String(JSON.parse(text).message ?? text);
        } catch {
          message = text;
        }
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          throw new DockerError(error.message, { request: what, cause: error });
        }
        throw this.#failure(error, what, signal);
      }
      throw dockerErrorFromResponse(res.status, printable(message.trim()).slice(0, 4096), what);
    }
    return await consume(res, signal);
  }

  /** Sends one request and parses its JSON answer (an empty answer is `undefined`). */
  json<T>(method: string, path: string, options: EngineRequestOptions = {}): Promise<T> {
    const timeoutS = options.timeoutS === undefined ? this.#timeoutS : options.timeoutS;
    const what = `${method} ${path}`;
    return this.read(method, path, { ...options, timeoutS }, async (res, signal) => {
      let text: string;
      try {
        text = await readCappedText(
          res.body,
          options.maxBodyBytes ?? MAX_JSON_BODY_BYTES,
          `Docker engine (${what})`,
        );
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          throw new DockerError(error.message, { request: what, cause: error });
        }
        throw this.#failure(error, what, signal);
      }
      if (!text) return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new DockerError(`Docker engine sent a body that is not JSON for ${what}`, {
          request: what,
        });
      }
    });
  }

  /** Sends one request and discards the answer's body. */
  async call(method: string, path: string, options: EngineRequestOptions = {}): Promise<number> {
    const res = await this.request(method, path, {
      ...options,
      timeoutS: options.timeoutS === undefined ? this.#timeoutS : options.timeoutS,
    });
    await res.body?.cancel();
    return res.status;
  }

  /**
   * Maps a failed fetch or body read to a typed error. An aborted `signal`
   * gives its reason (the caller's own, or the deadline's, which
   * {@link withDeadline} turns into a {@link TimeoutError}).
   */
  #failure(error: unknown, what: string, signal: AbortSignal | undefined): unknown {
    if (error instanceof DockerError || error instanceof TimeoutError) return error;
    if (signal?.aborted) return signal.reason;
    return new EngineUnreachableError(this.socketPath, describeSocketError(error), {
      cause: error,
      request: what,
    });
  }

  /** Frees the socket client. Safe to call twice. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.close();
    }
    return Promise.resolve();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Turns a fetch failure on the engine's socket into a short reason. */
export function describeSocketError(error: unknown): string {
  let deepest = error;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  const message = deepest instanceof Error ? deepest.message : String(deepest);
  const hint = " (is dockerd running, and is DOCKER_HOST right?)";
  if (/os error 2\b|No such file/i.test(message)) return `no socket at that path${hint}`;
  if (/os error 111\b|Connection refused/i.test(message)) return `connection refused${hint}`;
  if (/os error 13\b|Permission denied/i.test(message)) {
    return "permission denied (is this user in the docker group?)";
  }
  const tail = message.split("): ").pop() ?? message;
  return tail.replace(/\.$/, "");
}

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) { for (const v of value) params.append(key, v); }
    else if (typeof value === "boolean") params.set(key, value ? "1" : "0");
    else params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
