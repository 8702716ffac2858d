/**
 * The Python executor of the coding env: one persistent, locked-down Python
 * worker per session, driven over a socket without blocking the event loop.
 *
 * Each worker is a fork of the zygote (zygote.ts) that drops to the
 * session's uid and locks itself down before any user code (runner.py); the
 * server checks the drop in /proc (lockdown_check.ts). A spare worker under
 * a second uid waits for the next episode, so that a reset only swaps. At
 * the end of every step, every other process of the uid is killed and its
 * IPC objects removed; a step that leaves threads has the worker stopped
 * until the next step. A step that times out is interrupted, then killed.
 * What protects what, and where: README.md and docs/security.md.
 *
 * @module
 */
import {
  ExecutorClosedError,
  WorkerBusyError,
  WorkerProtocolError,
  WorkerStartError,
} from "./errors.ts";
import { converse, type Outcome } from "./conversation.ts";
import {
  type CallOptions,
  type CallReply,
  DEFAULTS,
  type ExecResult,
  type ExecutorOptions,
  maxProcessesFromEnv,
  type RunOptions,
  SEAL_TMP_ENV,
} from "./executor_types.ts";
import { describeIsolation, type Isolation } from "./isolation.ts";
import { killProcessesOfUid, killRunner } from "./leftovers.ts";
import { verifyLockdown } from "./lockdown_check.ts";
import { resolvePython } from "./python.ts";
import { lostCall, lostResult, parseCallReply, parseDone } from "./replies.ts";
import {
  FOLDER_PREFIX,
  newEpisodeName,
  type Slot,
  slotOf,
  sweepStaleFoldersOnce,
} from "./session_folders.ts";
import { sealTempDirs } from "./temp_dirs.ts";
import { readSystemLimits, type SystemLimits } from "./system_limits.ts";
import { defaultUidPool, type UidLease } from "./uid_pool.ts";
import {
  describeStatus,
  type ReadyInfo,
  SIGNAL_NUMBERS,
  type WorkerConfig,
  WorkerProcess,
} from "./worker_process.ts";
import { Zygote } from "./zygote.ts";

export {
  type CallOptions,
  type CallReply,
  type ExecResult,
  type ExecutorOptions,
  MAX_PROCESSES_ENV,
  type RunOptions,
  SEAL_TMP_ENV,
  type WorkerUser,
} from "./executor_types.ts";

/** How {@link PythonExecutor} launches a worker. */
interface LaunchOptions {
  /** Remove earlier episodes' files first. */
  fresh: boolean;
  /** A spare, for the next reset. */
  spare?: boolean;
  /** The worker of the same uid this one replaces (the zygote kills it, and forks once it is gone). */
  replaces?: WorkerProcess;
}

