/**
 * Typed errors of the coding env. Each is an {@link ExecutionError}, so a
 * failure reaches the client as `EXECUTION_ERROR` with its message.
 *
 * @module
 */
import { ExecutionError } from "../../protocol/errors.ts";

/** Options of the coding env's errors. */
export interface CodingErrorOptions {
  /** The underlying error. */
  cause?: unknown;
}

/** The Python worker could not be started or failed its checks before running any code. */
export class WorkerStartError extends ExecutionError {
  /** Name of the error class. */
  override name = "WorkerStartError";
  /** What the worker printed on its way down, if anything. */
  readonly diagnostics: string;
  /** Creates the error. */
  constructor(message: string, options: CodingErrorOptions & { diagnostics?: string } = {}) {
    super(message, { cause: options.cause });
    this.diagnostics = options.diagnostics ?? "";
  }
}

/** The worker broke the pipe protocol: it is killed and replaced. */
export class WorkerProtocolError extends ExecutionError {
  /** Name of the error class. */
  override name = "WorkerProtocolError";
  /** Creates the error. */
  constructor(message: string, options: CodingErrorOptions = {}) {
    super(message, { cause: options.cause });
  }
}

/** A call came while the executor was still running another one. */
export class WorkerBusyError extends ExecutionError {
  /** Name of the error class. */
  override name = "WorkerBusyError";
  /** Creates the error. */
  constructor(message = "The Python worker is busy with another step") {
    super(message);
  }
}

/** Every worker uid of the pool is held by a live session. */
export class UidPoolExhaustedError extends ExecutionError {
  /** Name of the error class. */
  override name = "UidPoolExhaustedError";
  /** First uid of the pool. */
  readonly first: number;
  /** How many uids the pool has. */
  readonly count: number;
  /** Creates the error. */
  constructor(first: number, count: number) {
    super(
      `No free worker uid: all ${count} of ${first}-${
        first + count - 1
      } are in use (raise the pool with ENVTORCH_CODING_UIDS or lower max sessions)`,
    );
    this.first = first;
    this.count = count;
  }
}

/** The executor was closed. */
export class ExecutorClosedError extends ExecutionError {
  /** Name of the error class. */
  override name = "ExecutorClosedError";
  /** Creates the error. */
  constructor(message = "The Python executor is closed") {
    super(message);
  }
}
