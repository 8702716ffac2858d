/**
 * The process provider: runs `envtorch serve <env>` as a child process on a
 * unix socket in a private temp folder, and waits for `/health`. This is the
 * no-Docker default; it isolates nothing beyond a separate process.
 *
 * @module
 */
import type { Provider, ServerHandle } from "../protocol/provider.ts";
import { ConnectionError } from "../protocol/errors.ts";
import { waitForHealth } from "./health.ts";

/** Options of {@link startProcess}. */
export interface ProcessOptions {
  /**
   * Sessions the child serves at once.
   * @default the server's default (64)
   */
  maxSessions?: number;
  /**
   * Seconds to wait for `/health`.
   * @default 30
   */
  startupTimeoutS?: number;
  /** Extra arguments for `envtorch serve`. */
  args?: string[];
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /**
   * Aborts the start: the child is stopped and its folder removed, and the
   * start rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** A running child server. */
export interface ProcessServer extends ServerHandle, AsyncDisposable {
  /** Process id of the child. */
  pid: number;
  /** The child's recent output (stdout and stderr, last 200 lines). */
  logs(): string;
}

/** The command that runs the envtorch CLI: the compiled binary, or deno with main.ts. */
export function cliCommand(): string[] {
  if (import.meta.url.includes("/deno-compile-")) return [Deno.execPath()];
  const main = new URL("../main.ts", import.meta.url);
  const config = new URL("../deno.json", import.meta.url);
  const cmd = [Deno.execPath(), "run", "--allow-all", "--quiet"];
  if (main.protocol === "file:") cmd.push("--config", config.pathname);
  return [...cmd, main.protocol === "file:" ? main.pathname : main.href];
}

/**
 * Starts `envtorch serve <env>` in a child process and returns where to reach it.
 *
 * @example
 * ```ts ignore
 * import { startProcess } from "./process.ts";
 * await using server = await startProcess("echo");
 * console.log(server.baseUrl); // unix:/tmp/envtorch-.../env.sock
 * ```
 */
export async function startProcess(
  env: string,
  options: ProcessOptions = {},
): Promise<ProcessServer> {
  options.signal?.throwIfAborted();
  const dir = await Deno.makeTempDir({ prefix: "envtorch-" });
  const socket = `${dir}/env.sock`;
  const [cmd, ...base] = cliCommand();
  // The child removes the folder too (if empty) when it stops: a parent
  // killed by Ctrl-C never runs its own clean-up, but its child sees stdin close.
  const args = [
    ...base,
    "serve",
    env,
    "--socket",
    socket,
    "--exit-on-stdin-eof",
    "--remove-socket-dir",
  ];
  if (options.maxSessions !== undefined) args.push("--max-sessions", String(options.maxSessions));
  args.push(...(options.args ?? []));
  const child = new Deno.Command(cmd!, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      lines.push(...chunk.split("\n").filter((l) => l.length > 0));
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    }
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
  // The child exits when this pipe closes, so it cannot outlive this process.
  const lifeline = child.stdin.getWriter();
  let stopping: Promise<void> | undefined;
  const close = () =>
    stopping ??= (async () => {
      await lifeline.close().catch(() => {});
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 5000);
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
      clearTimeout(killer);
      await drained;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const exited = child.status.then((s) => s);
  try {
    await waitForHealth(`unix:${socket}`, {
      timeoutS: options.startupTimeoutS ?? 30,
      signal: options.signal,
      exited,
    });
  } catch (error) {
    await close();
    // A caller who aborted gets their own reason back, as from every provider.
    if (options.signal?.aborted) throw options.signal.reason;
    const tail = lines.slice(-20).join("\n");
    throw new ConnectionError(
      `Cannot start env ${env} in a child process: ${(error as Error).message}${
        tail ? `\n--- last output ---\n${tail}` : ""
      }`,
      { cause: error },
    );
  }
  return {
    baseUrl: `unix:${socket}`,
    pid: child.pid,
    logs: () => lines.join("\n"),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The process provider as a {@link Provider}: `start(env)` runs
 * `envtorch serve <env>` in a child process (an env name, or a manifest path
 * or URL).
 *
 * @example
 * ```ts ignore
 * import { ProcessProvider } from "./process.ts";
 * import { EchoEnv } from "../envs/echo/client.ts";
 * await using env = await EchoEnv.from(new ProcessProvider(), "echo");
 * ```
 */
export class ProcessProvider implements Provider<ProcessOptions, ProcessServer> {
  /** The provider's name in messages and the CLI. */
  readonly name = "process";

  /** Starts `envtorch serve <env>` in a child process; see {@link startProcess}. */
  start(env: string, options?: ProcessOptions): Promise<ProcessServer> {
    return startProcess(env, options);
  }

  /** Holds nothing of its own: each server is closed by its handle. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