/** A started and verified worker. */
interface Launched {
  worker: WorkerProcess;
  ready: ReadyInfo;
  episode: string;
  runner: { pid: number; start: string };
}

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
  /** Executors started and not yet closed, in this process. */
  static #open = new Set<PythonExecutor>();
  /** When the session last ran a step, a call or a reset (performance.now()). */
  #lastActive = -Infinity;
  /** The spare was stopped while the session was idle: the next step starts a new one. */
  #spareIdle = false;
  #idleTimer?: ReturnType<typeof setTimeout>;
  #options: ExecutorOptions;
  #python: string;
  /** The current worker's uid and folders. */
  #slot: Slot;
  /** Where the spare worker goes: a second uid, when the pool has one. */
  #spareSlot?: Slot;
  /** A fresh, verified worker waiting for the next episode. */
  #spare?: Launched;
  /** Stopping the last episode's worker and starting the next spare, after a reset. */
  #spareJob?: Promise<void>;
  #spareReady?: Promise<void>; // the spare job's spare is up (or it gave up)
  #drop: boolean;
  #root: string;
  #episode = "";
  #systemLimits?: SystemLimits;
  #zygote?: Zygote;
  #worker?: WorkerProcess;
  #ready?: ReadyInfo;
  /** The runner's pid and start time, to kill it by pid without hitting a reused pid. */
  #runner?: { pid: number; start: string };
  #isolation?: Isolation;
  #tmp = "";
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
    this.#slot = slotOf(root, lease);
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
    let zygote: Zygote | undefined;
    try {
      const base = options.tempDir ?? Deno.env.get("ENVTORCH_CODING_DIR") ?? undefined;
      if (drop && (options.sealTempDirs ?? Deno.env.get(SEAL_TMP_ENV) === "1")) {
        await sealTempDirs();
      }
      await sweepStaleFoldersOnce(base);
      dir = await Deno.makeTempDir({ dir: base, prefix: `${FOLDER_PREFIX}${Deno.pid}-` });
      await Deno.chmod(dir, 0o711);
      await Deno.mkdir(`${dir}/io`, { mode: 0o700 });
      await Deno.chmod(`${dir}/io`, 0o700);
      // Held for the session's life, so that a reset forks from a zygote that already runs.
      zygote = await Zygote.acquire(python, base);
      const executor = new PythonExecutor(options, python, drop, dir, lease);
      executor.#zygote = zygote;
      executor.#episode = newEpisodeName();
      await executor.#spawn(true);
      if (drop) {
        // A second uid for a spare worker, so that a reset only swaps; none if the pool is short.
        const spare = await (options.uidPool ?? defaultUidPool()).acquire().catch(() => undefined);
        if (spare) {
          executor.#spareSlot = slotOf(dir, spare);
          executor.#startSpareJob();
        }
      }
      PythonExecutor.#open.add(executor);
      return executor;
    } catch (error) {
      await zygote?.release();
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
    return `${this.#slot.workParent}/${this.#episode}`;
  }

  /** The current episode's private temp folder ($TMPDIR and $HOME of the code). */
  get tempDir(): string {
    return this.#tmp;
  }

  /** The runner's pid, while a worker is up. */
  get workerPid(): number | undefined {
    return this.#worker ? this.#ready?.pid : undefined;
  }

  /** The worker uid (the server's own when no uid is dropped). */
  get uid(): number {
    return this.#slot.lease?.uid ?? Deno.uid() ?? -1;
  }

  /** The Python version the worker runs. */
  get pythonVersion(): string {
    return this.#ready?.python ?? "";
  }

  /** Runs one step of code in the episode's persistent namespace. */
  run(code: string, options: RunOptions = {}): Promise<ExecResult> {
    return this.#exclusive(async () => {
      const notes: string[] = [];
      let fresh = false;
      if (this.#worker?.status) {
        // It died between steps (a signal, or its zygote): its state is gone.
        notes.push(
          `The worker died between steps (${describeStatus(this.#worker.status)})`,
        );
        await this.#stopWorker(true);
      }
      if (!this.#worker) {
        await this.#spawn(false);
        notes.push("The worker had been lost: a fresh interpreter ran this step");
        fresh = true;
      }
      const timeoutS = options.timeoutS ?? this.#options.timeoutS ?? DEFAULTS.timeoutS;
      this.#active();
      let outcome = await this.#talk({ op: "exec", code }, timeoutS * 1000, options.signal);
      if (outcome.kind === "reply" && outcome.message.op === "ended") {
        // A signal that came while it was idle ends the worker before the code runs
        // (an alarm an earlier step set): the code runs in a fresh one.
        const sig = Number(outcome.message.signal);
        const name = Object.entries(SIGNAL_NUMBERS).find(([, n]) => n === sig)?.[0] ?? `${sig}`;
        notes.push(`The worker was ended by ${name} between steps`);
        await this.#stopWorker(true);
        await this.#spawn(false);
        notes.push("The worker had been lost: a fresh interpreter ran this step");
        fresh = true;
        outcome = await this.#talk({ op: "exec", code }, timeoutS * 1000, options.signal);
      }
      if (outcome.kind === "reply") {
        const parsed = parseDone(outcome.message, this.#maxOutput);
        if (parsed) {
          if (outcome.timedOut) {
            notes.push(`Timed out after ${timeoutS} s: interrupted (SIGINT); state kept`);
          }
          let killed = parsed.killed;
          if (parsed.result.threads > 1) {
            // Threads of the step live on in the worker, and a thread may start processes after
            // the step: the worker is stopped until the next step, the rest of its uid killed.
            const late = await this.#worker!.freeze();
            if (late === undefined) {
              notes.push("Threads the step left could not be stopped: the worker was replaced");
              await this.#stopWorker(true);
              fresh = true;
              await this.#spawn(false).catch(() => {});
            } else {
              killed += late;
              notes.push("Threads the step left are stopped until the next step");
            }
          }
          if (killed > 0) {
            notes.push(`Killed ${killed} process(es) the step left running`);
          }
          return {
            ...parsed.result,
            processes_killed: killed,
            timed_out: outcome.timedOut,
            state_lost: fresh,
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
      this.#active();
      if (!this.#worker) await this.#spawn(false);
      const outcome = await this.#talk(
        { op: "call", name, args, kwargs },
        options.timeoutS * 1000,
        options.signal,
      );
      if (outcome.kind === "reply") {
        const reply = parseCallReply(outcome.message, outcome.timedOut);
        if (reply) return reply;
        await this.#worker!.stop();
      }
      await this.#afterLoss();
      return lostCall(outcome.timedOut);
    });
  }

  /** A bare round trip to the worker, without running code: the pipe floor. */
  ping(): Promise<number> {
    return this.#exclusive(async () => {
      if (!this.#worker) await this.#spawn(false);
      const outcome = await this.#talk({ op: "ping" }, 5000);
      if (outcome.kind !== "reply" || outcome.message.op !== "pong") {
        throw new WorkerProtocolError("The worker did not answer ping");
      }
      return outcome.elapsedMs;
    });
  }

  /**
   * Starts a new episode: a fresh interpreter and a fresh, empty folder.
   * With a spare worker ready (under a second uid), the spare takes over at
   * once, and the last episode's worker is stopped and its uid cleaned up
   * in the background before a new spare starts under it.
   */
  reset(): Promise<void> {
    return this.#exclusive(async () => {
      this.#lastActive = performance.now();
      this.#spareIdle = false;
      // A spare on its way is nearer than a new worker.
      if (!this.#spare && this.#spareJob) await this.#spareReady;
      const spare = this.#spare;
      this.#spare = undefined;
      if (spare && !spare.worker.status && spare.worker.unread === 0 && this.#spareSlot) {
        const old = this.#worker;
        const oldSlot = this.#slot;
        this.#slot = this.#spareSlot;
        this.#spareSlot = oldSlot;
        this.#episode = spare.episode;
        this.#adopt(spare);
        this.#worker = spare.worker;
        this.#startSpareJob(old);
        return;
      }
      await spare?.worker.stop();
      await this.#stopWorker(false);
      this.#episode = newEpisodeName();
      await this.#spawn(true);
      // A spare for the next reset, unless one is on its way.
      if (!this.#spareJob) this.#startSpareJob();
    });
  }

  /** Resolves once a reset's background work (old worker cleaned up, next spare up) is done. */
  async settled(): Promise<void> {
    while (this.#spareJob) await this.#spareJob;
  }

  /** Kills the worker and everything of its uid, removes the session's files, frees the uid. Safe to call twice. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      this.#closed = true;
      PythonExecutor.#open.delete(this);
      clearTimeout(this.#idleTimer);
      await this.#worker?.stop();
      await this.#inflight?.catch(() => {});
      await this.#stopWorker(true);
      await this.#spareJob;
      await this.#spare?.worker.stop();
      this.#spare = undefined;
      for (const slot of [this.#slot, this.#spareSlot]) {
        if (!slot) continue;
        try {
          const { worker } = await WorkerProcess.start({
            python: this.#python,
            config: this.#config("reap", false, slot, ""),
            tempDir: this.#tempBase,
            timeoutMs: (this.#options.startTimeoutS ?? DEFAULTS.startTimeoutS) * 1000,
            maxFrameBytes: this.#maxFrame,
          });
          await worker.stop();
        } catch {
          // The folder is removed below as far as the server can.
        }
        await this.#killLeftovers(slot);
      }
      await Deno.remove(this.#root, { recursive: true }).catch(() => {});
      await this.#zygote?.release();
      this.#slot.lease?.release();
      this.#spareSlot?.lease?.release();
    })();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get #tempBase(): string | undefined {
    return this.#options.tempDir ?? Deno.env.get("ENVTORCH_CODING_DIR") ?? undefined;
  }

  get #maxOutput(): number {
    return this.#options.maxOutputBytes ?? DEFAULTS.maxOutputBytes;
  }

  get #maxFrame(): number {
    // Two outputs of JSON-escaped text (at most 6 bytes per byte) plus the rest of the frame.
    return this.#maxOutput * 12 + (1 << 16);
  }

  /** Executors of this process that ran a step in the last 100 ms. */
  static #stepping(): number {
    const since = performance.now() - 100;
    let busy = 0;
    for (const executor of PythonExecutor.#open) if (executor.#lastActive > since) busy++;
    return busy;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ExecutorClosedError());
    if (this.#busy) return Promise.reject(new WorkerBusyError());
    this.#busy = true;
    const run = fn().finally(() => (this.#busy = false));
    this.#inflight = run;
    return run;
  }

  #config(
    mode: "run" | "reap",
    fresh: boolean,
    slot: Slot = this.#slot,
    episode: string = this.#episode,
  ): WorkerConfig {
    const o = this.#options;
    return {
      mode,
      drop: this.#drop,
      uid: slot.lease?.uid ?? -1,
      gid: slot.lease?.gid ?? -1,
      work_parent: slot.workParent,
      work_name: episode,
      fresh,
      out_path: slot.out,
      err_path: slot.err,
      max_output: this.#maxOutput,
      rlimits: {
        as: o.memoryBytes ?? DEFAULTS.memoryBytes,
        cpu: o.cpuSeconds ?? DEFAULTS.cpuSeconds,
        fsize: o.fileSizeBytes ?? DEFAULTS.fileSizeBytes,
        nofile: o.openFiles ?? DEFAULTS.openFiles,
        core: 0,
        stack: o.stackBytes ?? DEFAULTS.stackBytes,
        nproc: this.#drop ? o.maxProcesses ?? maxProcessesFromEnv() ?? null : null,
      },
      oom_score_adj: 1000,
      sweep: o.sweepDirs ?? DEFAULTS.sweepDirs,
    };
  }

  /** Starts a worker for the current slot and episode. */
  async #spawn(fresh: boolean): Promise<void> {
    const launched = await this.#launch(this.#slot, this.#episode, { fresh });
    this.#adopt(launched);
    this.#worker = launched.worker;
  }

  /** Makes a launched worker the current one's facts. */
  #adopt(launched: Launched): void {
    const { ready } = launched;
    this.#ready = ready;
    this.#runner = launched.runner;
    this.#tmp = typeof ready.tmp === "string" ? ready.tmp : "";
    this.#isolation = describeIsolation(ready, this.#drop, this.#systemLimits);
  }

  /** Starts and verifies a worker of `slot` for `episode`. */
  async #launch(slot: Slot, episode: string, how: LaunchOptions): Promise<Launched> {
    if (this.#closed) throw new ExecutorClosedError();
    const { worker, first } = await WorkerProcess.start({
      python: this.#python,
      config: {
        ...this.#config("run", how.fresh, slot, episode),
        // A spare takes its first step's page faults in the background, while a core is idle
        // to take them: with more sessions stepping than cores, it would only slow the others.
        warm: how.spare === true && PythonExecutor.#stepping() <= navigator.hardwareConcurrency,
      },
      tempDir: this.#tempBase,
      timeoutMs: (this.#options.startTimeoutS ?? DEFAULTS.startTimeoutS) * 1000,
      maxFrameBytes: this.#maxFrame,
      replaces: how.replaces,
    });
    const ready = first as unknown as ReadyInfo;
    try {
      await this.#verify(worker, ready, slot);
      this.#systemLimits ??= await readSystemLimits(
        this.#root.slice(0, this.#root.lastIndexOf("/")) || "/",
      );
      // The pid checked above is the one WorkerProcess read the start time of.
      const runner = { pid: worker.pid, start: worker.startTime ?? "" };
      return { worker, ready, episode, runner };
    } catch (error) {
      await worker.stop();
      throw error;
    }
  }

  /** In the background: stops `before` (the last episode's worker), then starts a spare. */
  #startSpareJob(before?: WorkerProcess): void {
    let ready = () => {};
    this.#spareReady = new Promise<void>((resolve) => (ready = resolve));
    const job = (async () => {
      try {
        if (!this.#closed && this.#spareSlot && !this.#spare) {
          // One request: the zygote kills `before`, and forks the spare under its uid once it
          // and whatever it left are gone.
          const launched = await this.#launch(this.#spareSlot, newEpisodeName(), {
            fresh: true,
            spare: true,
            replaces: before,
          });
          if (this.#closed || this.#spare) await launched.worker.stop();
          else {
            this.#spare = launched;
            this.#watchIdle();
          }
        }
      } catch {
        // No spare: the next reset starts a worker itself.
      } finally {
        ready();
      }
      await before?.stop();
    })();
    this.#spareJob = job;
    void job.finally(() => {
      if (this.#spareJob === job) this.#spareJob = undefined;
    });
  }

  /** Marks the session active; a spare stopped while it was idle starts again, for the next reset. */
  #active(): void {
    this.#lastActive = performance.now();
    if (this.#spareIdle && !this.#spareJob && !this.#spare && !this.#closed) {
      this.#spareIdle = false;
      this.#startSpareJob();
    }
  }

  /** Stops the spare once the session has been idle for `spareIdleS` (it holds memory). */
  #watchIdle(): void {
    const idleMs = (this.#options.spareIdleS ?? DEFAULTS.spareIdleS) * 1000;
    if (this.#idleTimer !== undefined || !(idleMs < Infinity)) return;
    const arm = (ms: number) => {
      const id = setTimeout(check, ms);
      Deno.unrefTimer(id);
      this.#idleTimer = id;
    };
    const check = () => {
      this.#idleTimer = undefined;
      const spare = this.#spare;
      if (this.#closed || !spare) return;
      if (this.#busy) return arm(idleMs); // a long step: the session is not idle
      const left = this.#lastActive + idleMs - performance.now();
      if (left > 0) return arm(left);
      this.#spare = undefined;
      this.#spareIdle = true;
      void spare.worker.stop();
    };
    arm(idleMs);
  }

  /** Checks from /proc, not from the worker's word, that the drop took effect. */
  async #verify(worker: WorkerProcess, ready: ReadyInfo, slot: Slot): Promise<void> {
    await verifyLockdown(ready.pid, {
      pid: worker.pid,
      parentPid: worker.parentPid,
      ids: this.#drop ? slot.lease : undefined,
    });
  }

  #talk(message: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal) {
    return converse(this.#worker!, message, {
      timeoutMs,
      graceMs: this.#options.interruptGraceMs ?? DEFAULTS.interruptGraceMs,
      signal,
    });
  }

  /** Builds the result of a step whose worker was lost, and brings up a new one. */
  async #lost(
    outcome: Extract<Outcome, { kind: "lost" }>,
    notes: string[],
    timeoutS: number,
  ): Promise<ExecResult> {
    const result = await lostResult(outcome, this.#slot, { cap: this.#maxOutput, notes, timeoutS });
    await this.#afterLoss();
    return result;
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

  /** Stops the worker (the zygote kills its uid's processes); `scan` checks /proc too. */
  async #stopWorker(scan: boolean): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.stop();
    if (scan || !worker || this.#zygote?.gone) {
      await this.#killLeftovers();
    }
  }

  /**
   * Last line of defence, if the zygote could not (it died): every live
   * process of the uid in /proc, or without a dedicated uid, the runner and
   * its process group if it is still that very process, are killed.
   */
  async #killLeftovers(slot: Slot = this.#slot): Promise<void> {
    if (this.#drop && slot.lease) return await killProcessesOfUid(slot.lease.uid);
    const runner = this.#runner;
    this.#runner = undefined;
    if (runner) await killRunner(runner);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
