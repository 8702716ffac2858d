/**
 * The options and results of the coding env's Python executor
 * (`PythonExecutor` in executor.ts).
 *
 * @module
 */
import type { UidPool } from "./uid_pool.ts";

/** Whose uid the worker runs under. */
export type WorkerUser = "auto" | "dedicated" | "server";

/** Options of `PythonExecutor.start`. */
export interface ExecutorOptions {
  /**
   * Absolute path of the Python interpreter.
   * @default $ENVTORCH_PYTHON, else /usr/bin/python3, else python3's sys.executable
   */
  python?: string;
  /**
   * Seconds a step may run when the caller gives no timeout.
   * @default 10
   */
  timeoutS?: number;
  /**
   * Milliseconds between the SIGINT of a timed-out step and the SIGKILL.
   * @default 250
   */
  interruptGraceMs?: number;
  /**
   * Bytes of stdout, and of stderr, kept per step; the rest is cut and `truncated` is set.
   * @default 65536
   */
  maxOutputBytes?: number;
  /**
   * Address space of the worker (RLIMIT_AS), in bytes.
   * @default 1073741824 (1 GiB)
   */
  memoryBytes?: number;
  /**
   * CPU seconds over the worker's life (RLIMIT_CPU); past it the kernel kills it and it respawns.
   * @default 600
   */
  cpuSeconds?: number;
  /**
   * Largest file the worker may write (RLIMIT_FSIZE), in bytes.
   * @default 67108864 (64 MiB)
   */
  fileSizeBytes?: number;
  /**
   * Open files per process (RLIMIT_NOFILE).
   * @default 256
   */
  openFiles?: number;
  /**
   * Stack size (RLIMIT_STACK, soft = hard), in bytes.
   * @default 8388608 (8 MiB)
   */
  stackBytes?: number;
  /**
   * Processes and threads of the worker uid (RLIMIT_NPROC). Only applied with
   * a dedicated uid: the limit counts every process of the uid on the host,
   * so it must never be set on a shared one. In a container, PidsLimit does
   * this job for the container as a whole, and this limit keeps one session
   * from taking all of it.
   * @default $ENVTORCH_CODING_MAX_PROCESSES, else undefined (not set)
   */
  maxProcesses?: number;
  /**
   * `auto`: a dedicated uid when the server is root, else the server's own;
   * `dedicated`: a dedicated uid or an error; `server`: always the server's own.
   * @default "auto"
   */
  user?: WorkerUser;
  /**
   * Where dedicated uids come from.
   * @default defaultUidPool() ($ENVTORCH_CODING_UIDS, else 60600-60663)
   */
  uidPool?: UidPool;
  /**
   * Folder under which each session gets its private folder.
   * @default $ENVTORCH_CODING_DIR, else Deno's temp folder ($TMPDIR or /tmp)
   */
  tempDir?: string;
  /**
   * Shared, world-writable folders swept of the worker uid's files at each new
   * episode (only with a dedicated uid).
   * @default ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"]
   */
  sweepDirs?: string[];
  /**
   * Seconds to wait for a worker to start.
   * @default 15
   */
  startTimeoutS?: number;
  /**
   * Seconds without a step, call or reset after which the spare worker is
   * stopped, so that an idle session holds one process; the next step
   * starts a new spare for the next reset. `Infinity` keeps it.
   * @default 5
   */
  spareIdleS?: number;
  /**
   * Take `/tmp` (and `/dev/shm`) away from workers: `/tmp` becomes 0711
   * (no listing, no new files), `/dev/shm` 1733 (no listing).
   * Only for a machine of its own, such as the coding container: on a
   * shared host it would lock other users out of `/tmp`. Needs root.
   * @default $ENVTORCH_CODING_SEAL_TMP === "1"
   */
  sealTempDirs?: boolean;
}

/** Options of one `PythonExecutor.run`. */
export interface RunOptions {
  /** Seconds this step may run; the executor's `timeoutS` if absent. */
  timeoutS?: number;
  /** Aborting it ends the step as a timeout does. */
  signal?: AbortSignal;
}

/** What one step gave. */
export interface ExecResult {
  /** What the code wrote to fd 1 (cut at `maxOutputBytes`; invalid UTF-8 replaced). */
  stdout: string;
  /** What the code wrote to fd 2, tracebacks included. */
  stderr: string;
  /** 0, 1 for an uncaught exception, n for SystemExit(n), the code of os._exit, or -N for signal N. */
  exit_code: number;
  /** The step ran out of time. */
  timed_out: boolean;
  /** stdout or stderr was cut. */
  truncated: boolean;
  /** The interpreter was replaced: variables, functions and imports are gone (files stay). */
  state_lost: boolean;
  /** Wall-clock time of the step, in milliseconds. */
  duration_ms: number;
  /** The signal that ended the worker, if one did. */
  signal: string | null;
  /** Processes the step left running that were killed at its end. */
  processes_killed: number;
  /** Threads alive in the worker after the step (1 when only the main thread). */
  threads: number;
  /** What the executor did beyond running the code, in plain words. */
  notes: string[];
}

/**
 * What one `PythonExecutor.call` gave, checked only for its shape: the
 * worker is untrusted, so `value` is passed on as the tagged JSON it sent,
 * for the grader to decode (see grader.py).
 */
export type CallReply =
  | { ok: true; callable: true }
  | { ok: true; value: unknown }
  | { ok: false; type: string; message: string; timed_out?: boolean; state_lost?: boolean };

/** Options of one `PythonExecutor.call`. */
export interface CallOptions {
  /** Seconds the call may run before it is interrupted. */
  timeoutS: number;
  /** Aborting it ends the call as a timeout does. */
  signal?: AbortSignal;
}

/** The executor's defaults, where an option is absent. */
export const DEFAULTS = {
  timeoutS: 10,
  interruptGraceMs: 250,
  maxOutputBytes: 65536,
  memoryBytes: 1 << 30,
  cpuSeconds: 600,
  fileSizeBytes: 64 << 20,
  openFiles: 256,
  stackBytes: 8 << 20,
  startTimeoutS: 15,
  spareIdleS: 5,
  sweepDirs: ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"],
};

/** Environment variable that sets {@link ExecutorOptions.sealTempDirs} ("1"). */
export const SEAL_TMP_ENV = "ENVTORCH_CODING_SEAL_TMP";

/** Environment variable that sets {@link ExecutorOptions.maxProcesses}. */
export const MAX_PROCESSES_ENV = "ENVTORCH_CODING_MAX_PROCESSES";

/** {@link ExecutorOptions.maxProcesses} from its environment variable, if set. */
export function maxProcessesFromEnv(): number | undefined {
  let text: string | undefined;
  try {
    text = Deno.env.get(MAX_PROCESSES_ENV);
  } catch {
    return undefined;
  }
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new TypeError(
      `${MAX_PROCESSES_ENV} must be a positive integer, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}
