/**
 * The local Docker provider: starts an env image as a hardened container
 * through the Engine API, reaches it on a unix socket in a bind-mounted
 * folder (network `none`), optionally forwarded from a port on 127.0.0.1 by
 * this process (the container still has no network), waits for `/health`,
 * and owns the container's removal. Orphans of dead owners are reaped at
 * the first start and on demand.
 *
 * @module
 */
import type { Provider, ServerHandle } from "../../protocol/provider.ts";
import { waitForHealth } from "../health.ts";
import { DockerEngine, type DockerEngineOptions } from "./engine.ts";
import {
  ContainerStartError,
  DockerConflictError,
  DockerError,
  DockerNotFoundError,
  HardeningError,
  ImageNotFoundError,
} from "./engine_errors.ts";
import type {
  ContainerCreateBody,
  ContainerInspect,
  HostConfig,
  ImageInspect,
} from "./engine_types.ts";
import {
  checkHostConfig,
  checkMounts,
  type ExposureOptions,
  hardenedHostConfig,
  hardeningFromLabels,
  type HardeningOptions,
  type HostConfigMismatch,
  type ImageLimitCeilings,
} from "./hardening.ts";
import {
  checkLabels,
  containerLabels,
  currentOwner,
  LABELS,
  type OwnerIdentity,
  ownerLabels,
} from "./labels.ts";
import { printable } from "./printable.ts";
import { TcpForwarder } from "./tcp_forwarder.ts";
import { framesToText } from "./log_frames.ts";
import {
  listManagedContainers,
  type ManagedContainer,
  reapContainers,
  type ReapedContainer,
  type ReapOptions,
} from "./managed_containers.ts";
import { CONTAINER_SOCKET_DIR } from "./managed_containers.ts";

/** Where the socket folder is mounted inside the container. */
export { CONTAINER_SOCKET_DIR };
/** The socket the server listens on inside the container. */
export const CONTAINER_SOCKET = `${CONTAINER_SOCKET_DIR}/env.sock`;
/** The port an env image serves on. */
export const CONTAINER_PORT = 8000;

/**
 * Options of {@link LocalDockerProvider.start}. A limit or capability left
 * out takes the value the image asks for through its
 * `IMAGE_HARDENING_LABELS` (see hardening.ts), else the docs/security.md default.
 */
export interface DockerStartOptions extends HardeningOptions {
  /**
   * How to reach the server: `unix` (a socket in a bind-mounted folder), `tcp`
   * (a port on 127.0.0.1 that this process forwards to that socket), or
   * `auto`: `unix` on Linux for envtorch images when this process runs as
   * root (the socket belongs to the container's user), `tcp` otherwise.
   * Either way the container has no network (`NetworkMode: none`) unless
   * `network` asks for one explicitly: only then is `tcp` a port the engine
   * publishes (on 127.0.0.1) from a container with a network.
   * @default "auto"
   */
  transport?: "auto" | "unix" | "tcp";
  /**
   * Host port for `tcp` (on 127.0.0.1); 0 picks a free one.
   * @default 0
   */
  port?: number;
  /** Extra environment variables for the server. */
  env?: Record<string, string>;
  /** Overrides the image's command (the arguments after its entrypoint). */
  cmd?: string[];
  /** Overrides the image's entrypoint. */
  entrypoint?: string[];
  /** User to run as, e.g. `10001:10001`; the image's by default. */
  user?: string;
  /** Container name; `envtorch-<image>-<random>` by default. */
  name?: string;
  /** The session label; a random id by default. */
  session?: string;
  /**
   * Seconds after which the reaper may remove the container whatever its owner.
   * @default 86400
   */
  ttlS?: number;
  /**
   * Seconds to wait for `/health`.
   * @default 30
   */
  startupTimeoutS?: number;
  /**
   * Seconds between SIGTERM and SIGKILL when stopping.
   * @default 5
   */
  stopTimeoutS?: number;
  /** Extra labels. */
  labels?: Record<string, string>;
  /** Aborts the start (the container is removed). */
  signal?: AbortSignal;
}

