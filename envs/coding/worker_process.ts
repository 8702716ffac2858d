/**
 * One Python worker as seen from Deno: the keeper process this module
 * spawns, and the runner the keeper forks (see runner.py). Everything here is
 * async: the server's event loop never waits on the worker.
 *
 * Deno only ever signals the keeper, its own child, whose pid cannot be
 * reused while Deno has not reaped it: SIGUSR1 asks the keeper to interrupt
 * the runner (SIGINT), SIGTERM asks it to kill the runner (SIGKILL). The
 * keeper then kills everything the worker left, reaps it, and exits with the
 * runner's own status.
 *
 * @module
 */
import { WorkerProtocolError, WorkerStartError } from "./errors.ts";
import { encodeFrame, encodeRawFrame, FrameDecoder } from "./frames.ts";

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
  /** Pid of this server: the keeper kills the worker if it is reparented away from it. */
  parent_pid: number;
  /** Folder holding the episode folders (created by the runner: root-owned, group = gid, 0770). */
  work_parent: string;
  /** Name of this episode's folder inside `work_parent` (created by the worker, 0700). */
  work_name: string;
  /** Remove earlier episodes' files before starting. */
  fresh: boolean;
  /** File the user's fd 1 writes to. */
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
    nproc?: number | null;
  };
  /** Value written to /proc/self/oom_score_adj. */
  oom_score_adj: number;
  /** Shared temp folders swept of the worker uid's files at a fresh start. */
  sweep: string[];
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
  /** Hard limits read back. */
  rlimits: Record<string, number>;
  /** Python version. */
  python: string;
  /** Interpreter path. */
  executable: string;
}

/** How the worker ended: the runner's own status, mirrored by the keeper. */
export interface ExitStatus {
  /** Exit code (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, if any. */
  signal: Deno.Signal | null;
}

/** Options of {@link WorkerProcess.start}. */
export interface WorkerStartOptions {
  /** Absolute path of the interpreter. */
  python: string;
  /** The config frame. */
  config: WorkerConfig;
  /** Working folder of the keeper (the session folder). */
  cwd: string;
  /** Milliseconds to wait for `ready` (or `reaped`). */
  timeoutMs: number;
  /** Largest frame accepted from the runner, in bytes. */
  maxFrameBytes: number;
}

/** Runs the runner's source, sent as the first frame on fd 0. */
const BOOTSTRAP = `import os
def r(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            raise SystemExit(70)
        b += c
    return b
exec(compile(r(int.from_bytes(r(4), "big")), "envtorch_runner.py", "exec"))
`;

const RUNNER_URL = new URL("./runner.py", import.meta.url);
let runnerSource: Promise<Uint8Array> | undefined;

function loadRunner(): Promise<Uint8Array> {
  return runnerSource ??=
    (RUNNER_URL.protocol === "file:"
      ? Deno.readFile(RUNNER_URL)
      : fetch(RUNNER_URL).then(async (res) => new Uint8Array(await res.arrayBuffer())))
      .catch((error) => {
        runnerSource = undefined;
        throw error;
      });
}

const DIAGNOSTICS_BYTES = 8192;
const MAX_QUEUED_MESSAGES = 4;

