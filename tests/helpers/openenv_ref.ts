/**
 * OpenEnv's reference image (`openenv-ref:latest`, OpenEnv 0.2.3 with its
 * servers, Python clients and tests), driven through envtorch's Docker
 * Engine client: start its servers on 127.0.0.1, run its Python clients and
 * pytest on the host network. Tests using it skip when the image is missing,
 * and fail under CI=true (where `.ci/run` builds it first).
 *
 * @module
 */
import { DockerEngine } from "../../providers/docker/engine.ts";
import { IN_CI, NO_DOCKER, runLabel } from "../docker_helpers.ts";

/** The reference image (`ENVTORCH_TEST_OPENENV_IMAGE` overrides). */
export const OPENENV_IMAGE = Deno.env.get("ENVTORCH_TEST_OPENENV_IMAGE") ?? "openenv-ref:latest";

async function probe(): Promise<string | undefined> {
  if (NO_DOCKER) return NO_DOCKER;
  await using engine = new DockerEngine();
  return await engine.images.exists(OPENENV_IMAGE)
    ? undefined
    : `no ${OPENENV_IMAGE} image (build it with the openenv-ref build script)`;
}

/** Why the OpenEnv interop tests cannot run here, or undefined. */
export const NO_OPENENV: string | undefined = await probe();

/** Registers a test that needs the reference image: skipped without it, failed under CI=true. */
export function openenvTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  if (NO_OPENENV && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${NO_OPENENV})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (NO_OPENENV) throw new Error(`CI=true but ${NO_OPENENV}`);
    await fn(t);
  });
}

/** What a command in the image gave. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Options of {@link runInImage}. */
export interface RunInImageOptions {
  /** Host directory mounted read-only at /w. */
  mount?: string;
  /** Environment variables, `NAME=value`. */
  env?: string[];
  /**
   * Seconds the command may run.
   * @default 300
   */
  timeoutS?: number;
}

/**
 * Runs a command in the reference image on the host network (so that
 * 127.0.0.1 is the host's) and returns its exit code and output.
 */
export async function runInImage(
  cmd: string[],
  options: RunInImageOptions = {},
): Promise<RunResult> {
  await using engine = new DockerEngine();
  const { Id } = await engine.containers.create({
    Image: OPENENV_IMAGE,
    Cmd: cmd,
    Env: options.env,
    Labels: runLabel(),
    HostConfig: {
      NetworkMode: "host",
      Binds: options.mount ? [`${options.mount}:/w:ro`] : [],
    },
  });
  try {
    await engine.containers.start(Id);
    const { StatusCode } = await engine.containers.wait(Id, { timeoutS: options.timeoutS ?? 300 });
    const frames = await engine.containers.logs(Id);
    const decoder = new TextDecoder();
    const text = (stream: string) =>
      frames.filter((f) => f.stream === stream).map((f) => decoder.decode(f.data)).join("");
    return { code: StatusCode, stdout: text("stdout"), stderr: text("stderr") };
  } finally {
    await engine.containers.remove(Id, { force: true, missingOk: true });
  }
}

/** A running OpenEnv server. */
export interface OpenEnvServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  baseUrl: string;
}

/** Starts OpenEnv's `echo` or `coding` server from the image, published on 127.0.0.1. */
export async function startOpenEnvServer(
  env: "echo" | "coding",
  options: { env?: string[] } = {},
): Promise<OpenEnvServer> {
  const engine = new DockerEngine();
  const { Id } = await engine.containers.create({
    Image: OPENENV_IMAGE,
    Cmd: ["openenv-serve", env, "--log-level", "warning"],
    Env: options.env,
    Labels: runLabel(),
    ExposedPorts: { "8000/tcp": {} },
    HostConfig: { PortBindings: { "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
  });
  const dispose = async () => {
    await engine.containers.remove(Id, { force: true, missingOk: true });
    await engine.close();
  };
  try {
    await engine.containers.start(Id);
    const info = await engine.containers.inspect(Id);
    const port = info.NetworkSettings.Ports?.["8000/tcp"]?.[0]?.HostPort;
    if (!port) throw new Error(`OpenEnv ${env} server: no published port`);
    const baseUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (true) {
      try {
        const res = await fetch(`${baseUrl}/health`);
        await res.body?.cancel();
        if (res.ok) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`OpenEnv ${env} server never answered /health`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { baseUrl, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
