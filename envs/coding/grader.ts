/**
 * The coding env's grader: a task's tests run in a Python process of their
 * own (grader.py), under the server's uid, never the worker's; the tests'
 * source never enters the agent's interpreter or a file it can read. A test
 * calls the agent's functions through a proxy: the server relays each call
 * to the worker ({@link PythonExecutor.call}), and the arguments and the
 * result cross as plain data, decoded by the grader into exact builtin
 * types. The verdict is what the grader process reports on its own pipe;
 * nothing the worker writes is read as a verdict.
 *
 * @module
 */
import { WorkerProtocolError, WorkerStartError } from "./errors.ts";
import type { CallOptions, CallReply } from "./executor.ts";
import { encodeFrame, encodeRawFrame, FrameDecoder } from "./frames.ts";
import { resolvePython } from "./python.ts";
import { delay } from "./worker_process.ts";
import { bootstrapFor, sourceLoader } from "./python_source.ts";

/** The outcome of one test. */
export interface TestResult {
  /** The test ran to its end without an exception. */
  passed: boolean;
  /** The exception's last line when it did not. */
  error?: string;
}

/** What {@link Grader.grade} gave. */
export interface TestRun {
  /** One result per test, in order. */
  results: TestResult[];
  /** A call or the tests as a whole ran out of time. */
  timed_out: boolean;
  /** The agent's worker had to be replaced during grading (its state is gone). */
  state_lost: boolean;
}

/** Relays one call of a test to the agent's interpreter: {@link PythonExecutor.call}'s shape. */
export type CallRelay = (
  name: string,
  args: unknown[] | null,
  kwargs: unknown,
  options: CallOptions,
) => Promise<CallReply>;

/** Options of {@link Grader.start}. */
export interface GraderOptions {
  /**
   * Absolute path of the Python interpreter.
   * @default $ENVTORCH_PYTHON, else /usr/bin/python3, else python3's sys.executable
   */
  python?: string;
  /**
   * Seconds to wait for the grader to start.
   * @default 15
   */
  startTimeoutS?: number;
}

/** Options of one {@link Grader.grade}. */
export interface GradeOptions {
  /** Runs a call in the agent's interpreter. */
  call: CallRelay;
  /**
   * Seconds all the tests may take together.
   * @default 5
   */
  timeoutS?: number;
  /**
   * Seconds one call of the agent's code may take (capped by what is left of `timeoutS`).
   * @default 2
   */
  callTimeoutS?: number;
  /** Aborting it stops the grading; tests not run fail. */
  signal?: AbortSignal;
}

const BOOTSTRAP = bootstrapFor("envtorch_grader.py");
const loadGrader = sourceLoader(new URL("./grader.py", import.meta.url));

/** Deepest plain value relayed from the worker (the grader's own cap is 32). */
const MAX_RELAY_DEPTH = 64;
/** Largest frame the grader may send (tests' arguments), in bytes. */
const MAX_FRAME = 64 << 20;
/** Seconds the grader gets beyond the tests' time to report its verdict. */
const REPORT_GRACE_MS = 1000;

/**
 * One grader process. Start it once per session; {@link grade} runs a task's
 * tests against the agent's current interpreter.
 *
 * @example
 * ```ts
 * import { Grader } from "./grader.ts";
 * import { PythonExecutor } from "./executor.ts";
 *
 * await using py = await PythonExecutor.start();
 * await using grader = await Grader.start();
 * await py.run("def add(a, b):\n    return a + b");
 * const run = await grader.grade(["assert add(2, 3) == 5"], {
 *   call: (name, args, kwargs, options) => py.call(name, args, kwargs, options),
 * });
 * console.log(run.results); // [ { passed: true } ]
 * ```
 */
export class Grader implements AsyncDisposable {
  #options: GraderOptions;
  #process?: GraderProcess;
  #busy = false;
  #closed = false;

  private constructor(options: GraderOptions) {
    this.#options = options;
  }

  /** Starts a grader process. */
  static async start(options: GraderOptions = {}): Promise<Grader> {
    const grader = new Grader(options);
    grader.#process = await GraderProcess.start(options);
    return grader;
  }

