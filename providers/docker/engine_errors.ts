/**
 * Typed errors of the Docker Engine API client and the Docker provider. Each
 * is an {@link EnvTorchError}, carries the engine's HTTP status (or 502 when
 * the engine cannot be reached) and the request that failed.
 *
 * @module
 */
import { EnvTorchError, type ErrorCode } from "../../protocol/errors.ts";

/** Options of {@link DockerError}. */
export interface DockerErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /**
   * HTTP status the engine answered with.
   * @default 500
   */
  status?: number;
  /**
   * Wire code of the error.
   * @default "EXECUTION_ERROR"
   */
  code?: ErrorCode;
  /** The request that failed, e.g. `POST /containers/create`. */
  request?: string;
  /** The engine's own message, as it sent it. */
  engineMessage?: string;
}

/** Base class of every Docker error envtorch raises. */
export class DockerError extends EnvTorchError {
  /** The error class name. */
  override name = "DockerError";
  /** The request that failed, e.g. `POST /containers/create`, if any. */
  readonly request?: string;
  /** The engine's own message, if it sent one. */
  readonly engineMessage?: string;

  /** Creates the error. */
  constructor(message: string, options: DockerErrorOptions = {}) {
    super(options.code ?? "EXECUTION_ERROR", options.status ?? 500, message, {
      cause: options.cause,
    });
    this.request = options.request;
    this.engineMessage = options.engineMessage;
  }
}

/** The engine answered 404: no such container, image or exec instance. */
export class DockerNotFoundError extends DockerError {
  /** The error class name. */
  override name = "DockerNotFoundError";
}

/** The engine answered 409: a name in use, a container not running, a removal in progress. */
export class DockerConflictError extends DockerError {
  /** The error class name. */
  override name = "DockerConflictError";
}

/** An image that is not in the engine's store. */
export class ImageNotFoundError extends DockerNotFoundError {
  /** The error class name. */
  override name = "ImageNotFoundError";
  /** The image reference asked for. */
  readonly image: string;
  /** Creates the error. */
  constructor(image: string, message: string, options: DockerErrorOptions = {}) {
    super(message, { status: 404, ...options });
    this.image = image;
  }
}

/** Nothing answers on the engine's socket: the daemon is stopped or the path is wrong. */
export class EngineUnreachableError extends DockerError {
  /** The error class name. */
  override name = "EngineUnreachableError";
  /** Where the engine was looked for, e.g. `/var/run/docker.sock`. */
  readonly socketPath: string;
  /** Creates the error. */
  constructor(socketPath: string, reason: string, options: DockerErrorOptions = {}) {
    super(`Cannot reach the Docker engine at ${socketPath}: ${reason}`, {
      status: 502,
      code: "CONNECTION_ERROR",
      ...options,
    });
    this.socketPath = socketPath;
  }
}

/** An image build that the engine reported as failed. */
export class ImageBuildError extends DockerError {
  /** The error class name. */
  override name = "ImageBuildError";
  /** The last lines the build printed before it failed. */
  readonly output: string;
  /** Creates the error. */
  constructor(message: string, output: string, options: DockerErrorOptions = {}) {
    super(message, options);
    this.output = output;
  }
}

/** The HostConfig the engine reports differs from the hardening envtorch asked for. */
export class HardeningError extends DockerError {
  /** The error class name. */
  override name = "HardeningError";
  /** Each field that differs: what was asked and what the engine reports. */
  readonly mismatches: { field: string; expected: unknown; actual: unknown }[];
  /** Creates the error. */
  constructor(
    message: string,
    mismatches: { field: string; expected: unknown; actual: unknown }[],
  ) {
    super(message);
    this.mismatches = mismatches;
  }
}

/** A container that did not become healthy; carries its last log lines. */
export class ContainerStartError extends DockerError {
  /** The error class name. */
  override name = "ContainerStartError";
  /** The container's last log lines (stdout and stderr). */
  readonly logs: string;
  /** Creates the error. */
  constructor(message: string, logs: string, options: DockerErrorOptions = {}) {
    super(message, { status: 502, code: "CONNECTION_ERROR", ...options });
    this.logs = logs;
  }
}

/** Maps an engine error response to the typed error for its status. */
export function dockerErrorFromResponse(
  status: number,
  engineMessage: string,
  request: string,
): DockerError {
  const message = `Docker engine refused ${request}: ${engineMessage || `HTTP ${status}`}`;
  const options = { status, request, engineMessage };
  if (status === 404) return new DockerNotFoundError(message, options);
  if (status === 409) return new DockerConflictError(message, options);
  return new DockerError(message, options);
}