/** Options of {@link LocalDockerProvider}. */
export interface LocalDockerProviderOptions extends DockerEngineOptions {
  /** An engine client to use (not closed with the provider); one is made otherwise. */
  engine?: DockerEngine;
  /**
   * Reap orphaned containers before the first start.
   * @default true
   */
  reapOnStart?: boolean;
  /**
   * Seconds between reaps while the provider is open; 0 turns the timer off.
   * @default 0
   */
  reapIntervalS?: number;
  /** The most an image may ask for through its labels (see hardening.ts). */
  imageCeilings?: ImageLimitCeilings;
}

/** A running env container. */
export class DockerContainer implements ServerHandle, AsyncDisposable {
  /**
   * `unix:/tmp/envtorch-docker-.../sock/env.sock`, or `http://127.0.0.1:PORT`
   * (forwarded by this process to that socket, or published by the engine
   * when a network was asked for).
   */
  readonly baseUrl: string;
  /**
   * The token the server asks for with a port (`tcp`): the port is open to
   * every user of this machine, forwarded or published; clients given this
   * handle send it. None on a unix socket, which only its owner can open.
   */
  readonly token?: string;
  /** Container id. */
  readonly id: string;
  /** Container name. */
  readonly name: string;
  /** The image it runs. */
  readonly image: string;
  /** The session label. */
  readonly session: string;
  /** The HostConfig envtorch asked for (and checked). */
  readonly hostConfig: HostConfig;
  /**
   * What the image asked for through its labels (capabilities, memory, pids,
   * /tmp size), whether or not the caller's options overrode it.
   */
  readonly imageHardening: HardeningOptions;
  #engine: DockerEngine;
  #socketDir?: string;
  #stopTimeoutS: number;
  #onClose?: () => Promise<void>;
  #closing?: Promise<void>;

  /** Wraps a started container; use {@link LocalDockerProvider.start}. */
  constructor(init: {
    engine: DockerEngine;
    id: string;
    name: string;
    image: string;
    session: string;
    baseUrl: string;
    token?: string;
    hostConfig: HostConfig;
    imageHardening?: HardeningOptions;
    socketDir?: string;
    stopTimeoutS: number;
    onClose?: () => Promise<void>;
  }) {
    this.#engine = init.engine;
    this.id = init.id;
    this.name = init.name;
    this.image = init.image;
    this.session = init.session;
    this.baseUrl = init.baseUrl;
    this.token = init.token;
    this.hostConfig = init.hostConfig;
    this.imageHardening = init.imageHardening ?? {};
    this.#socketDir = init.socketDir;
    this.#stopTimeoutS = init.stopTimeoutS;
    this.#onClose = init.onClose;
  }

  /**
   * The container's last log lines (stdout and stderr), as the engine has
   * stored them so far. The engine copies a container's output
   * asynchronously, so a line the process has just written may not be there
   * yet; to wait for a line, follow the stream
   * (`engine.containers.followLogs(id)`).
   */
  async logs(options: { tail?: number | "all"; signal?: AbortSignal } = {}): Promise<string> {
    const frames = await this.#engine.containers.logs(this.id, {
      tail: options.tail ?? 200,
      signal: options.signal,
    });
    return framesToText(frames);
  }

  /** The engine's view of the container. */
  inspect(options: { signal?: AbortSignal } = {}): Promise<ContainerInspect> {
    return this.#engine.containers.inspect(this.id, options);
  }

  /** Stops and removes the container and its socket folder. Safe to call twice. */
  stop(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        await removeContainer(this.#engine, this.id, this.#stopTimeoutS);
      } finally {
        if (this.#socketDir) {
          await Deno.remove(this.#socketDir, { recursive: true }).catch(() => {});
        }
        await this.#onClose?.();
      }
    })();
  }

  /** Same as {@link stop}. */
  close(): Promise<void> {
    return this.stop();
  }

  /** Same as {@link stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

async function removeContainer(engine: DockerEngine, id: string, stopTimeoutS: number) {
  try {
    await engine.containers.stop(id, { timeoutS: stopTimeoutS });
  } catch (error) {
    if (error instanceof DockerNotFoundError) return;
    // A container that cannot be stopped is still removed by force below.
  }
  try {
    await engine.containers.remove(id, { force: true, volumes: true });
  } catch (error) {
    if (error instanceof DockerNotFoundError) return;
    if (error instanceof DockerConflictError && /in progress/.test(error.message)) return;
    throw error;
  }
}

/** The options whose value is not undefined (so that `{ pids: undefined }` keeps the image's value). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/**
 * Makes the bind-mounted socket folder writable by the container's user
 * only: owned by its uid and gid, mode 0700, when that user is numeric (or
 * root) and this process may chown; else mode 0777 (the parent, 0700, keeps
 * the host's other users out). A folder only the server can write means that
 * code the server runs under another uid (the coding env's workers) cannot
 * replace the socket with its own.
 */
