/**
 * Exec resources of the Engine API: run a command inside a running
 * container and collect its output and exit code.
 *
 * @module
 */
import { delay, withDeadline } from "../../protocol/deadline.ts";
import type { DockerEngine } from "./engine.ts";
import type { ExecInspect } from "./engine_types.ts";
import { decodeLogFrames, framesToText } from "./log_frames.ts";
import { BodyTooLargeError, readCappedBytes } from "../read_capped.ts";
import { DockerError } from "./engine_errors.ts";

/** The most bytes of output {@link ExecApi.run} reads. */
export const MAX_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024;
import { path } from "./path.ts";

/** Options of {@link ExecApi.run}. */
export interface ExecRunOptions {
  /** User to run as; the container's by default. */
  user?: string;
  /** `NAME=value` entries added to the container's environment. */
  env?: string[];
  /** Working directory. */
  workingDir?: string;
  /**
   * Seconds the command may take.
   * @default 30
   */
  timeoutS?: number;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** What a finished command gave. */
export interface ExecResult {
  /** The command's exit code. */
  exitCode: number;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/** Exec calls of one engine. */
export class ExecApi {
  #engine: DockerEngine;

  /** Binds the calls to an engine. */
  constructor(engine: DockerEngine) {
    this.#engine = engine;
  }

  /** `POST /containers/{id}/exec`: creates an exec instance and returns its id. */
  async create(
    containerId: string,
    cmd: string[],
    options: Omit<ExecRunOptions, "timeoutS"> = {},
  ): Promise<string> {
    const created = await this.#engine.json<{ Id: string }>(
      "POST",
      path`/containers/${containerId}/exec`,
      {
        json: {
          Cmd: cmd,
          AttachStdin: false,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          User: options.user,
          Env: options.env,
          WorkingDir: options.workingDir,
        },
        signal: options.signal,
      },
    );
    return created.Id;
  }

  /** `GET /exec/{id}/json`. */
  inspect(execId: string, options: { signal?: AbortSignal } = {}): Promise<ExecInspect> {
    return this.#engine.json("GET", path`/exec/${execId}/json`, options);
  }

  /**
   * Runs `cmd` in a running container and waits for it: its stdout, stderr
   * and exit code.
   *
   * @example
   * ```ts ignore
   * const { stdout } = await engine.exec.run(id, ["cat", "/proc/self/status"]);
   * ```
   */
  run(containerId: string, cmd: string[], options: ExecRunOptions = {}): Promise<ExecResult> {
    const timeoutS = options.timeoutS ?? 30;
    const deadline = { signal: options.signal, timeoutS };
    return withDeadline(
      `Docker exec in ${containerId.slice(0, 12)}`,
      deadline,
      async ({ signal }) => {
        const execId = await this.create(containerId, cmd, { ...options, signal });
        const res = await this.#engine.request("POST", path`/exec/${execId}/start`, {
          json: { Detach: false, Tty: false },
          signal,
        });
        const bytes = await readCappedBytes(
          res.body,
          MAX_EXEC_OUTPUT_BYTES,
          "Docker engine (exec output)",
        )
          .catch((error) => {
            throw error instanceof BodyTooLargeError
              ? new DockerError(error.message, { cause: error })
              : error;
          });
        const frames = await decodeLogFrames(bytes);
        let info = await this.inspect(execId, { signal });
        for (let i = 0; info.Running && i < 100; i++) {
          await delay(20, { signal });
          info = await this.inspect(execId, { signal });
        }
        return {
          exitCode: info.ExitCode ?? -1,
          stdout: framesToText(frames, ["stdout"]),
          stderr: framesToText(frames, ["stderr"]),
        };
      },
    );
  }
}
