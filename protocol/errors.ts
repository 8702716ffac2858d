/**
 * Typed errors shared by the server and the client. Each carries the wire
 * `code` of docs/protocol.md and the HTTP `status` it maps to, so a server error
 * raised on one side is the same class on the other.
 *
 * @module
 */
import type { z } from "npm:zod@4.6.7";
import { clip, MAX_MESSAGE_CHARS, MAX_QUOTE_CHARS } from "./quote.ts";

/** Error codes of the wire protocol, plus the client-side ones. */
export type ErrorCode =
  | "INVALID_JSON"
  | "UNKNOWN_TYPE"
  | "VALIDATION_ERROR"
  | "EXECUTION_ERROR"
  | "CAPACITY_REACHED"
  | "FACTORY_ERROR"
  | "SESSION_ERROR"
  | "TIMEOUT"
  | "CONNECTION_ERROR"
  | AccessCode;

/**
 * Codes of the requests the server's front door refuses before any route
 * runs: a missing or wrong token (401), a foreign `Origin` (403), a body that
 * is not JSON by its `Content-Type` (415), a `Host` the server does not
 * answer to (421).
 */
export type AccessCode =
  | "UNAUTHORIZED"
  | "ORIGIN_NOT_ALLOWED"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "HOST_NOT_ALLOWED";

const ACCESS_STATUS: Record<AccessCode, number> = {
  UNAUTHORIZED: 401,
  ORIGIN_NOT_ALLOWED: 403,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HOST_NOT_ALLOWED: 421,
};

/** One validation problem, in FastAPI's shape: where, what, and which kind. */
export interface ValidationIssue {
  /** Path to the offending value, e.g. `["body", "action", "message"]`. */
  loc: (string | number)[];
  /** What was wrong. */
  msg: string;
  /** A short kind, e.g. `invalid_type` or `unrecognized_keys`. */
  type: string;
}

/** Options shared by every envtorch error. */
export interface EnvTorchErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Extra data sent with the error on the wire. */
  details?: Record<string, unknown>;
}

/** Base class of every error envtorch raises on purpose. */
export class EnvTorchError extends Error {
  /** The error class name. */
  override name = "EnvTorchError";
  /** Wire code of the error. */
  readonly code: ErrorCode;
  /** HTTP status the error maps to. */
  readonly status: number;
  /** Extra data (e.g. `active_sessions`). */
  readonly details: Record<string, unknown>;

  /** Creates an error with its wire code and HTTP status. */
  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    options: EnvTorchErrorOptions = {},
  ) {
    // Messages may quote what was sent (a key, a type, a peer's reply): cap them.
    super(clip(message, MAX_MESSAGE_CHARS), { cause: options.cause });
    this.code = code;
    this.status = status;
    this.details = options.details ?? {};
  }
}

/** A body or message that is not JSON (or not UTF-8). */
export class InvalidJsonError extends EnvTorchError {
  /** The error class name. */
  override name = "InvalidJsonError";
  /** Creates the error. */
  constructor(message: string, options?: EnvTorchErrorOptions) {
    super("INVALID_JSON", 400, message, options);
  }
}

/** A WebSocket message whose `type` is not known. */
export class UnknownTypeError extends EnvTorchError {
  /** The error class name. */
  override name = "UnknownTypeError";
  /** Creates the error. */
  constructor(message: string, options?: EnvTorchErrorOptions) {
    super("UNKNOWN_TYPE", 400, message, options);
  }
}

/** A body, message, action or option that fails validation. */
export class ValidationError extends EnvTorchError {
  /** The error class name. */
  override name = "ValidationError";
  /** Each problem found. */
  readonly errors: ValidationIssue[];
  /** Creates the error from its issues. */
  constructor(
    message: string,
    errors: ValidationIssue[] = [],
    options: EnvTorchErrorOptions & { status?: number } = {},
  ) {
    errors = capIssues(errors);
    super("VALIDATION_ERROR", options.status ?? 422, message, {
      ...options,
      details: { ...options.details, errors },
    });
    this.errors = errors;
  }

