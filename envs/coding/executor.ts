/**
 * The Python executor of the coding env: one persistent, locked-down Python
 * worker per session, driven over pipes without ever blocking the event loop.
 *
 * Lockdown (see docs/security.md, "Python executor"):
 * - a dedicated uid and gid from a pool when the server is root (one per
 *   session, so sessions cannot read each other's files or signal each
 *   other), with no supplementary groups and no_new_privs;
 * - its own session and process group, an empty environment, stdin at EOF,
 *   rlimits with soft = hard (address space, CPU seconds, file size, open
 *   files, core 0, and processes only if asked, on a dedicated uid),
 *   oom_score_adj 1000;
 * - a fresh folder per episode (0700, owned by the worker uid) as its cwd;
 * - a wall-clock timeout per step: SIGINT, a short grace, then SIGKILL of the
 *   runner and of every process of the worker uid, a respawn, and an
 *   observation that says so (`timed_out`, `state_lost`);
 * - nothing a step starts outlives it: the worker kills every other process
 *   of its uid at the end of each step.
 *
 * @module
 */
import {
  ExecutorClosedError,
  WorkerBusyError,
  WorkerProtocolError,
  WorkerStartError,
} from "./errors.ts";
import { describeIsolation, type Isolation } from "./isolation.ts";
import { processesOfUid, readProcess } from "./procfs.ts";
import { resolvePython } from "./python.ts";
import { readSystemLimits } from "./system_limits.ts";
import { defaultUidPool, type UidLease, type UidPool } from "./uid_pool.ts";
import {
  delay,
  describeStatus,
  type ExitStatus,
  type ReadyInfo,
  SIGNAL_NUMBERS,
  type WorkerConfig,
  WorkerProcess,
} from "./worker_process.ts";

/** Whose uid the worker runs under. */
export type WorkerUser = "auto" | "dedicated" | "server";

/** Options of {@link PythonExecutor.start}. */
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
}

/** Options of one {@link PythonExecutor.run}. */
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
 * What one {@link PythonExecutor.call} gave, checked only for its shape: the
 * worker is untrusted, so `value` is passed on as the tagged JSON it sent,
 * for the grader to decode (see grader.py).
 */
export type CallReply =
  | { ok: true; callable: true }
  | { ok: true; value: unknown }
  | { ok: false; type: string; message: string; timed_out?: boolean; state_lost?: boolean };

/** Options of one {@link PythonExecutor.call}. */
export interface CallOptions {
  /** Seconds the call may run before it is interrupted. */
  timeoutS: number;
  /** Aborting it ends the call as a timeout does. */
  signal?: AbortSignal;
}

type Outcome =
  | { kind: "reply"; message: Record<string, unknown>; timedOut: boolean; elapsedMs: number }
  | { kind: "lost"; status: ExitStatus; timedOut: boolean; reason: string; elapsedMs: number };

const DEFAULTS = {
  timeoutS: 10,
  interruptGraceMs: 250,
  maxOutputBytes: 65536,
  memoryBytes: 1 << 30,
  cpuSeconds: 600,
  fileSizeBytes: 64 << 20,
  openFiles: 256,
  startTimeoutS: 15,
  sweepDirs: ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"],
};

/**
 * One session's Python worker.
 *
 * @example
 * ```ts
 * import { PythonExecutor } from "./executor.ts";
 *
 * await using py = await PythonExecutor.start({ timeoutS: 5 });
 * await py.run("x = 40");
 * const result = await py.run("print(x + 2)");
 * console.log(result.stdout); // 42
 * ```
 */
export class PythonExecutor implements AsyncDisposable {
  #options: ExecutorOptions;
  #python: string;
  #lease?: UidLease;
  #drop: boolean;
  #root: string;
  #workParent: string;
  #episode = "";
  #worker?: WorkerProcess;
  #ready?: ReadyInfo;
  /** The runner's pid and start time, to kill it by pid without hitting a reused pid. */
  #runner?: { pid: number; start: string };
  #isolation?: Isolation;
  #busy = false;
  #inflight?: Promise<unknown>;
  #closed = false;
  #closing?: Promise<void>;

