/**
 * One Python worker as seen from Deno: a runner the zygote forked (see
 * zygote.ts and runner.py), talking over its own unix socket. Everything
 * here is async: the server's event loop never waits on the worker.
 *
 * Deno never signals the runner itself: the zygote, its parent, does it on
 * request, so no pid is ever signalled after it was reused. When the runner
 * dies, the zygote kills everything the worker left, reaps it, and reports
 * the runner's own status.
 *
 * @module
 */
import { WorkerProtocolError, WorkerStartError } from "./errors.ts";
import { FrameChannel } from "./frame_channel.ts";
import { startTime } from "./procfs.ts";
import { describeStatus, type ExitStatus, Zygote } from "./zygote.ts";

export { describeStatus, type ExitStatus };

/** The config frame the runner reads (snake_case, as Python reads it). */
export interface WorkerConfig {
  /** `run`: serve steps; `reap`: clean up the uid's processes and files, then exit. */
  mode: "run" | "reap";
  /** Drop to `uid`/`gid` before any user code (needs root or CAP_SETUID/CAP_SETGID). */
  drop: boolean;
  /** Worker uid (when `drop`). */
  uid: number;
  /** Worker gid (when `drop`). */
  gid: number;
  /** Folder holding the episode folders (created by the runner: root-owned, group = gid, 0770). */
  work_parent: string;
  /** Name of this episode's folder inside `work_parent` (created by the worker, 0700). */
  work_name: string;
  /** Remove earlier episodes' files before starting. */
  fresh: boolean;
  /** File the user's fd 1 writes to (the runner creates or empties it, as root, 0600). */
  out_path: string;
  /** File the user's fd 2 writes to. */
  err_path: string;
  /** Bytes of stdout and of stderr kept per step. */
  max_output: number;
  /** Limits, set with soft = hard. */
  rlimits: {
    as: number;
    cpu: number;
    fsize: number;
    nofile: number;
    core: number;
    stack: number;
    nproc?: number | null;
  };
  /** Value written to /proc/self/oom_score_adj. */
  oom_score_adj: number;
  /** Shared temp folders swept of the worker uid's files at a fresh start. */
  sweep: string[];
  /**
   * Run the step machinery once on throwaway code before `ready`, so that
   * the worker's first step does not take its copy-on-write page faults.
   */
  warm?: boolean;
}

/** What the runner reports once it is ready for user code. */
export interface ReadyInfo {
  /** Runner pid. */
  pid: number;
  /** Runner session id. */
  sid: number;
  /** Runner process group id. */
  pgid: number;
  /** Runner uid after the drop. */
  uid: number;
  /** Runner gid after the drop. */
  gid: number;
  /** Supplementary groups after the drop. */
  groups: number[];
  /** oom_score_adj read back, or null if it could not be set. */
  oom_score_adj: number | null;
  /** Whether the runner is a child subreaper. */
  subreaper: boolean;
  /** Whether no_new_privs is set. */
  no_new_privs: boolean;
  /** The episode folder. */
  cwd: string;
  /** The episode's private temp folder ($TMPDIR and $HOME, 0700). */
  tmp: string;
  /** Hard limits read back. */
  rlimits: Record<string, number>;
  /** Python version. */
  python: string;
  /** Interpreter path. */
  executable: string;
}

/** Options of {@link WorkerProcess.start}. */
export interface WorkerStartOptions {
  /** Absolute path of the interpreter. */
  python: string;
  /** The config frame. */
  config: WorkerConfig;
  /** Where the zygote's socket folder goes (the session folders' parent). */
  tempDir?: string;
  /** Milliseconds to wait for `ready` (or `reaped`). */
  timeoutMs: number;
  /** Largest frame accepted from the runner, in bytes. */
  maxFrameBytes: number;
  /**
   * A worker of the same zygote and uid that this one replaces: the zygote
   * kills it, and forks once it is gone (call its {@link WorkerProcess.stop}
   * afterwards).
   */
  replaces?: WorkerProcess;
}