  /** The grader process's pid, while one is up. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /**
   * Runs each test in a fresh namespace of the grader process, relaying its
   * calls of the agent's functions through `options.call`. A test passes if
   * it runs to its end without an exception. A test that was not run (the
   * time ran out, the grader was lost) fails.
   */
  async grade(tests: string[], options: GradeOptions): Promise<TestRun> {
    if (this.#closed) throw new WorkerProtocolError("The grader is closed");
    if (this.#busy) throw new WorkerProtocolError("The grader is busy with another task");
    this.#busy = true;
    try {
      return await this.#grade(tests, options);
    } finally {
      this.#busy = false;
    }
  }

  async #grade(tests: string[], options: GradeOptions): Promise<TestRun> {
    const run: TestRun = { results: [], timed_out: false, state_lost: false };
    const failAll = (error: string): TestRun => ({
      ...run,
      results: tests.map((_, i) => run.results[i] ?? { passed: false, error }),
    });
    this.#process ??= await GraderProcess.start(this.#options);
    const proc = this.#process;
    const timeoutMs = (options.timeoutS ?? 5) * 1000;
    const callTimeoutMs = (options.callTimeoutS ?? 2) * 1000;
    const deadline = performance.now() + timeoutMs;
    const lose = async (error: string): Promise<TestRun> => {
      this.#process = undefined;
      await proc.stop();
      return failAll(error);
    };
    try {
      await proc.send({ op: "grade", tests });
    } catch {
      return await lose("Not run: the grader was lost");
    }
    while (true) {
      const message = await proc.receive(deadline - performance.now() + REPORT_GRACE_MS);
      if (message === "timeout") {
        run.timed_out = true;
        return await lose("Not run: the tests ran out of time");
      }
      if (message === null) return await lose("Not run: the grader was lost");
      if (message.op === "graded" && Array.isArray(message.results)) {
        const results = message.results as unknown[];
        return { ...run, results: tests.map((_, i) => parseResult(results[i])) };
      }
      if (message.op !== "call" || typeof message.name !== "string") {
        return await lose("Not run: the grader broke the protocol");
      }
      const left = deadline - performance.now();
      let reply: CallReply;
      if (left <= 0 || options.signal?.aborted) {
        run.timed_out = true;
        reply = { ok: false, type: "TimeoutError", message: "Not run: the test time ran out" };
      } else {
        try {
          reply = await options.call(
            message.name,
            Array.isArray(message.args) ? message.args : null,
            message.kwargs ?? null,
            { timeoutS: Math.min(callTimeoutMs, left) / 1000, signal: options.signal },
          );
        } catch (error) {
          // The relay itself failed (the worker could not be started again, say): this call
          // fails, and the grader, which waits for an answer, gets one.
          reply = {
            ok: false,
            type: "WorkerLost",
            message: (error as Error).message,
            state_lost: true,
          };
        }
        if (!reply.ok && reply.timed_out) run.timed_out = true;
        if (!reply.ok && reply.state_lost) run.state_lost = true;
        if (reply.ok && "value" in reply && deeperThan(reply.value, MAX_RELAY_DEPTH)) {
          reply = {
            ok: false,
            type: "TypeError",
            message: `Not plain data: nested deeper than ${MAX_RELAY_DEPTH}`,
          };
        }
      }
      try {
        await proc.send({ op: "result", ...reply });
      } catch {
        return await lose("Not run: the grader was lost");
      }
    }
  }

  /** Stops the grader process. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    const proc = this.#process;
    this.#process = undefined;
    await proc?.stop();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function parseResult(r: unknown): TestResult {
  if (r && typeof r === "object" && (r as { passed?: unknown }).passed === true) {
    return { passed: true };
  }
  const error = r && typeof r === "object" ? (r as { error?: unknown }).error : undefined;
  return {
    passed: false,
    error: typeof error === "string" ? error.slice(0, 500) : "Test gave no result",
  };
}

/** Whether a JSON value nests deeper than `max` (iteratively: a deep value cannot blow the stack). */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The grader's Python process and its two pipes. */
class GraderProcess {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new FrameDecoder(MAX_FRAME);
  #messages: Record<string, unknown>[] = [];
  #waiter?: (m: Record<string, unknown> | null) => void;
  #eof = false;
  #pumped: Promise<void>;
  #stderr: Promise<string>;
  #stopping?: Promise<void>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.getReader();
    this.#pumped = this.#pump();
    this.#stderr = new Response(child.stderr).text().then((t) => t.slice(-4096), () => "");
  }

  static async start(options: GraderOptions): Promise<GraderProcess> {
    const python = options.python ?? await resolvePython();
    const source = await loadGrader();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(python, {
        args: ["-I", "-S", "-B", "-u", "-c", BOOTSTRAP],
        cwd: "/",
        clearEnv: true,
        env: {},
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new WorkerStartError(
        `Cannot start the grader ${python}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const proc = new GraderProcess(child);
    try {
      await proc.send(encodeRawFrame(source));
      const ready = await proc.receive((options.startTimeoutS ?? 15) * 1000);
      if (ready === "timeout" || ready === null || ready.op !== "ready") {
        throw new WorkerStartError(
          `The grader did not start${ready === "timeout" ? " in time" : ""}`,
        );
      }
      return proc;
    } catch (error) {
      await proc.stop();
      const diagnostics = (await proc.#stderr).trim();
      throw new WorkerStartError(
        `${(error as Error).message}${diagnostics ? `\n${diagnostics}` : ""}`,
        { cause: error, diagnostics },
      );
    }
  }

  async send(frame: Uint8Array | Record<string, unknown>): Promise<void> {
    await this.#writer.write(frame instanceof Uint8Array ? frame : encodeFrame(frame));
  }

  /** The next message, null once the pipe is closed or broken, or "timeout". */
  async receive(timeoutMs: number): Promise<Record<string, unknown> | null | "timeout"> {
    const queued = this.#messages.shift();
    if (queued) return queued;
    if (this.#eof) return null;
    const timer = delay(timeoutMs);
    const message = new Promise<Record<string, unknown> | null>((resolve) => {
      this.#waiter = resolve;
    });
    try {
      return await Promise.race([message, timer.promise]);
    } finally {
      timer.cancel();
      this.#waiter = undefined;
    }
  }

  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await this.#child.status;
      await this.#writer.close().catch(() => {});
      await this.#pumped;
      await this.#stderr;
    })();
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        for (const message of this.#decoder.push(value)) {
          const waiter = this.#waiter;
          this.#waiter = undefined;
          if (waiter) waiter(message);
          else this.#messages.push(message);
        }
      }
    } catch {
      await this.#reader.cancel().catch(() => {});
    } finally {
      this.#eof = true;
      this.#waiter?.(null);
    }
  }
}