  private constructor(
    options: ExecutorOptions,
    python: string,
    drop: boolean,
    root: string,
    lease?: UidLease,
  ) {
    this.#options = options;
    this.#python = python;
    this.#drop = drop;
    this.#root = root;
    this.#workParent = `${root}/w`;
    this.#lease = lease;
  }

  /** Starts a worker with a fresh episode folder. */
  static async start(options: ExecutorOptions = {}): Promise<PythonExecutor> {
    const python = options.python ?? await resolvePython();
    const user = options.user ?? "auto";
    const root = Deno.uid() === 0;
    if (user === "dedicated" && !root) {
      throw new WorkerStartError(
        "A dedicated worker uid needs the server to run as root (or with CAP_SETUID and CAP_SETGID)",
      );
    }
    const drop = user === "dedicated" || (user === "auto" && root);
    const lease = drop ? await (options.uidPool ?? defaultUidPool()).acquire() : undefined;
    let dir: string | undefined;
    try {
      const base = options.tempDir ?? Deno.env.get("ENVTORCH_CODING_DIR") ?? undefined;
      await (staleSweeps[base ?? ""] ??= sweepStaleFolders(base));
      dir = await Deno.makeTempDir({ dir: base, prefix: `${FOLDER_PREFIX}${Deno.pid}-` });
      await Deno.chmod(dir, 0o711);
      await Deno.mkdir(`${dir}/io`, { mode: 0o700 });
      await Deno.chmod(`${dir}/io`, 0o700);
      const executor = new PythonExecutor(options, python, drop, dir, lease);
      executor.#episode = newEpisodeName();
      await executor.#spawn(true);
      return executor;
    } catch (error) {
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      lease?.release();
      throw error;
    }
  }

