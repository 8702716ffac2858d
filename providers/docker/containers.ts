/**
 * Container resources of the Engine API: create, start, inspect, logs,
 * wait, stop, kill, remove and list.
 *
 * @module
 */
import type { DockerEngine } from "./engine.ts";
import { DockerError, DockerNotFoundError } from "./engine_errors.ts";
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerWaitResponse,
} from "./engine_types.ts";
import { decodeLogFrames, type LogFrame, LogFrameDecoder } from "./log_frames.ts";
import { BodyTooLargeError, readCappedBytes } from "../read_capped.ts";

/** The most bytes of logs {@link ContainerApi.logs} reads. */
export const MAX_LOGS_BYTES = 8 * 1024 * 1024;
import { path } from "./path.ts";

/** Options shared by calls that can be cancelled. */
export interface SignalOptions {
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** Options of {@link ContainerApi.create}. */
export interface CreateContainerOptions extends SignalOptions {
  /** Container name; the engine picks one if not given. */
  name?: string;
}

/** Options of {@link ContainerApi.logs}. */
export interface LogsOptions extends SignalOptions {
  /**
   * Only the last this many lines; `"all"` for every line.
   * @default "all"
   */
  tail?: number | "all";
  /**
   * Include stdout.
   * @default true
   */
  stdout?: boolean;
  /**
   * Include stderr.
   * @default true
   */
  stderr?: boolean;
  /** Prefix each line with its timestamp. */
  timestamps?: boolean;
  /**
   * The most bytes read by {@link ContainerApi.logs} (more is an error).
   * @default 8388608 (8 MiB)
   */
  maxBytes?: number;
}

/** Options of {@link ContainerApi.wait}. */
export interface WaitOptions extends SignalOptions {
  /**
   * `not-running` returns at once for a stopped container; `next-exit` waits for the next exit.
   * @default "not-running"
   */
  condition?: "not-running" | "next-exit" | "removed";
  /** Seconds to wait; none by default. */
  timeoutS?: number;
}

/** Options of {@link ContainerApi.stop}. */
export interface StopOptions extends SignalOptions {
  /**
   * Seconds between the stop signal and SIGKILL.
   * @default 10
   */
  timeoutS?: number;
}

/** Options of {@link ContainerApi.remove}. */
export interface RemoveOptions extends SignalOptions {
  /**
   * Kill a running container first.
   * @default true
   */
  force?: boolean;
  /**
   * Remove its anonymous volumes.
   * @default true
   */
  volumes?: boolean;
  /**
   * Treat a container that is already gone as removed.
   * @default false
   */
  missingOk?: boolean;
}

/** Options of {@link ContainerApi.list}. */
export interface ListContainersOptions extends SignalOptions {
  /**
   * Include stopped containers.
   * @default true
   */
  all?: boolean;
  /** Label filters, `key` or `key=value`; a container must match all. */
  labels?: string[];
}

/** Container calls of one engine. */
export class ContainerApi {
  #engine: DockerEngine;

  /** Binds the calls to an engine. */
  constructor(engine: DockerEngine) {
    this.#engine = engine;
  }

  /** `POST /containers/create`. */
  create(
    body: ContainerCreateBody,
    options: CreateContainerOptions = {},
  ): Promise<ContainerCreateResponse> {
    return this.#engine.json("POST", "/containers/create", {
      query: { name: options.name },
      json: body,
      signal: options.signal,
    });
  }

  /** `POST /containers/{id}/start` (a running container is not an error). */
  async start(id: string, options: SignalOptions = {}): Promise<void> {
    await this.#engine.call("POST", path`/containers/${id}/start`, options);
  }

  /** `GET /containers/{id}/json`. */
  inspect(id: string, options: SignalOptions = {}): Promise<ContainerInspect> {
    return this.#engine.json("GET", path`/containers/${id}/json`, options);
  }

  /** `GET /containers/{id}/logs`, decoded into frames. */
  async logs(id: string, options: LogsOptions = {}): Promise<LogFrame[]> {
    const query = {
      stdout: options.stdout ?? true,
      stderr: options.stderr ?? true,
      tail: String(options.tail ?? "all"),
      timestamps: options.timestamps,
    };
    const request = { query, signal: options.signal, timeoutS: 30 };
    const bytes = await this.#engine.read(
      "GET",
      path`/containers/${id}/logs`,
      request,
      (res) =>
        readCappedBytes(
          res.body,
          options.maxBytes ?? MAX_LOGS_BYTES,
          `Docker engine (logs of ${id.slice(0, 12)})`,
        ).catch((error) => {
          throw error instanceof BodyTooLargeError
            ? new DockerError(error.message, { cause: error })
            : error;
        }),
    );
    return await decodeLogFrames(bytes);
  }

  /** `GET /containers/{id}/logs?follow=1`: frames as the container writes them, until it stops. */
  async followLogs(id: string, options: LogsOptions = {}): Promise<ReadableStream<LogFrame>> {
    const res = await this.#engine.request("GET", path`/containers/${id}/logs`, {
      query: {
        follow: true,
        stdout: options.stdout ?? true,
        stderr: options.stderr ?? true,
        tail: String(options.tail ?? "all"),
        timestamps: options.timestamps,
      },
      signal: options.signal,
    });
    return (res.body ?? ReadableStream.from<Uint8Array>([])).pipeThrough(new LogFrameDecoder());
  }

  /** `POST /containers/{id}/wait`: resolves with the exit code once the container stops. */
  wait(id: string, options: WaitOptions = {}): Promise<ContainerWaitResponse> {
    return this.#engine.json("POST", path`/containers/${id}/wait`, {
      query: { condition: options.condition ?? "not-running" },
      signal: options.signal,
      timeoutS: options.timeoutS ?? null,
    });
  }

  /** `POST /containers/{id}/stop` (a stopped container is not an error). */
  async stop(id: string, options: StopOptions = {}): Promise<void> {
    const t = options.timeoutS ?? 10;
    await this.#engine.call("POST", path`/containers/${id}/stop`, {
      query: { t: Math.ceil(t) },
      signal: options.signal,
      timeoutS: t + 30,
    });
  }

  /** `POST /containers/{id}/kill`. */
  async kill(id: string, options: SignalOptions & { killSignal?: string } = {}): Promise<void> {
    await this.#engine.call("POST", path`/containers/${id}/kill`, {
      query: { signal: options.killSignal ?? "SIGKILL" },
      signal: options.signal,
    });
  }

  /** `DELETE /containers/{id}?force=1&v=1`. */
  async remove(id: string, options: RemoveOptions = {}): Promise<void> {
    try {
      await this.#engine.call("DELETE", path`/containers/${id}`, {
        query: { force: options.force ?? true, v: options.volumes ?? true },
        signal: options.signal,
      });
    } catch (error) {
      if (options.missingOk && error instanceof DockerNotFoundError) return;
      throw error;
    }
  }

  /** `GET /containers/json`, filtered by labels. */
  list(options: ListContainersOptions = {}): Promise<ContainerSummary[]> {
    const filters = options.labels?.length ? JSON.stringify({ label: options.labels }) : undefined;
    return this.#engine.json("GET", "/containers/json", {
      query: { all: options.all ?? true, filters },
      signal: options.signal,
    });
  }
}