  /** Builds a ValidationError from a zod error; `what` names the thing checked. */
  static fromZod(what: string, error: z.ZodError, loc: (string | number)[] = []): ValidationError {
    const errors = error.issues.map((issue) => ({
      loc: [...loc, ...issue.path.map((p) => typeof p === "symbol" ? String(p) : p)],
      msg: issue.message,
      type: issue.code,
    }));
    const summary = errors
      .map((e) => `${e.loc.slice(loc.length).join(".") || "(root)"}: ${e.msg}`)
      .join("; ");
    return new ValidationError(`Invalid ${what}: ${summary}`, errors, { cause: error });
  }
}

/** At most 50 issues, each with a short `msg`; FastAPI's `input` (the value itself) is dropped. */
function capIssues(errors: ValidationIssue[]): ValidationIssue[] {
  if (!Array.isArray(errors)) return [];
  return errors.slice(0, 50).map((issue) => {
    if (issue === null || typeof issue !== "object") return issue;
    const { input: _input, ...rest } = issue as ValidationIssue & { input?: unknown };
    return {
      ...rest,
      loc: Array.isArray(rest.loc) ? rest.loc.slice(0, 32) : rest.loc,
      msg: typeof rest.msg === "string" ? clip(rest.msg, MAX_QUOTE_CHARS) : rest.msg,
    };
  });
}

/** A request body or message over the size limit. */
export class PayloadTooLargeError extends ValidationError {
  /** The error class name. */
  override name = "PayloadTooLargeError";
  /** Creates the error. */
  constructor(message: string) {
    super(message, [{ loc: ["body"], msg: message, type: "too_big" }], { status: 413 });
  }
}

/** An error raised by the env's own code (reset, step, state). */
export class ExecutionError extends EnvTorchError {
  /** The error class name. */
  override name = "ExecutionError";
  /** Creates the error. */
  constructor(message: string, options?: EnvTorchErrorOptions) {
    super("EXECUTION_ERROR", 500, message, options);
  }
}

/** The server holds `max_sessions` sessions already. */
export class CapacityError extends EnvTorchError {
  /** The error class name. */
  override name = "CapacityError";
  /** Sessions open when the request came. */
  readonly activeSessions: number;
  /** The server's cap. */
  readonly maxSessions: number;
  /** Creates the error. */
  constructor(activeSessions: number, maxSessions: number, options: EnvTorchErrorOptions = {}) {
    super(
      "CAPACITY_REACHED",
      503,
      `Server is at capacity: ${activeSessions} of ${maxSessions} sessions are in use`,
      {
        ...options,
        details: {
          ...options.details,
          active_sessions: activeSessions,
          max_sessions: maxSessions,
        },
      },
    );
    this.activeSessions = activeSessions;
    this.maxSessions = maxSessions;
  }
}

/** The env factory failed to create an env for a new session. */
export class FactoryError extends EnvTorchError {
  /** The error class name. */
  override name = "FactoryError";
  /** Creates the error. */
  constructor(message: string, options?: EnvTorchErrorOptions) {
    super("FACTORY_ERROR", 500, message, options);
  }
}

/** A session-level problem: step before reset, a bad or unknown session id. */
export class SessionError extends EnvTorchError {
  /** The error class name. */
  override name = "SessionError";
  /** Creates the error; `status` is 409 unless given. */
  constructor(message: string, options: EnvTorchErrorOptions & { status?: number } = {}) {
    super("SESSION_ERROR", options.status ?? 409, message, options);
  }
}

/** A call that did not finish in time (client side). */
export class TimeoutError extends EnvTorchError {
  /** The error class name. */
  override name = "TimeoutError";
  /** Creates the error. */
  constructor(message: string, options?: EnvTorchErrorOptions) {
    super("TIMEOUT", 408, message, options);
  }
}

/** The server refused the request at its front door (token, Origin, Host, Content-Type). */
export class AccessError extends EnvTorchError {
  /** The error class name. */
  override name = "AccessError";
  /** Creates the error; the status follows from the code. */
  constructor(code: AccessCode, message: string, options?: EnvTorchErrorOptions) {
    super(code, ACCESS_STATUS[code], message, options);
  }
}

/** The server cannot be reached, or the connection dropped (client side). */
export class ConnectionError extends EnvTorchError {
  /** The error class name. */
  override name = "ConnectionError";
  /** Creates the error. */
  constructor(message: string, options?: EnvTorchErrorOptions) {
    super("CONNECTION_ERROR", 502, message, options);
  }
}