  /** The protections in force, as the worker reported them. */
  get isolation(): Isolation {
    if (!this.#isolation) throw new ExecutorClosedError("The executor has not started");
    return this.#isolation;
  }

  /** The current episode's folder (the worker's cwd). */
  get workDir(): string {
    return `${this.#workParent}/${this.#episode}`;
  }

  /** The runner's pid, while a worker is up. */
  get workerPid(): number | undefined {
    return this.#worker ? this.#ready?.pid : undefined;
  }

  /** The worker uid (the server's own when no uid is dropped). */
  get uid(): number {
    return this.#lease?.uid ?? Deno.uid() ?? -1;
  }

  /** The Python version the worker runs. */
  get pythonVersion(): string {
    return this.#ready?.python ?? "";
  }

  /** Runs one step of code in the episode's persistent namespace. */
  run(code: string, options: RunOptions = {}): Promise<ExecResult> {
    return this.#exclusive(async () => {
      const notes: string[] = [];
      if (!this.#worker) {
        await this.#spawn(false);
        notes.push("The worker had been lost: a fresh interpreter ran this step");
      }
      const timeoutS = options.timeoutS ?? this.#options.timeoutS ?? DEFAULTS.timeoutS;
      const outcome = await this.#converse({ op: "exec", code }, timeoutS * 1000, options.signal);
      if (outcome.kind === "reply") {
        const parsed = parseDone(outcome.message, this.#maxOutput);
        if (parsed) {
          if (outcome.timedOut) {
            notes.push(`Timed out after ${timeoutS} s: interrupted (SIGINT); state kept`);
          }
          if (parsed.killed > 0) {
            notes.push(`Killed ${parsed.killed} process(es) the step left running`);
          }
          return {
            ...parsed.result,
            timed_out: outcome.timedOut,
            state_lost: false,
            duration_ms: round(outcome.elapsedMs),
            signal: null,
            notes,
          };
        }
        await this.#worker!.stop();
        return await this.#lost(
          {
            kind: "lost",
            status: this.#worker!.status ?? { code: 1, signal: null },
            timedOut: outcome.timedOut,
            reason: "The worker sent an invalid reply: it was replaced",
            elapsedMs: outcome.elapsedMs,
          },
          notes,
          timeoutS,
        );
      }
      return await this.#lost(outcome, notes, timeoutS);
    });
  }

  /**
   * Calls the function `name` of the episode's namespace with plain-data
   * arguments (tagged JSON, see grader.py), for the grader; with `args`
   * null, asks what `name` is instead. A call that times out or kills the
   * worker fails, and the worker is replaced if it has to be.
   */
  call(
    name: string,
    args: unknown[] | null,
    kwargs: unknown,
    options: CallOptions,
  ): Promise<CallReply> {
    return this.#exclusive(async () => {
      if (!this.#worker) await this.#spawn(false);
      const outcome = await this.#converse(
        { op: "call", name, args, kwargs },
        options.timeoutS * 1000,
        options.signal,
      );
      if (outcome.kind === "reply") {
        const m = outcome.message;
        if (outcome.timedOut) {
          return {
            ok: false,
            type: "TimeoutError",
            message: "The call timed out",
            timed_out: true,
          };
        }
        if (m.op === "called" && m.ok === true && m.callable === true) {
          return { ok: true, callable: true };
        }
        if (m.op === "called" && m.ok === true && "value" in m) return { ok: true, value: m.value };
        if (m.op === "called" && m.ok === false) {
          return {
            ok: false,
            type: typeof m.type === "string" ? m.type.slice(0, 200) : "Exception",
            message: typeof m.message === "string" ? m.message.slice(0, 1000) : "",
          };
        }
        await this.#worker!.stop();
      }
      await this.#afterLoss();
      return {
        ok: false,
        type: outcome.timedOut ? "TimeoutError" : "WorkerLost",
        message: outcome.timedOut
          ? "The call timed out and the worker had to be replaced"
          : "The worker was lost during the call",
        timed_out: outcome.timedOut,
        state_lost: true,
      };
    });
  }

  /** A bare round trip to the worker, without running code: the pipe floor. */
  ping(): Promise<number> {
    return this.#exclusive(async () => {
      if (!this.#worker) await this.#spawn(false);
      const outcome = await this.#converse({ op: "ping" }, 5000);
      if (outcome.kind !== "reply" || outcome.message.op !== "pong") {
        throw new WorkerProtocolError("The worker did not answer ping");
      }
      return outcome.elapsedMs;
    });
  }

  /** Starts a new episode: a fresh interpreter and a fresh, empty folder. */
  reset(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#stopWorker();
      this.#episode = newEpisodeName();
      await this.#spawn(true);
    });
  }

  /** Kills the worker and everything of its uid, removes the session's files, frees the uid. Safe to call twice. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      this.#closed = true;
      await this.#worker?.stop();
      await this.#inflight?.catch(() => {});
      await this.#stopWorker();
      try {
        const { worker } = await WorkerProcess.start({
          python: this.#python,
          config: this.#config("reap", false),
          cwd: this.#root,
          timeoutMs: (this.#options.startTimeoutS ?? DEFAULTS.startTimeoutS) * 1000,
          maxFrameBytes: this.#maxFrame,
        });
        await worker.stop();
      } catch {
        // The folder is removed below as far as the server can.
      }
      await this.#killLeftovers();
      await Deno.remove(this.#root, { recursive: true }).catch(() => {});
      this.#lease?.release();
    })();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get #maxOutput(): number {
    return this.#options.maxOutputBytes ?? DEFAULTS.maxOutputBytes;
  }

  get #maxFrame(): number {
    // Two outputs of JSON-escaped text (at most 6 bytes per byte) plus the rest of the frame.
    return this.#maxOutput * 12 + (1 << 16);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ExecutorClosedError());
    if (this.#busy) return Promise.reject(new WorkerBusyError());
    this.#busy = true;
    const run = fn().finally(() => (this.#busy = false));
    this.#inflight = run;
    return run;
  }

  #config(mode: "run" | "reap", fresh: boolean): WorkerConfig {
    const o = this.#options;
    return {
      mode,
      drop: this.#drop,
      uid: this.#lease?.uid ?? -1,
      gid: this.#lease?.gid ?? -1,
      parent_pid: Deno.pid,
      work_parent: this.#workParent,
      work_name: this.#episode,
      fresh,
      out_path: `${this.#root}/io/out`,
      err_path: `${this.#root}/io/err`,
      max_output: this.#maxOutput,
      rlimits: {
        as: o.memoryBytes ?? DEFAULTS.memoryBytes,
        cpu: o.cpuSeconds ?? DEFAULTS.cpuSeconds,
        fsize: o.fileSizeBytes ?? DEFAULTS.fileSizeBytes,
        nofile: o.openFiles ?? DEFAULTS.openFiles,
        core: 0,
        nproc: this.#drop ? o.maxProcesses ?? maxProcessesFromEnv() ?? null : null,
      },
      oom_score_adj: 1000,
      sweep: o.sweepDirs ?? DEFAULTS.sweepDirs,
    };
  }

  async #spawn(fresh: boolean): Promise<void> {
    if (this.#closed) throw new ExecutorClosedError();
    for (const name of ["out", "err"]) {
      await Deno.writeFile(`${this.#root}/io/${name}`, new Uint8Array(), { mode: 0o600 });
    }
    const { worker, first } = await WorkerProcess.start({
      python: this.#python,
      config: this.#config("run", fresh),
      cwd: this.#root,
      timeoutMs: (this.#options.startTimeoutS ?? DEFAULTS.startTimeoutS) * 1000,
      maxFrameBytes: this.#maxFrame,
    });
    const ready = first as unknown as ReadyInfo;
    try {
      await this.#verify(worker, ready);
    } catch (error) {
      await worker.stop();
      throw error;
    }
    this.#worker = worker;
    this.#ready = ready;
    this.#runner = { pid: ready.pid, start: await startTime(ready.pid) ?? "" };
    this.#isolation ??= describeIsolation(
      ready,
      this.#drop,
      await readSystemLimits(this.#root.slice(0, this.#root.lastIndexOf("/")) || "/"),
    );
  }

  /** Checks from /proc, not from the worker's word, that the drop took effect. */
  async #verify(worker: WorkerProcess, ready: ReadyInfo): Promise<void> {
    const info = typeof ready.pid === "number" ? await readProcess(ready.pid) : undefined;
    const problems: string[] = [];
    if (!info) problems.push("the runner is not running");
    else {
      if (info.ppid !== worker.keeperPid) problems.push(`its parent is ${info.ppid}`);
      if (this.#drop) {
        const { uid, gid } = this.#lease!;
        if (info.uids.some((u) => u !== uid)) problems.push(`its uids are ${info.uids.join(" ")}`);
        if (info.gids.some((g) => g !== gid)) problems.push(`its gids are ${info.gids.join(" ")}`);
        if (info.groups.length) problems.push(`it keeps groups ${info.groups.join(" ")}`);
        if (!info.noNewPrivs) problems.push("no_new_privs is not set");
      }
    }
    if (problems.length) {
      throw new WorkerProtocolError(
        `Python worker failed its lockdown check: ${problems.join(", ")}`,
      );
    }
  }

  async #converse(
    message: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    const worker = this.#worker!;
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const lost = async (timedOut: boolean, reason: string): Promise<Outcome> => {
      const status = await worker.stop();
      return { kind: "lost", status, timedOut, reason, elapsedMs: elapsed() };
    };
    if (worker.unread > 0) {
      return await lost(false, "The worker sent frames nobody asked for: it was replaced");
    }
    // A random id the runner must echo: a frame forged by user code into the control pipe
    // has to find it in the runner's memory first.
    const [high, low] = crypto.getRandomValues(new Uint32Array(2));
    const id = (high! & 0x1fffff) * 2 ** 32 + low!;
    try {
      await worker.send({ ...message, id });
    } catch {
      return await lost(false, "The worker's pipe was closed");
    }
    type Event =
      | { type: "reply"; message: Record<string, unknown> | null }
      | { type: "error" }
      | { type: "exit" }
      | { type: "timeout" };
    const reply: Promise<Event> = worker.receive().then(
      (m) => ({ type: "reply", message: m }),
      () => ({ type: "error" }),
    );
    const exit: Promise<Event> = worker.exited.then(() => ({ type: "exit" }));
    let onAbort = () => {};
    const aborted = new Promise<Event>((resolve) => {
      onAbort = () => resolve({ type: "timeout" });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
    const timer = delay(timeoutMs);
    const timeout = timer.promise.then((): Event => ({ type: "timeout" }));
    let event: Event;
    try {
      event = await Promise.race([reply, exit, timeout, aborted]);
    } finally {
      timer.cancel();
      signal?.removeEventListener("abort", onAbort);
    }
    let timedOut = false;
    if (event.type === "timeout") {
      timedOut = true;
      worker.interrupt();
      const grace = delay(this.#options.interruptGraceMs ?? DEFAULTS.interruptGraceMs);
      try {
        event = await Promise.race([
          reply,
          exit,
          grace.promise.then((): Event => ({ type: "timeout" })),
        ]);
      } finally {
        grace.cancel();
      }
    }
    if (event.type === "reply" && event.message) {
      if (event.message.id !== id || worker.unread > 0) {
        return await lost(timedOut, "The worker sent a reply nobody asked for: it was replaced");
      }
      return { kind: "reply", message: event.message, timedOut, elapsedMs: elapsed() };
    }
    if (event.type === "error") return await lost(timedOut, "The worker broke the pipe protocol");
    if (event.type === "timeout") return await lost(true, "The worker ignored the interrupt");
    return await lost(timedOut, "The worker died");
  }

  /** Builds the result of a step whose worker was lost, and brings up a new one. */
  async #lost(
    outcome: Extract<Outcome, { kind: "lost" }>,
    notes: string[],
    timeoutS: number,
  ): Promise<ExecResult> {
    const cap = this.#maxOutput;
    const [out, err] = await Promise.all([
      readCapped(`${this.#root}/io/out`, cap),
      readCapped(`${this.#root}/io/err`, cap),
    ]);
    const { status } = outcome;
    const signalNumber = status.signal ? SIGNAL_NUMBERS[status.signal] ?? 128 : 0;
    const exitCode = status.signal ? -signalNumber : status.code;
    if (outcome.timedOut) {
      notes.push(
        `Timed out after ${timeoutS} s: the interrupt did not stop it, so the worker and every process of its uid were killed`,
      );
    } else {
      notes.push(`${outcome.reason} (${describeStatus(status)})`);
    }
    notes.push("The interpreter state was lost: a fresh worker will run the next step");
    await this.#afterLoss();
    return {
      stdout: out.text,
      stderr: err.text,
      exit_code: exitCode,
      timed_out: outcome.timedOut,
      truncated: out.truncated || err.truncated,
      state_lost: true,
      duration_ms: round(outcome.elapsedMs),
      signal: status.signal,
      processes_killed: 0,
      threads: 0,
      notes,
    };
  }

  /** After a worker is gone: make sure nothing of it is left, then respawn it. */
  async #afterLoss(): Promise<void> {
    this.#worker = undefined;
    await this.#killLeftovers();
    if (this.#closed) return;
    try {
      await this.#spawn(false);
    } catch {
      // The next step tries again and reports the error if it fails again.
    }
  }

  async #stopWorker(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.stop();
    await this.#killLeftovers();
  }

  /**
   * Last line of defence, with a dedicated uid only: the keeper has already
   * killed everything of the uid, but if it could not (it was killed itself),
   * every live process of the uid found in /proc is killed here.
   */
  async #killLeftovers(): Promise<void> {
    if (!this.#drop || !this.#lease) {
      // Without a dedicated uid the keeper is the only cleaner; if user code killed it, the
      // runner may live on: kill it and its process group, if it is still that very process.
      const runner = this.#runner;
      this.#runner = undefined;
      if (runner?.start && await startTime(runner.pid) === runner.start) {
        for (const pid of [-runner.pid, runner.pid]) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // Gone already.
          }
        }
      }
      return;
    }
    const uid = this.#lease.uid;
    for (let attempt = 0; attempt < 20; attempt++) {
      const left = await processesOfUid(uid);
      if (!left.length) return;
      for (const p of left) {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      const pause = delay(10);
      await pause.promise;
    }
  }
}