/** A timer as a promise, with a way to cancel it. */
export function delay(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    id = setTimeout(() => resolve("timeout"), Math.max(0, ms));
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/** A runner forked by the zygote. */
export class WorkerProcess {
  /** The runner's parent: the zygote's pid. */
  readonly parentPid: number;
  /** The runner's pid. */
  readonly pid: number;
  /** Resolves with the runner's status once the zygote has cleaned up after it. */
  readonly exited: Promise<ExitStatus>;
  #zygote: Zygote;
  #conn: Deno.UnixConn;
  #channel: FrameChannel;
  #status?: ExitStatus;
  #stopping?: Promise<ExitStatus>;
  #frozen = false;
  #released = false;
  /** The zygote has killed it already (a worker that replaced it was forked). */
  #killed = false;
  /** The runner's start time: with its pid, names it even after the pid is reused. */
  #start?: string;

  private constructor(
    zygote: Zygote,
    spawned: { pid: number; conn: Deno.UnixConn; exited: Promise<ExitStatus> },
    maxFrameBytes: number,
  ) {
    this.#zygote = zygote;
    this.parentPid = zygote.pid;
    this.pid = spawned.pid;
    this.#conn = spawned.conn;
    this.#channel = new FrameChannel(spawned.conn, { maxFrameBytes });
    this.exited = spawned.exited.then((status) => {
      this.#status = status;
      return status;
    });
  }

  /**
   * Has the zygote fork a worker with its config, and waits for the
   * runner's first message: `ready` in run mode, `reaped` in reap mode.
   */
  static async start(
    options: WorkerStartOptions,
  ): Promise<{ worker: WorkerProcess; first: Record<string, unknown> }> {
    const zygote = await Zygote.acquire(options.python, options.tempDir);
    let worker: WorkerProcess | undefined;
    const timer = delay(options.timeoutMs);
    try {
      const replaces = options.replaces && !options.replaces.status &&
          options.replaces.parentPid === zygote.pid
        ? options.replaces
        : undefined;
      const spawned = await zygote.spawn(
        options.config as unknown as Record<string, unknown>,
        options.timeoutMs,
        replaces?.pid,
      );
      // The zygote killed it before the fork: its stop() only has to wait for its end.
      if (replaces) replaces.#killed = true;
      worker = new WorkerProcess(zygote, spawned, options.maxFrameBytes);
      const first = await Promise.race([worker.receive(), timer.promise]);
      if (first === "timeout") {
        throw new WorkerStartError(
          `Python worker was not ready after ${options.timeoutMs / 1000} s`,
        );
      }
      if (first === null) {
        const status = await worker.stop();
        throw new WorkerStartError(
          `Python worker exited before it was ready (${describeStatus(status)})`,
        );
      }
      if (first.op === "fatal") {
        throw new WorkerStartError(`Python worker failed to start: ${String(first.message)}`);
      }
      const expected = options.config.mode === "run" ? "ready" : "reaped";
      if (first.op !== expected) {
        throw new WorkerProtocolError(
          `Python worker sent ${JSON.stringify(first.op)} instead of ${expected}`,
        );
      }
      worker.#start = await startTime(worker.pid);
      return { worker, first };
    } catch (error) {
      if (worker) await worker.stop();
      else await zygote.release();
      const diagnostics = zygote.diagnostics;
      if (error instanceof WorkerStartError) {
        throw new WorkerStartError(
          diagnostics ? `${error.message}\n${diagnostics}` : error.message,
          { cause: error.cause, diagnostics },
        );
      }
      throw new WorkerStartError(
        `Cannot start the Python worker: ${(error as Error).message}${
          diagnostics ? `\n${diagnostics}` : ""
        }`,
        { cause: error, diagnostics },
      );
    } finally {
      timer.cancel();
    }
  }

  /** The runner's start time from /proc (with its pid, it names the process), read at its start. */
  get startTime(): string | undefined {
    return this.#start;
  }

  /** The runner's status once it has died and been cleaned up after, else undefined. */
  get status(): ExitStatus | undefined {
    return this.#status;
  }

  /** Whether the runner is stopped between steps (see {@link freeze}). */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** Writes frames to the runner (as bytes, or messages to encode); thaws it first. */
  async send(...frames: (Uint8Array | Record<string, unknown>)[]): Promise<void> {
    if (this.#frozen) {
      this.#frozen = false;
      this.#zygote.thaw(this.pid);
    }
    await this.#channel.send(...frames);
  }

  /**
   * The next message from the runner, or null once its socket has closed.
   * Rejects with WorkerProtocolError if the runner broke the protocol.
   */
  receive(): Promise<Record<string, unknown> | null> {
    return this.#channel.receive();
  }

  /**
   * Interrupts the runner (SIGINT): straight from the server when the pid
   * still names the runner (the zygote may be slow to get the CPU while a
   * step hogs it), else through the zygote.
   */
  interrupt(): void {
    if (this.#status) return;
    void this.#direct("SIGINT").then((sent) => {
      if (!sent) this.#zygote.signal(this.pid, "INT");
    });
  }

  /** Signals the runner from here, if its pid still names it; returns whether it did. */
  async #direct(signal: "SIGINT" | "SIGKILL"): Promise<boolean> {
    if (this.#status || !this.#start || await startTime(this.pid) !== this.#start) return false;
    try {
      Deno.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops the runner (SIGSTOP) and kills every other process of the worker,
   * until the next {@link send}: for a step that left threads running in
   * the runner, which could start processes after the step. Returns how
   * many processes were killed, or undefined if it could not freeze.
   */
  async freeze(): Promise<number | undefined> {
    if (this.#status) return undefined;
    const { ok, killed } = await this.#zygote.freeze(this.pid);
    if (ok) this.#frozen = true;
    return ok ? killed : undefined;
  }

  /**
   * Kills the runner through the zygote, waits until the zygote has cleaned
   * up after it, and closes the socket. Safe to call twice.
   */
  stop(graceMs = 5000): Promise<ExitStatus> {
    return this.#stopping ??= (async () => {
      if (!this.#status && !this.#killed) {
        this.#zygote.signal(this.pid, "KILL");
        await this.#direct("SIGKILL");
      }
      const timer = delay(graceMs);
      const first = await Promise.race([this.exited, timer.promise]);
      timer.cancel();
      let status: ExitStatus;
      if (first === "timeout") {
        status = { code: 137, signal: "SIGKILL" };
        this.#status = status;
      } else status = first;
      try {
        this.#conn.close();
      } catch {
        // Closed already.
      }
      await this.#channel.ended;
      if (!this.#released) {
        this.#released = true;
        await this.#zygote.release();
      }
      return status;
    })();
  }

  /** What the zygote wrote to stderr: its own failures, never the worker's. */
  diagnostics(): string {
    return this.#zygote.diagnostics;
  }

  /** Frames received and not yet taken by {@link receive}. */
  get unread(): number {
    return this.#channel.unread;
  }
}

/** Numbers of the signals a worker may die of. */
export const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGSYS: 31,
};