async function lockSocketFolder(path: string, user: string): Promise<void> {
  const match = /^(?:(root)|(\d+))?(?::(\d+))?$/.exec(user.trim());
  const uid = match ? (match[2] !== undefined ? Number(match[2]) : 0) : undefined;
  const gid = match?.[3] !== undefined ? Number(match[3]) : uid;
  if (uid !== undefined && Deno.uid() === 0) {
    await Deno.chown(path, uid, gid ?? uid);
    await Deno.chmod(path, 0o700);
    return;
  }
  await Deno.chmod(path, 0o777);
}

function shortName(image: string): string {
  const base = image.split("@")[0]!.split("/").pop()!.split(":")[0]!;
  return base.replace(/[^a-zA-Z0-9_.-]/g, "-").slice(0, 40) || "env";
}

/**
 * Starts env images as hardened containers.
 *
 * @example
 * ```ts ignore
 * import { LocalDockerProvider } from "./local_docker_provider.ts";
 * await using docker = new LocalDockerProvider();
 * await using server = await docker.start("echo-env:latest");
 * console.log(server.baseUrl); // unix:/tmp/envtorch-docker-.../sock/env.sock
 * ```
 */
export class LocalDockerProvider
  implements Provider<DockerStartOptions, DockerContainer>, AsyncDisposable {
  /** The provider's name in messages and the CLI. */
  readonly name = "docker";
  /** The engine client. */
  readonly engine: DockerEngine;
  #ownsEngine: boolean;
  #reapOnStart: boolean;
  #reaped?: Promise<unknown>;
  #ceilings?: ImageLimitCeilings;
  #timer?: ReturnType<typeof setInterval>;
  #owner: OwnerIdentity;
  #started = new Set<DockerContainer>();

  /** Creates the provider; nothing is sent until the first call. */
  constructor(options: LocalDockerProviderOptions = {}) {
    this.#ownsEngine = !options.engine;
    this.engine = options.engine ?? new DockerEngine(options);
    this.#reapOnStart = options.reapOnStart ?? true;
    this.#ceilings = options.imageCeilings;
    this.#owner = currentOwner();
    const interval = options.reapIntervalS ?? 0;
    if (interval > 0) {
      const timer = setInterval(() => void this.reap().catch(() => {}), interval * 1000);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Removes managed containers whose owner is gone or whose expiry passed. */
  reap(options: ReapOptions = {}): Promise<ReapedContainer[]> {
    return reapContainers(this.engine, options);
  }

  /** Every container envtorch manages on this engine. */
  list(options: { signal?: AbortSignal } = {}): Promise<ManagedContainer[]> {
    return listManagedContainers(this.engine, options);
  }

  /**
   * Starts `image` as a hardened container and waits until it answers
   * `/health`. On any failure the container is removed, and the error
   * carries its last log lines.
   */
  async start(image: string, options: DockerStartOptions = {}): Promise<DockerContainer> {
    if (this.#reapOnStart) this.#reaped ??= this.reap().catch(() => {});
    const signal = options.signal;
    let inspected: ImageInspect;
    try {
      inspected = await this.engine.images.inspect(image, { signal });
    } catch (error) {
      if (error instanceof DockerNotFoundError) {
        throw new ImageNotFoundError(
          image,
          `Image ${image} not found: build it with \`envtorch build <env>\` (or pull it)`,
          { cause: error },
        );
      }
      throw error;
    }
    const imageLabels = inspected.Config?.Labels ?? {};
    let imageHardening: HardeningOptions;
    try {
      imageHardening = hardeningFromLabels(imageLabels, this.#ceilings);
    } catch (error) {
      throw new TypeError(`Cannot start ${image}: ${(error as Error).message}`, { cause: error });
    }
    // The caller's own values win, field by field; the image's fill the rest.
    const hardening: HardeningOptions = { ...imageHardening, ...definedOnly(options) };
    const envtorchImage = imageLabels["envtorch.base"] === "1";
    const requested = options.transport ?? "auto";
    const transport = requested !== "auto"
      ? requested
      : Deno.build.os === "linux" && envtorchImage && Deno.uid() === 0
      ? "unix"
      : "tcp";
    // Only an explicit network lets the engine publish the port; by default the
    // container keeps network none and this process forwards the port to its socket.
    const network = hardening.network ?? "none";
    const published = transport === "tcp" && network !== "none";
    if (transport === "tcp" && !published && Deno.uid() !== 0) {
      throw new DockerError(
        `Cannot publish ${image} on a port without giving it a network: the port is forwarded ` +
          "to the container's unix socket, which belongs to the container's user and only root " +
          `can open (this process runs as uid ${Deno.uid()}). Run as root, use the unix socket ` +
          "as root, or ask for network bridge explicitly (--network bridge; the container then " +
          "has a network)",
      );
    }
    const volumes = Object.keys(inspected.Config?.Volumes ?? {});

    const session = options.session ?? crypto.randomUUID();
    const ttlS = options.ttlS ?? 86_400;
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const cmd = options.cmd;
    let socketDir: string | undefined;
    let forwarder: TcpForwarder | undefined;
    let exposure: ExposureOptions;
    // A port, forwarded or published, is open to every local user: the server asks for a token.
    let token: string | undefined;
    if (transport === "tcp") {
      token = options.env?.ENVTORCH_TOKEN ||
        btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))
          .replace(/[+/=]/g, (c) => ({ "+": "-", "/": "_", "=": "" })[c]!);
      if (!options.env?.ENVTORCH_TOKEN) env.push(`ENVTORCH_TOKEN=${token}`);
    }
    // Checks the limits before anything is made.
    hardenedHostConfig(
      hardening,
      published ? { publish: { containerPort: CONTAINER_PORT }, volumes } : { volumes },
    );
    const cleanup = async () => {
      if (id) await removeContainer(this.engine, id, 0).catch(() => {});
      await forwarder?.close();
      if (socketDir) await Deno.remove(socketDir, { recursive: true }).catch(() => {});
    };
    let id: string | undefined;
    const waiter = new AbortController();
    try {
      if (!published) {
        socketDir = await Deno.makeTempDir({ prefix: "envtorch-docker-" });
        await Deno.mkdir(`${socketDir}/sock`);
        await lockSocketFolder(`${socketDir}/sock`, options.user ?? inspected.Config?.User ?? "");
        env.push(`ENVTORCH_SOCKET=${CONTAINER_SOCKET}`);
        exposure = {
          socketDir: { hostPath: `${socketDir}/sock`, containerPath: CONTAINER_SOCKET_DIR },
          volumes,
        };
        if (transport === "tcp") {
          forwarder = TcpForwarder.listen({
            socketPath: `${socketDir}/sock/env.sock`,
            port: options.port ?? 0,
          });
        }
      } else {
        // Images from Dockerfile.base bind 0.0.0.0 (ENVTORCH_HOST) so the published port answers.
        env.push(`PORT=${CONTAINER_PORT}`);
        exposure = {
          publish: { containerPort: CONTAINER_PORT, hostPort: options.port ?? 0 },
          volumes,
        };
      }
      const hostConfig = hardenedHostConfig(hardening, exposure);
      const name = options.name ?? `envtorch-${shortName(image)}-${session.slice(0, 8)}`;
      const labels = containerLabels(imageLabels, options.labels ?? {}, {
        [LABELS.managed]: "true",
        [LABELS.session]: session,
        [LABELS.expires]: new Date(Date.now() + ttlS * 1000).toISOString(),
        ...ownerLabels(this.#owner),
        [LABELS.socketDir]: socketDir ?? "",
        [LABELS.forward]: forwarder ? `127.0.0.1:${forwarder.port}` : "",
      });
      const body: ContainerCreateBody = {
        Image: image,
        Cmd: cmd,
        Entrypoint: options.entrypoint,
        Env: env,
        User: options.user,
        Tty: false,
        StopTimeout: options.stopTimeoutS ?? 5,
        Labels: labels,
        ExposedPorts: published ? { [`${CONTAINER_PORT}/tcp`]: {} } : undefined,
        HostConfig: hostConfig,
      };

      // Not cancelled mid-request: an aborted create may still make the container,
      // and only a known id can be removed. The signal is checked right after.
      id = (await this.engine.containers.create(body, { name })).Id;
      signal?.throwIfAborted();
      const created = await this.engine.containers.inspect(id, { signal });
      const mismatches: HostConfigMismatch[] = [
        ...checkHostConfig(hostConfig, created.HostConfig),
        ...checkMounts(exposure, created.Mounts),
        ...checkLabels(labels, created.Config.Labels).map((key) => ({
          field: `Config.Labels.${key}`,
          expected: labels[key] ?? "(none)",
          actual: created.Config.Labels?.[key],
        })),
      ];
      if (mismatches.length) {
        throw new HardeningError(
          printable(
            `Container ${name} is not hardened as asked: ${
              mismatches.map((m) =>
                `${m.field} is ${JSON.stringify(m.actual)}, expected ${JSON.stringify(m.expected)}`
              ).join("; ")
            }`,
          ),
          mismatches,
        );
      }
      await this.engine.containers.start(id, { signal });
      // Resolves if the container exits; never settles once the wait is aborted.
      const exited = this.engine.containers.wait(id, { signal: waiter.signal })
        .then((r) => ({ code: r.StatusCode }), () => new Promise<never>(() => {}));
      let baseUrl: string;
      if (forwarder) {
        baseUrl = `http://127.0.0.1:${forwarder.port}`;
      } else if (socketDir) {
        baseUrl = `unix:${socketDir}/sock/env.sock`;
      } else {
        const running = await this.engine.containers.inspect(id, { signal });
        const port = running.NetworkSettings.Ports?.[`${CONTAINER_PORT}/tcp`]?.find((b) =>
          b.HostIp === "127.0.0.1"
        )?.HostPort;
        if (!port) throw new DockerError(`Container ${name} has no port published on 127.0.0.1`);
        baseUrl = `http://127.0.0.1:${Number(port)}`;
      }
      try {
        await waitForHealth(baseUrl, {
          timeoutS: options.startupTimeoutS ?? 30,
          signal,
          exited,
        });
      } catch (error) {
        if (signal?.aborted) throw error;
        const logs = await this.engine.containers.logs(id, { tail: 30 })
          .then(framesToText).then(printable).catch(() => "");
        throw new ContainerStartError(
          `Cannot start container ${image}: ${(error as Error).message}${
            logs.trim() ? `\n--- last log lines ---\n${logs.trimEnd()}` : " (it wrote no logs)"
          }`,
          logs,
          { cause: error },
        );
      }
      const container: DockerContainer = new DockerContainer({
        engine: this.engine,
        id,
        name,
        image,
        session,
        baseUrl,
        token,
        hostConfig,
        imageHardening,
        socketDir,
        stopTimeoutS: options.stopTimeoutS ?? 5,
        onClose: async () => {
          await forwarder?.close();
          this.#started.delete(container);
        },
      });
      this.#started.add(container);
      return container;
    } catch (error) {
      await cleanup();
      throw error;
    } finally {
      waiter.abort();
      await this.#reaped;
    }
  }

  /** Stops the reaper timer, removes the containers this provider started and still runs, and closes the engine client it made. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#started].map((c) => c.stop()));
    await this.#reaped;
    if (this.#ownsEngine) await this.engine.close();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
