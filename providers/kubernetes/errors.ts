/**
 * Typed errors of the Kubernetes client and provider. Each is an
 * {@link EnvTorchError} and carries the API server's HTTP status (or 502
 * when it cannot be reached) and the request that failed.
 *
 * @module
 */
import { EnvTorchError, type ErrorCode } from "../../protocol/errors.ts";

/** Options of {@link KubernetesError}. */
export interface KubernetesErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /**
   * HTTP status the API server answered with.
   * @default 500
   */
  status?: number;
  /**
   * Wire code of the error.
   * @default "EXECUTION_ERROR"
   */
  code?: ErrorCode;
  /** The request that failed, e.g. `POST /api/v1/namespaces/default/pods`. */
  request?: string;
  /** The `reason` of the API server's Status object, e.g. `NotFound`, `AlreadyExists`. */
  reason?: string;
}

/** Base class of every Kubernetes error envtorch raises. */
export class KubernetesError extends EnvTorchError {
  /** The error class name. */
  override name = "KubernetesError";
  /** The request that failed, if any. */
  readonly request?: string;
  /** The Status reason the API server sent, if any. */
  readonly reason?: string;

  /** Creates the error. */
  constructor(message: string, options: KubernetesErrorOptions = {}) {
    super(options.code ?? "EXECUTION_ERROR", options.status ?? 500, message, {
      cause: options.cause,
    });
    this.request = options.request;
    this.reason = options.reason;
  }
}

/** The API server answered 404. */
export class KubernetesNotFoundError extends KubernetesError {
  /** The error class name. */
  override name = "KubernetesNotFoundError";
}

/** The API server answered 409 (a name in use, a conflicting update). */
export class KubernetesConflictError extends KubernetesError {
  /** The error class name. */
  override name = "KubernetesConflictError";
}

/** The API server answered 401 or 403. */
export class KubernetesForbiddenError extends KubernetesError {
  /** The error class name. */
  override name = "KubernetesForbiddenError";
}

/** The API server could not be reached at all (refused, TLS failure, DNS). */
export class ClusterUnreachableError extends KubernetesError {
  /** The error class name. */
  override name = "ClusterUnreachableError";
  /** The API server's URL. */
  readonly server: string;

  /** Creates the error. */
  constructor(server: string, message: string, options: KubernetesErrorOptions = {}) {
    super(message, { status: 502, code: "CONNECTION_ERROR", ...options });
    this.server = server;
  }
}

/** The kubeconfig is missing, malformed or asks for something envtorch does not support. */
export class KubeConfigError extends KubernetesError {
  /** The error class name. */
  override name = "KubeConfigError";
}

/** A Pod did not become reachable: it failed, was deleted, or timed out. Carries its last log lines. */
export class PodStartError extends KubernetesError {
  /** The error class name. */
  override name = "PodStartError";
  /** The Pod's last log lines, if any could be read. */
  readonly logs: string;

  /** Creates the error. */
  constructor(message: string, logs: string, options: KubernetesErrorOptions = {}) {
    super(message, options);
    this.logs = logs;
  }
}

/** One field of a Pod the API server reports differently from what envtorch asked for. */
export interface PodMismatch {
  /** e.g. `spec.containers[0].securityContext.readOnlyRootFilesystem`. */
  field: string;
  /** What envtorch asked for. */
  expected: unknown;
  /** What the API server reports. */
  actual: unknown;
}

/** The Pod the API server stored is not hardened as asked (an admission webhook or an old server dropped a field). */
export class PodHardeningError extends KubernetesError {
  /** The error class name. */
  override name = "PodHardeningError";
  /** Every field that differs. */
  readonly mismatches: PodMismatch[];

  /** Creates the error. */
  constructor(message: string, mismatches: PodMismatch[]) {
    super(message, { status: 500 });
    this.mismatches = mismatches;
  }
}

/** Maps an API server error response to the typed error. */
export function kubernetesErrorFromResponse(
  status: number,
  body: unknown,
  request: string,
): KubernetesError {
  const b = (body && typeof body === "object" ? body : {}) as {
    message?: string;
    reason?: string;
  };
  const text = typeof body === "string" && body.trim() ? body.trim() : undefined;
  const detail = b.message ?? text ?? `HTTP ${status}`;
  const message = `Kubernetes ${request} failed: ${detail}`;
  const options = { status, request, reason: b.reason };
  if (status === 404) return new KubernetesNotFoundError(message, options);
  if (status === 409) return new KubernetesConflictError(message, options);
  if (status === 401 || status === 403) return new KubernetesForbiddenError(message, options);
  return new KubernetesError(message, options);
}