/** Environment variable that sets {@link ExecutorOptions.maxProcesses}. */
export const MAX_PROCESSES_ENV = "ENVTORCH_CODING_MAX_PROCESSES";

function maxProcessesFromEnv(): number | undefined {
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

/** Session folders are named `envtorch-coding-<server pid>-<random>`. */
const FOLDER_PREFIX = "envtorch-coding-";
const staleSweeps: Record<string, Promise<void>> = {};

/**
 * Removes session folders left by servers that died without closing their
 * sessions (killed with SIGKILL, say): folders of ours whose server pid no
 * longer runs. Their workers are gone already: a keeper kills its worker
 * once the server that started it is gone.
 */
async function sweepStaleFolders(base: string | undefined): Promise<void> {
  const dir = base ?? (Deno.env.get("TMPDIR") || "/tmp");
  const pattern = new RegExp(`^${FOLDER_PREFIX}(\\d+)-`);
  try {
    for await (const entry of Deno.readDir(dir)) {
      const pid = pattern.exec(entry.name)?.[1];
      if (!pid || !entry.isDirectory || Number(pid) === Deno.pid) continue;
      if (await readProcess(Number(pid))) continue;
      const path = `${dir}/${entry.name}`;
      const info = await Deno.lstat(path);
      if (info.isDirectory && info.uid === Deno.uid()) {
        await Deno.remove(path, { recursive: true }).catch(() => {});
      }
    }
  } catch {
    // Best effort: a folder that cannot be read or removed stays.
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined if gone. */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function newEpisodeName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `ep-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

interface ParsedDone {
  result: Pick<
    ExecResult,
    "stdout" | "stderr" | "exit_code" | "truncated" | "processes_killed" | "threads"
  >;
  killed: number;
}

/** Checks a `done` reply from the (untrusted) worker; undefined if it is malformed. */
function parseDone(message: Record<string, unknown>, cap: number): ParsedDone | undefined {
  const { op, stdout, stderr, exit_code, truncated, killed, threads } = message;
  if (
    op !== "done" || typeof stdout !== "string" || typeof stderr !== "string" ||
    typeof exit_code !== "number" || !Number.isInteger(exit_code) || typeof truncated !== "boolean"
  ) {
    return undefined;
  }
  const cut = stdout.length > cap || stderr.length > cap;
  const killedCount = typeof killed === "number" && killed > 0 ? Math.floor(killed) : 0;
  return {
    result: {
      stdout: stdout.length > cap ? stdout.slice(0, cap) : stdout,
      stderr: stderr.length > cap ? stderr.slice(0, cap) : stderr,
      exit_code: Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, exit_code)),
      truncated: truncated || cut,
      processes_killed: killedCount,
      threads: typeof threads === "number" && threads >= 0 ? Math.floor(threads) : 0,
    },
    killed: killedCount,
  };
}

/** Reads at most `cap` bytes of a file as text (invalid UTF-8 replaced). */
async function readCapped(
  path: string,
  cap: number,
): Promise<{ text: string; truncated: boolean }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return { text: "", truncated: false };
  }
  try {
    const size = (await file.stat()).size;
    const buffer = new Uint8Array(Math.min(size, cap));
    let offset = 0;
    while (offset < buffer.byteLength) {
      const n = await file.read(buffer.subarray(offset));
      if (n === null) break;
      offset += n;
    }
    const truncated = size > cap;
    const bytes = truncated
      ? trimPartialUtf8(buffer.subarray(0, offset))
      : buffer.subarray(0, offset);
    return { text: new TextDecoder().decode(bytes), truncated };
  } finally {
    file.close();
  }
}

/** Drops an incomplete UTF-8 sequence at the end of a cut output. */
function trimPartialUtf8(bytes: Uint8Array): Uint8Array {
  const end = bytes.byteLength;
  for (let back = 1; back <= Math.min(4, end); back++) {
    const byte = bytes[end - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    if ((byte & 0x80) === 0) return bytes;
    const need = (byte & 0xe0) === 0xc0 ? 2 : (byte & 0xf0) === 0xe0 ? 3 : 4;
    return back >= need ? bytes : bytes.subarray(0, end - back);
  }
  return bytes;
}