/** A timer as a promise, with a way to cancel it. */
export function delay(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    id = setTimeout(() => resolve("timeout"), Math.max(0, ms));
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/** A spawned keeper + runner pair. */
export class WorkerProcess {
  /** The keeper's pid (Deno's child). */
  readonly keeperPid: number;
  /** Resolves with the runner's status once the keeper has cleaned up and exited. */
  readonly exited: Promise<ExitStatus>;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder: FrameDecoder;
  #messages: Record<string, unknown>[] = [];
  #waiters: { resolve(m: Record<string, unknown> | null): void; reject(e: unknown): void }[] = [];
  #eof = false;
  #failure?: WorkerProtocolError;
  #pumped: Promise<void>;
  #diag = "";
  #diagDone: Promise<void>;
  #status?: ExitStatus;
  #stopping?: Promise<ExitStatus>;

  private constructor(child: Deno.ChildProcess, maxFrameBytes: number) {
    this.#child = child;
    this.keeperPid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.getReader();
    this.#decoder = new FrameDecoder(maxFrameBytes);
    this.exited = child.status.then((s) => {
      this.#status = { code: s.code, signal: s.signal };
      return this.#status;
    });
    this.#pumped = this.#pump();
    this.#diagDone = this.#collectDiagnostics(child.stderr);
  }

  /**
   * Spawns the keeper, sends the runner and its config, and waits for the
   * runner's first message: `ready` in run mode, `reaped` in reap mode.
   */
  static async start(
    options: WorkerStartOptions,
  ): Promise<{ worker: WorkerProcess; first: Record<string, unknown> }> {
    const source = await loadRunner();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(options.python, {
        args: ["-I", "-B", "-u", "-c", BOOTSTRAP],
        cwd: options.cwd,
        clearEnv: true,
        env: {},
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new WorkerStartError(
        `Cannot start the Python worker ${options.python}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const worker = new WorkerProcess(child, options.maxFrameBytes);
    const timer = delay(options.timeoutMs);
    try {
      await worker.send(encodeRawFrame(source), encodeFrame(options.config));
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
      return { worker, first };
    } catch (error) {
      await worker.stop();
      const diagnostics = worker.diagnostics();
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

  /** The keeper's status once it has exited, else undefined. */
  get status(): ExitStatus | undefined {
    return this.#status;
  }

  /** Writes frames to the runner (as bytes, or messages to encode). */
  async send(...frames: (Uint8Array | Record<string, unknown>)[]): Promise<void> {
    for (const frame of frames) {
      await this.#writer.write(frame instanceof Uint8Array ? frame : encodeFrame(frame));
    }
  }

  /**
   * The next message from the runner, or null once its pipe has closed.
   * Rejects with WorkerProtocolError if the runner broke the protocol.
   */
  receive(): Promise<Record<string, unknown> | null> {
    const message = this.#messages.shift();
    if (message) return Promise.resolve(message);
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#eof) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Asks the keeper to interrupt the runner (SIGINT). */
  interrupt(): void {
    this.#signal("SIGUSR1");
  }

  /**
   * Kills the runner through the keeper, waits until the keeper has cleaned
   * up and exited, and closes the pipes. Kills the keeper itself if it does
   * not exit within `graceMs`. Safe to call twice.
   */
  stop(graceMs = 5000): Promise<ExitStatus> {
    return this.#stopping ??= (async () => {
      if (!this.#status) this.#signal("SIGTERM");
      const timer = delay(graceMs);
      const first = await Promise.race([this.exited, timer.promise]);
      timer.cancel();
      if (first === "timeout") this.#signal("SIGKILL");
      const status = await this.exited;
      await this.#writer.close().catch(() => {});
      // Orphans of a keeper that had to be killed may hold the pipes: stop reading after a while.
      const drained = delay(1000);
      const done = await Promise.race([
        Promise.all([this.#pumped, this.#diagDone]),
        drained.promise,
      ]);
      drained.cancel();
      if (done === "timeout") {
        await this.#reader.cancel().catch(() => {});
        await Promise.all([this.#pumped, this.#diagDone]);
      }
      return status;
    })();
  }

  /** The last lines the keeper or the runner wrote to stderr before user code ran. */
  diagnostics(): string {
    return this.#diag.trim();
  }

  #signal(signal: Deno.Signal): void {
    if (this.#status) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        for (const message of this.#decoder.push(value)) this.#deliver(message);
      }
      if (this.#decoder.buffered > 0) {
        this.#failure = new WorkerProtocolError("Python worker closed its pipe mid-frame");
      }
    } catch (error) {
      this.#failure = error instanceof WorkerProtocolError ? error : new WorkerProtocolError(
        `Cannot read from the Python worker: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
      await this.#reader.cancel().catch(() => {});
    } finally {
      this.#eof = true;
      for (const waiter of this.#waiters.splice(0)) {
        if (this.#failure) waiter.reject(this.#failure);
        else waiter.resolve(null);
      }
    }
  }

  #deliver(message: Record<string, unknown>): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(message);
    else if (this.#messages.length < MAX_QUEUED_MESSAGES) this.#messages.push(message);
    else {
      // The runner answers one request with one frame: a flood is an attack on the server's memory.
      throw new WorkerProtocolError(
        `Python worker sent more than ${MAX_QUEUED_MESSAGES} frames nobody asked for`,
      );
    }
  }

  /** Frames received and not yet taken by {@link receive}. */
  get unread(): number {
    return this.#messages.length;
  }

  async #collectDiagnostics(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#diag = (this.#diag + decoder.decode(chunk, { stream: true })).slice(
          -DIAGNOSTICS_BYTES,
        );
      }
    } catch {
      // The pipe broke: what we have is what there is.
    }
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

/** "exit code 3" or "signal SIGSEGV". */
export function describeStatus(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}