/** The wire form of an error, as sent in a WebSocket `error` message. */
export interface WireError {
  /** What went wrong, for people. */
  message: string;
  /** The error code, for programs. */
  code: ErrorCode | string;
  /** Data the error carries (for a validation error, `errors`). */
  [key: string]: unknown;
}

/** Turns any thrown value into an EnvTorchError (unknown errors become EXECUTION_ERROR). */
export function asEnvTorchError(error: unknown, what = "Env call failed"): EnvTorchError {
  if (error instanceof EnvTorchError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ExecutionError(`${what}: ${message}`, { cause: error });
}

/** The `data` of a WebSocket `error` message for an error. */
export function toWireError(error: EnvTorchError): WireError {
  return { ...error.details, message: error.message, code: error.code };
}

/** The HTTP response body of an error, FastAPI-compatible (`detail`). */
export function toHttpBody(error: EnvTorchError): Record<string, unknown> {
  if (error instanceof ValidationError) {
    return { detail: error.errors, message: error.message, code: error.code };
  }
  return { ...error.details, detail: error.message, code: error.code };
}

/** Rebuilds a typed error from a wire code, message and extra data. */
export function errorFromWire(data: WireError, status?: number): EnvTorchError {
  const { message, code, ...rest } = data;
  const msg = String(message ?? "Unknown error");
  switch (code) {
    case "INVALID_JSON":
      return new InvalidJsonError(msg, { details: rest });
    case "UNKNOWN_TYPE":
      return new UnknownTypeError(msg, { details: rest });
    case "VALIDATION_ERROR": {
      const errors = Array.isArray(rest.errors) ? rest.errors as ValidationIssue[] : [];
      if (status === 413) return new PayloadTooLargeError(msg);
      return new ValidationError(msg, errors, { status });
    }
    case "CAPACITY_REACHED":
      return new CapacityError(
        Number(rest.active_sessions ?? 0),
        Number(rest.max_sessions ?? 0),
        { details: rest },
      );
    case "FACTORY_ERROR":
      return new FactoryError(msg, { details: rest });
    case "SESSION_ERROR":
      return new SessionError(msg, { details: rest, status });
    case "TIMEOUT":
      return new TimeoutError(msg, { details: rest });
    case "EXECUTION_ERROR":
      return new ExecutionError(msg, { details: rest });
    case "UNAUTHORIZED":
    case "ORIGIN_NOT_ALLOWED":
    case "UNSUPPORTED_MEDIA_TYPE":
    case "HOST_NOT_ALLOWED":
      return new AccessError(code, msg, { details: rest });
    case "CONNECTION_ERROR":
      // A proxy in front of the server (a port forward to a Pod that is gone) says why.
      return new ConnectionError(msg, { details: rest });
    default:
      return new EnvTorchError(
        "EXECUTION_ERROR",
        status ?? 500,
        code ? `${msg} (${code})` : msg,
        { details: rest },
      );
  }
}

/**
 * Rebuilds a typed error from an HTTP error response: envtorch's
 * `{detail, code}` bodies and FastAPI's `{detail}` bodies alike.
 */
export function errorFromHttp(status: number, body: unknown): EnvTorchError {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const detail = b.detail;
  if (Array.isArray(detail)) {
    const errors = detail as ValidationIssue[];
    const message = typeof b.message === "string"
      ? b.message
      : `Invalid request: ${errors.map((e) => `${(e.loc ?? []).join(".")}: ${e.msg}`).join("; ")}`;
    return status === 413
      ? new PayloadTooLargeError(message)
      : new ValidationError(message, errors, { status });
  }
  const message = typeof detail === "string"
    ? detail
    : typeof b.message === "string"
    ? b.message
    : typeof body === "string" && body
    ? body
    : `Server answered HTTP ${status}`;
  const code = typeof b.code === "string" ? b.code : codeForStatus(status);
  const { detail: _detail, message: _message, code: _code, ...extra } = b;
  return errorFromWire({ ...extra, message, code }, status);
}

function codeForStatus(status: number): ErrorCode {
  if (status === 400) return "INVALID_JSON";
  if (status === 404 || status === 409) return "SESSION_ERROR";
  if (status === 413 || status === 422) return "VALIDATION_ERROR";
  if (status === 503) return "CAPACITY_REACHED";
  for (const [code, s] of Object.entries(ACCESS_STATUS)) {
    if (s === status) return code as AccessCode;
  }
  return "EXECUTION_ERROR";
}
