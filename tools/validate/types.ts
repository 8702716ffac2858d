/**
 * The public types of the validate suite: options, one check's result, and
 * the report.
 *
 * @module
 */

/** How a check ended. */
export type CheckStatus = "ok" | "fail" | "skip";

/** One check of the suite. */
export interface CheckResult {
  /** Stable id, e.g. `http.health`, `ws.unknown_type`, `ext.delete_session`. */
  id: string;
  /** What the check looks at. */
  title: string;
  /** How it ended. */
  status: CheckStatus;
  /** What was found: why it failed or was skipped, or a note on a pass. */
  detail: string;
  /** How long it took, in milliseconds. */
  duration_ms: number;
}

/** Which protocol implementation a server is, as far as the suite can tell. */
export type ServerKind = "envtorch" | "openenv";

/** What `validateServer` found. */
export interface ValidationReport {
  /** The server checked. */
  target: string;
  /** True when no check failed. */
  ok: boolean;
  /** Checks by outcome. */
  counts: Record<CheckStatus, number>;
  /** Every check, in the order run. */
  checks: CheckResult[];
  /**
   * `envtorch` when the server shows envtorch's extensions (error codes in
   * HTTP errors, the session header, `/metrics`), else `openenv`.
   */
  server: ServerKind;
  /** Whether the server has the envtorch extensions (`server === "envtorch"`). */
  extensions: boolean;
  /** The action the step-based checks used, and where it came from. */
  action?: { value: Record<string, unknown>; source: string };
  /** Names of the MCP tools the env offers (empty when it offers none). */
  tools: string[];
}

/** Options of `validateServer`. */
export interface ValidateOptions {
  /** An action the env accepts; by default one is derived from `/schema` (or the env's tools). */
  action?: Record<string, unknown>;
  /**
   * Where `action` came from, for the report.
   * @default "the given action"
   */
  actionSource?: string;
  /**
   * Whether the same seed and actions must give the same observations
   * (otherwise a difference is reported as a skip).
   * @default false
   */
  deterministic?: boolean;
  /**
   * The seed of the determinism check.
   * @default 42
   */
  seed?: number;
  /**
   * Steps of each seeded episode the determinism check plays.
   * @default 3
   */
  determinismSteps?: number;
  /**
   * Seconds each request may take.
   * @default 30
   */
  timeoutS?: number;
  /** Aborts the run. */
  signal?: AbortSignal;
  /**
   * Token for a server that asks for one.
   * @default $ENVTORCH_TOKEN
   */
  token?: string;
  /** Called when a check starts, for progress. */
  onStart?: (id: string, title: string) => void;
  /** Called when a check ends. */
  onCheck?: (check: CheckResult) => void;
}
