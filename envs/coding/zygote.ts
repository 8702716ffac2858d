/**
 * The fork server (zygote) of the coding env, as the server sees it: one
 * pre-started, pre-imported Python per interpreter path (root when the
 * server is) that forks a fresh worker for each episode in about a
 * millisecond, instead of starting a new Python (tens of milliseconds of
 * CPU). The zygote never runs user code; a worker drops to its uid and locks
 * itself down in the fork before it reads any (see runner.py, `_Zygote` and
 * `_setup_runner`), and the server checks the result in /proc.
 *
 * Workers talk to the server over a unix socket in a folder only the server
 * can enter: a fork connects while it is still root, names itself with a
 * random token, then drops. The zygote signals, freezes and reaps workers on
 * the server's request and reports their end once everything they left is
 * killed; the server never signals a pid it does not own.
 *
 * The zygote lives while some worker or session needs it ({@link Zygote.acquire}
 * and {@link Zygote.release}) and dies with the server (PR_SET_PDEATHSIG),
 * and with it every worker.
 *
 * @module
 */
import { WorkerStartError } from "./errors.ts";
import { FrameChannel } from "./frame_channel.ts";
import { encodeFrame, encodeRawFrame } from "./frames.ts";
import { bootstrapFor, sourceLoader } from "./python_source.ts";

/** How a worker ended: its own status. */
export interface ExitStatus {
  /** Exit code (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, if any. */
  signal: Deno.Signal | null;
}

const BOOTSTRAP = bootstrapFor("envtorch_runner.py");
const loadRunner = sourceLoader(new URL("./runner.py", import.meta.url));

const SIGNAL_NAMES: Record<number, Deno.Signal> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  31: "SIGSYS",
};

/** Status of a worker lost with its zygote. */
const ZYGOTE_GONE: ExitStatus = { code: 137, signal: "SIGKILL" };
const HELLO_MAX = 256;
const DIAGNOSTICS_BYTES = 8192;

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A worker the zygote forked, before and after it connects. */
export interface Spawned {
  /** The worker's pid. */
  pid: number;
  /** Resolves once the worker has died and everything it left is killed and reaped. */
  exited: Promise<ExitStatus>;
}

/** One zygote process and the socket its workers connect to. */
export class Zygote {
  static #shared = new Map<string, Promise<Zygote>>();

  /** The zygote's pid: every worker's parent. */
  readonly pid: number;
  #python: string;
  #child: Deno.ChildProcess;
  #channel: FrameChannel;
  #listener: Deno.UnixListener;
  #dir: string;
  #users = 0;
  #gone = false;
  #retired = false;
  #diag = "";
  #ref = 0;
  #spawns = new Map<number, Pending<number>>();
  #freezes = new Map<number, Pending<{ ok: boolean; killed: number }>>();
  #exits = new Map<number, Pending<ExitStatus>>();
  #exitedEarly = new Map<number, ExitStatus>();
  #hellos = new Map<string, Pending<Deno.UnixConn>>();
  #ready: Pending<number>;
  #readyPromise: Promise<number>;

  private constructor(python: string, child: Deno.ChildProcess, dir: string) {
    this.#python = python;
    this.#child = child;
    this.#dir = dir;
    this.#listener = Deno.listen({ transport: "unix", path: `${dir}/z.sock` });
    let ready!: Pending<number>;
    this.#readyPromise = new Promise<number>((resolve, reject) => (ready = { resolve, reject }));
    this.#ready = ready;
    this.#channel = new FrameChannel(child.stdout, child.stdin, {
      maxFrameBytes: 1 << 16,
      onMessage: (m) => this.#event(m),
    });
    this.pid = child.pid;
    void this.#channel.ended.then(() => this.#lost());
    void this.#collectDiagnostics(child.stderr);
    void this.#accept();
  }

  /**
   * The zygote of `python`, started if none runs; counts one user until
   * {@link release}.
   */
  static async acquire(python: string, tempDir?: string): Promise<Zygote> {
    while (true) {
      let pending = Zygote.#shared.get(python);
      if (!pending) {
        pending = Zygote.#start(python, tempDir);
        Zygote.#shared.set(python, pending);
        pending.catch(() => Zygote.#shared.delete(python));
      }
      const zygote = await pending;
      if (zygote.#gone || zygote.#retired) {
        if (Zygote.#shared.get(python) === pending) Zygote.#shared.delete(python);
        continue;
      }
      zygote.#users++;
      return zygote;
    }
  }

  static async #start(python: string, tempDir?: string): Promise<Zygote> {
    const source = await loadRunner();
    const dir = await Deno.makeTempDir({ dir: tempDir, prefix: "envtorch-zygote-" });
    await Deno.chmod(dir, 0o700);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(python, {
        args: ["-I", "-B", "-u", "-c", BOOTSTRAP],
        cwd: "/",
        clearEnv: true,
        env: {},
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new WorkerStartError(
        `Cannot start the Python worker ${python}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const zygote = new Zygote(python, child, dir);
    const timeout = setTimeout(
      () =>
        zygote.#ready.reject(new WorkerStartError("The Python zygote was not ready after 15 s")),
      15_000,
    );
    try {
      await zygote.#channel.send(
        encodeRawFrame(source),
        encodeFrame({ parent_pid: Deno.pid, socket: `${dir}/z.sock` }),
      );
      await zygote.#readyPromise;
      return zygote;
    } catch (error) {
      await zygote.#shutdown();
      const diagnostics = zygote.#diag.trim();
      throw new WorkerStartError(
        `Cannot start the Python zygote: ${(error as Error).message}${
          diagnostics ? `\n${diagnostics}` : ""
        }`,
        { cause: error, diagnostics },
      );
    } finally {
      clearTimeout(timeout);
    }
  }

  /** Whether the zygote has died or been shut down. */
  get gone(): boolean {
    return this.#gone;
  }

  /** What the zygote wrote to stderr (its own failures, never a worker's). */
  get diagnostics(): string {
    return this.#diag.trim();
  }

  /** Drops one user; the last one shuts the zygote down (every worker with it). */
  async release(): Promise<void> {
    if (--this.#users > 0) return;
    // Retired at once: an acquire from now on starts a new zygote instead of this dying one.
    this.#retired = true;
    await this.#shutdown();
  }

  /**
   * Forks a worker with `config` and waits until it has connected (as root,
   * before its drop). Resolves with its pid, its connection, and its end.
   * With `replaces` (a live worker's pid, of the same uid), the zygote kills
   * that worker and forks once it, and whatever it left, is gone.
   */
  async spawn(
    config: Record<string, unknown>,
    timeoutMs: number,
    replaces?: number,
  ): Promise<Spawned & { conn: Deno.UnixConn }> {
    if (this.#gone) throw new WorkerStartError("The Python zygote is gone");
    const token = randomHex(16);
    const ref = ++this.#ref;
    const connected = new Promise<Deno.UnixConn>((resolve, reject) => {
      this.#hellos.set(token, { resolve, reject });
    });
    const forked = new Promise<number>((resolve, reject) => {
      this.#spawns.set(ref, { resolve, reject });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new WorkerStartError(`Python worker was not ready after ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    for (const p of [connected, forked, timeout]) p.catch(() => {});
    let pid: number | undefined;
    let exited: Promise<ExitStatus> | undefined;
    try {
      await this.#channel.send({ op: "spawn", ref, token, config, replaces });
      pid = await Promise.race([forked, timeout]);
      exited = this.#exitOf(pid);
      // The error is only made if the worker died first (every worker dies some day).
      const died = exited.then((status) => ({ status }));
      const first = await Promise.race([connected, timeout, died]);
      if ("status" in first) {
        throw new WorkerStartError(
          `Python worker exited before it was ready (${describeStatus(first.status)})`,
        );
      }
      return { pid, exited, conn: first };
    } catch (error) {
      if (pid !== undefined) {
        this.signal(pid, "KILL");
        await (exited ?? this.#exitOf(pid));
      }
      throw error;
    } finally {
      clearTimeout(timer);
      this.#hellos.delete(token);
      this.#spawns.delete(ref);
    }
  }

  /** Interrupts (SIGINT) or kills (SIGKILL) a live worker of this zygote. */
  signal(pid: number, sig: "INT" | "KILL"): void {
    if (this.#gone) return;
    this.#channel.send({ op: "signal", pid, sig }).catch(() => {});
  }

  /**
   * Stops a worker (SIGSTOP) and kills every other process of its uid (or
   * its descendants): nothing it started runs until {@link thaw}.
   */
  async freeze(pid: number): Promise<{ ok: boolean; killed: number }> {
    if (this.#gone) return { ok: false, killed: 0 };
    const ref = ++this.#ref;
    const done = new Promise<{ ok: boolean; killed: number }>((resolve, reject) => {
      this.#freezes.set(ref, { resolve, reject });
    });
    try {
      await this.#channel.send({ op: "freeze", ref, pid });
      return await done;
    } catch {
      return { ok: false, killed: 0 };
    } finally {
      this.#freezes.delete(ref);
    }
  }

  /** Lets a frozen worker run again (SIGCONT). */
  thaw(pid: number): void {
    if (this.#gone) return;
    this.#channel.send({ op: "thaw", pid }).catch(() => {});
  }

  #exitOf(pid: number): Promise<ExitStatus> {
    const early = this.#exitedEarly.get(pid);
    if (early) {
      this.#exitedEarly.delete(pid);
      return Promise.resolve(early);
    }
    if (this.#gone) return Promise.resolve(ZYGOTE_GONE);
    return new Promise((resolve, reject) => this.#exits.set(pid, { resolve, reject }));
  }

  /** The end of a worker, once: the promise handed out by {@link spawn}. */
  #event(m: Record<string, unknown>): void {
    switch (m.op) {
      case "zygote":
        this.#ready.resolve(Number(m.pid));
        break;
      case "spawned": {
        const pending = this.#spawns.get(Number(m.ref));
        if (!pending) break;
        if (typeof m.pid === "number") pending.resolve(m.pid);
        else {
          pending.reject(
            new WorkerStartError(
              `Cannot start the Python worker: the zygote cannot fork: ${m.error}`,
            ),
          );
        }
        break;
      }
      case "frozen": {
        this.#freezes.get(Number(m.ref))?.resolve({
          ok: m.ok === true,
          killed: typeof m.killed === "number" ? m.killed : 0,
        });
        break;
      }
      case "exited": {
        const pid = Number(m.pid);
        const sig = typeof m.signal === "number" ? SIGNAL_NAMES[m.signal] ?? "SIGKILL" : null;
        const status: ExitStatus = { code: Number(m.code), signal: sig };
        const pending = this.#exits.get(pid);
        this.#exits.delete(pid);
        if (pending) pending.resolve(status);
        else this.#exitedEarly.set(pid, status);
        break;
      }
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) void this.#greet(conn);
    } catch {
      // The listener was closed.
    }
  }

  /** Reads a new connection's hello and hands it to the spawn that waits for its token. */
  async #greet(conn: Deno.UnixConn): Promise<void> {
    try {
      const head = await readExactly(conn, 4);
      const size = new DataView(head.buffer).getUint32(0);
      if (size > HELLO_MAX) throw new Error("hello too large");
      const hello = JSON.parse(new TextDecoder().decode(await readExactly(conn, size)));
      const pending = typeof hello?.token === "string" ? this.#hellos.get(hello.token) : undefined;
      if (!pending || hello.op !== "hello") throw new Error("unknown token");
      this.#hellos.delete(hello.token);
      pending.resolve(conn);
    } catch {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  }

  #lost(): void {
    if (this.#gone) return;
    this.#gone = true;
    const error = new WorkerStartError(
      `The Python zygote died${this.#diag ? `: ${this.#diag.trim()}` : ""}`,
    );
    this.#ready.reject(error);
    for (const p of this.#spawns.values()) p.reject(error);
    for (const p of this.#hellos.values()) p.reject(error);
    for (const p of this.#freezes.values()) p.resolve({ ok: false, killed: 0 });
    for (const p of this.#exits.values()) p.resolve(ZYGOTE_GONE);
    this.#spawns.clear();
    this.#hellos.clear();
    this.#freezes.clear();
    this.#exits.clear();
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
  }

  async #shutdown(): Promise<void> {
    // EOF on its stdin: the zygote kills every worker and everything they left, then exits.
    await this.#channel.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }, 5000);
    await this.#child.status;
    clearTimeout(timer);
    this.#lost();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
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

async function readExactly(conn: Deno.UnixConn, n: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(n);
  let offset = 0;
  while (offset < n) {
    const got = await conn.read(buffer.subarray(offset));
    if (got === null) throw new Error("closed");
    offset += got;
  }
  return buffer;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** "exit code 3" or "signal SIGSEGV". */
export function describeStatus(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}
