/**
 * The Kubernetes provider: starts an env image as a hardened Pod, waits
 * until it runs (and, where the kubelet can probe it, until its `/health`
 * readiness probe passes), reaches it over a 127.0.0.1 port forwarded
 * through the API server (or the node's loopback, the Pod's IP, a Service),
 * and owns the Pod's deletion. Orphans of dead owners are reaped at the
 * first start and on demand.
 *
 * @module
 */
import { delay } from "../../protocol/deadline.ts";
import type { Provider, ProviderStartOptions, ServerHandle } from "../../protocol/provider.ts";
import { waitForHealth } from "../health.ts";
import { DockerEngine } from "../docker/engine.ts";
import { KubernetesClient } from "./client.ts";
import {
  KubernetesConflictError,
  KubernetesError,
  KubernetesNotFoundError,
  PodHardeningError,
  PodStartError,
} from "./errors.ts";
import type { KubeConfigOptions } from "./kubeconfig.ts";
import { LABELS, labelValue, POD_LABELS, podOwnerLabels } from "./labels.ts";
import {
  listManagedPods,
  type ManagedPod,
  type ManagedPodOptions,
  type PodReapOptions,
  type ReapedPod,
  reapPods,
  SERVICE_LABEL,
} from "./managed_pods.ts";
import {
  checkPod,
  CONTAINER_NAME,
  DENY_EGRESS_POLICY,
  denyEgressPolicy,
  hardenedPod,
  POD_PORT,
  podHardeningFromLabels,
  type PodHardeningOptions,
  type PodReach,
  userOfImage,
} from "./pod_spec.ts";
import { NetworkPolicyApi, PodApi, ServiceApi } from "./pods.ts";
import { PortForward } from "./port_forward.ts";
import type { Pod } from "./types.ts";
import { currentOwner, type OwnerIdentity } from "../docker/labels.ts";

/**
 * Options of {@link KubernetesProvider.start}. A limit or capability left
 * out takes the value the image asks for through its envtorch labels, else
 * the default of {@link PodHardeningOptions}.
 */
export interface KubernetesStartOptions extends ProviderStartOptions, PodHardeningOptions {
  /**
   * Namespace of the Pod.
   * @default the provider's namespace
   */
  namespace?: string;
  /**
   * How to reach the server (see {@link PodReach}).
   * @default "port-forward"
   */
  reach?: PodReach;
  /**
   * With `host-network`: the node port to serve on (on 127.0.0.1); 0 picks one free here.
   * @default 0
   */
  hostPort?: number;
  /**
   * When the kubelet pulls the image (`Never` for images loaded into the node).
   * @default "IfNotPresent"
   */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * The image's labels and `USER`, when the image is not in the local Docker
   * engine (where the provider reads them): e.g.
   * `{ labels: { "envtorch.cap-add": "SETUID,SETGID,KILL" }, user: "0:0" }`.
   */
  imageConfig?: ImageConfig;
  /** Overrides the image's entrypoint. */
  command?: string[];
  /** Overrides the image's command. */
  args?: string[];
  /** Pod name; `envtorch-<image>-<random>` by default. */
  name?: string;
  /** The session label; a random id by default. */
  session?: string;
  /** Extra labels (values must be valid label values). */
  labels?: Record<string, string>;
  /**
   * The grace period `close()` deletes the Pod with. 0 removes the Pod from
   * the API at once and the kubelet then kills its container (an env server
   * keeps nothing worth a graceful stop); more lets the server end on SIGTERM,
   * but the Pod stays listed as Terminating until the kubelet confirms, which
   * took up to 75 s on the test lab.
   * @default 0
   */
  stopTimeoutS?: number;
}

/** What the provider reads of an image (from the local Docker engine, or given). */
export interface ImageConfig {
  /** The image's labels (the envtorch hardening labels). */
  labels?: Record<string, string>;
  /** The image's `USER`. */
  user?: string;
  /** The image's `CMD` (arguments after its entrypoint). */
  cmd?: string[];
}

/** Options of {@link KubernetesProvider}. */
export interface KubernetesProviderOptions extends KubeConfigOptions {
  /** A client to use (not closed with the provider); one is made from the kubeconfig otherwise. */
  client?: KubernetesClient;
  /**
   * Namespace of the Pods.
   * @default the kubeconfig context's namespace
   */
  namespace?: string;
  /**
   * Reap orphaned Pods (of this namespace) before the first start.
   * @default true
   */
  reapOnStart?: boolean;
  /**
   * Seconds between reaps while the provider is open; 0 turns the timer off.
   * @default 0
   */
  reapIntervalS?: number;
  /**
   * Read image labels and `USER` from the local Docker engine.
   * @default true
   */
  inspectLocalImages?: boolean;
}

/** Milliseconds from {@link KubernetesProvider.start}'s call to each step of a start. */
export interface PodTimings {
  /** The API server stored the Pod. */
  created: number;
  /** The provider began to reach for the server: the Pod is on a node (port-forward) or its readiness probe passed. */
  reachable: number;
  /** The server answered `/health` where the provider reaches it. */
  healthy: number;
}

/** Where a Pod's stop came from: deleted, failed, or its server exited. */
export interface PodExit {
  /** In words, e.g. `deleted`, `container exited with code 1 (Error)`. */
  reason: string;
}

/** A running env Pod. */
export class KubernetesPod implements ServerHandle, AsyncDisposable {
  /** `http://127.0.0.1:PORT` (or the Pod's IP, or its Service). */
  readonly baseUrl: string;
  /** Pod name. */
  readonly name: string;
  /** The token the server asks for (in-cluster reach only: a forwarded server listens on loopback). */
  readonly token?: string;
  /** Namespace. */
  readonly namespace: string;
  /** The image it runs. */
  readonly image: string;
  /** The session label. */
  readonly session: string;
  /** How it is reached. */
  readonly reach: PodReach;
  /** The Pod envtorch asked for (and checked). */
  readonly spec: Pod;
  /** The Pod as the API server stored it (read back after create). */
  readonly stored: Pod;
  /** What the image asked for through its labels. */
  readonly imageHardening: PodHardeningOptions;
  /** Resolves when the Pod stops (deleted, failed, its server exited). */
  readonly exited: Promise<PodExit>;
  /** Milliseconds from the start call to each step: Pod created, on a node (or ready), `/health` answered. */
  readonly timings: PodTimings;
  #kube: KubernetesClient;
  #forward?: PortForward;
  #watch: AbortController;
  #stopTimeoutS: number;
  #service: boolean;
  #onClose?: () => void;
  #closing?: Promise<void>;

  /** Wraps a started Pod; use {@link KubernetesProvider.start}. */
  constructor(init: {
    kube: KubernetesClient;
    baseUrl: string;
    token?: string;
    spec: Pod;
    stored: Pod;
    image: string;
    session: string;
    reach: PodReach;
    imageHardening: PodHardeningOptions;
    forward?: PortForward;
    exited: Promise<PodExit>;
    timings: PodTimings;
    watch: AbortController;
    stopTimeoutS: number;
    service: boolean;
    onClose?: () => void;
  }) {
    this.#kube = init.kube;
    this.baseUrl = init.baseUrl;
    this.token = init.token;
    this.spec = init.spec;
    this.stored = init.stored;
    this.name = init.spec.metadata.name!;
    this.namespace = init.spec.metadata.namespace!;
    this.image = init.image;
    this.session = init.session;
    this.reach = init.reach;
    this.imageHardening = init.imageHardening;
    this.#forward = init.forward;
    this.exited = init.exited;
    this.timings = init.timings;
    this.#watch = init.watch;
    this.#stopTimeoutS = init.stopTimeoutS;
    this.#service = init.service;
    this.#onClose = init.onClose;
  }

  /** The env container's last log lines. */
  logs(options: { tailLines?: number; signal?: AbortSignal } = {}): Promise<string> {
    return new PodApi(this.#kube).logs(this.namespace, this.name, options);
  }

  /** The Pod as the API server has it now. */
  read(options: { signal?: AbortSignal } = {}): Promise<Pod> {
    return new PodApi(this.#kube).get(this.namespace, this.name, options);
  }

  /** Closes the forward and deletes the Pod (and its Service). Safe to call twice. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        this.#watch.abort();
        await this.#forward?.close();
        await new PodApi(this.#kube).delete(this.namespace, this.name, {
          gracePeriodSeconds: this.#stopTimeoutS,
        });
        if (this.#service) await new ServiceApi(this.#kube).delete(this.namespace, this.name);
      } finally {
        this.#onClose?.();
      }
    })();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The options whose value is not undefined. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

function shortName(image: string): string {
  const base = image.split("@")[0]!.split("/").pop()!.split(":")[0]!;
  return base.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "").slice(0, 30) ||
    "env";
}

const FATAL_WAITING = new Set([
  "ErrImageNeverPull",
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
  "CrashLoopBackOff",
]);

/** Whether the Pod has stopped for good, and why. */
export function podEnded(pod: Pod): string | undefined {
  if (pod.metadata.deletionTimestamp) return "it is being deleted";
  const status = pod.status ?? {};
  const c = status.containerStatuses?.find((s) => s.name === CONTAINER_NAME);
  const t = c?.state?.terminated;
  if (t) {
    return `the server exited with ${t.signal ? `signal ${t.signal}` : `code ${t.exitCode}`}${
      t.reason ? ` (${t.reason}${t.message ? `: ${t.message.trim()}` : ""})` : ""
    }`;
  }
  const w = c?.state?.waiting;
  if (w?.reason && FATAL_WAITING.has(w.reason)) {
    return `${w.reason}${w.message ? `: ${w.message}` : ""}`;
  }
  if (status.phase === "Failed" || status.phase === "Succeeded") {
    return `the Pod ${status.phase.toLowerCase()}${
      status.reason ? ` (${status.reason}${status.message ? `: ${status.message}` : ""})` : ""
    }`;
  }
  return undefined;
}

function podScheduled(pod: Pod): boolean {
  return !!pod.spec?.nodeName;
}

function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function randomToken(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))
    .replace(/[+/=]/g, (c) => ({ "+": "-", "/": "_", "=": "" })[c]!);
}

function freeLocalPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts env images as hardened Pods.
 *
 * @example
 * ```ts ignore
 * import { KubernetesProvider } from "./kubernetes_provider.ts";
 * await using k8s = new KubernetesProvider({ namespace: "envs" });
 * await using server = await k8s.start("echo-env:latest");
 * console.log(server.baseUrl); // http://127.0.0.1:PORT, forwarded to the Pod
 * ```
 */
export class KubernetesProvider
  implements Provider<KubernetesStartOptions, KubernetesPod>, AsyncDisposable {
  /** `kubernetes`. */
  readonly name = "kubernetes";
  #options: KubernetesProviderOptions;
  #client?: Promise<KubernetesClient>;
  #ownsClient: boolean;
  #docker?: DockerEngine;
  #images = new Map<string, Promise<ImageConfig>>();
  #policies = new Map<string, Promise<void>>();
  #reaped?: Promise<unknown>;
  #timer?: ReturnType<typeof setInterval>;
  #owner: OwnerIdentity = currentOwner();
  #started = new Set<KubernetesPod>();

  /** Creates the provider; the kubeconfig is read at the first call. */
  constructor(options: KubernetesProviderOptions = {}) {
    this.#options = options;
    this.#ownsClient = !options.client;
    if (options.client) this.#client = Promise.resolve(options.client);
    const interval = options.reapIntervalS ?? 0;
    if (interval > 0) {
      const timer = setInterval(() => void this.reap().catch(() => {}), interval * 1000);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** The API client (made from the kubeconfig at the first call). */
  client(): Promise<KubernetesClient> {
    return this.#client ??= KubernetesClient.fromKubeConfig(this.#options);
  }

  /** The namespace Pods go to unless a start names another. */
  async namespace(): Promise<string> {
    return this.#options.namespace ?? (await this.client()).namespace;
  }

  /** Deletes managed Pods (of the provider's namespace) whose owner is gone or whose expiry passed. */
  async reap(options: PodReapOptions = {}): Promise<ReapedPod[]> {
    return reapPods(await this.client(), { namespace: await this.namespace(), ...options });
  }

  /** Every Pod envtorch manages in the provider's namespace. */
  async list(options: ManagedPodOptions = {}): Promise<ManagedPod[]> {
    return listManagedPods(await this.client(), { namespace: await this.namespace(), ...options });
  }

  #imageConfig(image: string): Promise<ImageConfig> {
    let found = this.#images.get(image);
    if (!found) {
      found = (async () => {
        if (this.#options.inspectLocalImages === false) return { labels: {} };
        try {
          this.#docker ??= new DockerEngine({ timeoutS: 5 });
          const inspected = await this.#docker.images.inspect(image);
          return {
            labels: inspected.Config?.Labels ?? {},
            user: inspected.Config?.User ?? "",
            cmd: inspected.Config?.Cmd ?? undefined,
          };
        } catch {
          return { labels: {} }; // not a local image, or no local engine
        }
      })();
      this.#images.set(image, found);
    }
    return found;
  }

  #ensurePolicy(kube: KubernetesClient, namespace: string): Promise<void> {
    let done = this.#policies.get(namespace);
    if (!done) {
      done = (async () => {
        const api = new NetworkPolicyApi(kube);
        const want = denyEgressPolicy(namespace);
        let stored;
        try {
          stored = await api.get(namespace, DENY_EGRESS_POLICY);
        } catch (error) {
          if (!(error instanceof KubernetesNotFoundError)) throw error;
          try {
            stored = await api.create(namespace, want);
          } catch (error) {
            if (!(error instanceof KubernetesConflictError)) throw error;
            stored = await api.get(namespace, DENY_EGRESS_POLICY);
          }
        }
        const s = stored.spec;
        const sorted = (labels: Record<string, string> = {}) =>
          JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1));
        const selects = sorted(s.podSelector?.matchLabels) ===
          sorted(want.spec.podSelector.matchLabels);
        if (!selects || !(s.policyTypes ?? []).includes("Egress") || (s.egress ?? []).length) {
          throw new PodHardeningError(
            `NetworkPolicy ${namespace}/${DENY_EGRESS_POLICY} does not deny all egress to envtorch Pods: ${
              JSON.stringify(s)
            }`,
            [{ field: "NetworkPolicy.spec", expected: want.spec, actual: s }],
          );
        }
      })();
      done.catch(() => this.#policies.delete(namespace));
      this.#policies.set(namespace, done);
    }
    return done;
  }

  /**
   * Starts `image` as a hardened Pod and waits until its server answers
   * `/health`. On any failure the Pod is deleted, and the error carries its
   * last log lines.
   */
  async start(image: string, options: KubernetesStartOptions = {}): Promise<KubernetesPod> {
    const kube = await this.client();
    const namespace = options.namespace ?? await this.namespace();
    if (this.#options.reapOnStart ?? true) {
      this.#reaped ??= reapPods(kube, { namespace }).catch(() => {});
    }
    const signal = options.signal;
    const reach = options.reach ?? "port-forward";
    const config = options.imageConfig ?? await this.#imageConfig(image);
    let imageHardening: PodHardeningOptions;
    try {
      imageHardening = podHardeningFromLabels(config.labels ?? {});
    } catch (error) {
      throw new TypeError(`Cannot start ${image}: ${(error as Error).message}`, { cause: error });
    }
    const user = userOfImage(config.user);
    const hardening: PodHardeningOptions = {
      ...imageHardening,
      ...(config.user !== undefined && user.uid !== undefined
        ? { runAsUser: user.uid, runAsGroup: user.gid }
        : {}),
      ...definedOnly({
        memoryBytes: options.memoryBytes,
        cpus: options.cpus,
        memoryRequestBytes: options.memoryRequestBytes,
        cpuRequest: options.cpuRequest,
        tmpSize: options.tmpSize,
        capAdd: options.capAdd,
        egress: options.egress,
        runAsUser: options.runAsUser,
        runAsGroup: options.runAsGroup,
        ttlS: options.ttlS,
      }),
    };
    const session = options.session ?? crypto.randomUUID();
    const ttlS = hardening.ttlS ?? 86_400;
    const expires = new Date(Date.now() + ttlS * 1000);
    const port = reach === "host-network" ? (options.hostPort || freeLocalPort()) : POD_PORT;
    const name = options.name ??
      `envtorch-${shortName(image)}-${session.slice(0, 8).toLowerCase()}`;
    const stopTimeoutS = options.stopTimeoutS ?? 0;
    // Off loopback (in-cluster reach) the server asks for a token and answers only the
    // Hosts it knows: give it a token, kept for clients, and let the token be the gate.
    const inCluster = reach === "pod-ip" || reach === "service";
    const env = { ...options.env };
    let token: string | undefined;
    let args = options.args;
    if (inCluster) {
      token = env.ENVTORCH_TOKEN || randomToken();
      env.ENVTORCH_TOKEN = token;
      if (!args && config.cmd?.[0] === "serve") args = [...config.cmd, "--allow-host", "*"];
    }
    const spec = hardenedPod({
      name,
      namespace,
      image,
      imagePullPolicy: options.imagePullPolicy,
      command: options.command,
      args,
      env,
      reach,
      port,
      hardening: { ...hardening, ttlS },
      labels: {
        ...options.labels,
        [LABELS.session]: labelValue(session),
        [LABELS.expires]: String(Math.floor(expires.getTime() / 1000)),
        ...podOwnerLabels(this.#owner),
        ...(reach === "service" ? { [SERVICE_LABEL]: "true" } : {}),
      },
      annotations: { [POD_LABELS.expiresAt]: expires.toISOString(), "envtorch.image": image },
    });
    if (!hardening.egress) await this.#ensurePolicy(kube, namespace);

    const pods = new PodApi(kube);
    let created = false;
    let service = false;
    let forward: PortForward | undefined;
    const watch = new AbortController();
    const cleanup = async () => {
      watch.abort();
      await forward?.close();
      if (created) await pods.delete(namespace, name, { gracePeriodSeconds: 0 }).catch(() => {});
      if (service) await new ServiceApi(kube).delete(namespace, name).catch(() => {});
    };
    const t0 = performance.now();
    const startupTimeoutS = options.startupTimeoutS ?? 30;
    // A timer of our own, cleared at the end: a listener on an AbortSignal.timeout()
    // keeps the process alive until it fires.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), startupTimeoutS * 1000);
    const deadline = timeout.signal;
    const waitSignal = AbortSignal.any([deadline, watch.signal, ...(signal ? [signal] : [])]);
    try {
      // The create runs to its end even when the caller aborts: an aborted request may still
      // make the Pod on the server, after a delete sent meanwhile. The signal is checked after.
      const first = await pods.create(namespace, spec, { signal: deadline });
      const createdMs = performance.now() - t0;
      created = true;
      signal?.throwIfAborted();
      const stored = await pods.get(namespace, name, { signal });
      const mismatches = checkPod(spec, stored);
      if (mismatches.length) {
        throw new PodHardeningError(
          `Pod ${namespace}/${name} is not hardened as asked: ${
            mismatches.map((m) =>
              `${m.field} is ${JSON.stringify(m.actual)}, expected ${JSON.stringify(m.expected)}`
            ).join("; ")
          }`,
          mismatches,
        );
      }
      // Follows the Pod for as long as the handle lives: start, readiness, end.
      let resolveExit!: (exit: PodExit) => void;
      const exited = new Promise<PodExit>((r) => (resolveExit = r));
      let exit: PodExit | undefined;
      const end = (reason: string) => {
        if (exit) return;
        exit = { reason };
        resolveExit(exit);
      };
      let latest: Pod = stored;
      let changed: () => void = () => {};
      void (async () => {
        let rv = first.metadata.resourceVersion;
        while (!watch.signal.aborted && !exit) {
          try {
            for await (
              const event of pods.watch(namespace, name, {
                resourceVersion: rv,
                signal: watch.signal,
              })
            ) {
              rv = event.object.metadata.resourceVersion ?? rv;
              if (event.type === "DELETED") end("the Pod was deleted");
              else {
                latest = event.object;
                const ended = podEnded(latest);
                if (ended) end(ended);
              }
              changed();
              if (exit) return;
            }
          } catch (error) {
            if (watch.signal.aborted) return;
            // A watch too old to resume (410 Gone), or a dropped connection: read the Pod afresh.
            try {
              latest = await pods.get(namespace, name, { signal: watch.signal });
              rv = latest.metadata.resourceVersion;
              const ended = podEnded(latest);
              if (ended) end(ended);
            } catch (e) {
              if (e instanceof KubernetesNotFoundError) end("the Pod was deleted");
              else if (!watch.signal.aborted) await delay(500);
            }
            if (!(error instanceof KubernetesError)) await delay(100);
            changed();
          }
        }
      })();
      // Waits for the container to run (port-forward) or the readiness probe to pass.
      // A forward can try as soon as the Pod is on a node: waiting for the kubelet to
      // report the container running adds up to its 1 s relist period (bench/RESULTS.md).
      const ready = reach === "port-forward" ? podScheduled : podReady;
      const aborted = new Promise<never>((_, reject) => {
        if (waitSignal.aborted) reject(waitSignal.reason);
        waitSignal.addEventListener("abort", () => reject(waitSignal.reason), { once: true });
      });
      aborted.catch(() => {});
      while (!exit && !ready(latest)) {
        await Promise.race([new Promise<void>((resolve) => (changed = resolve)), aborted]);
      }
      if (exit) throw new Error((exit as PodExit).reason);
      const reachableMs = performance.now() - t0;
      let baseUrl: string;
      if (reach === "port-forward") {
        forward = PortForward.open(kube, { namespace, pod: name, port: POD_PORT });
        const f = forward;
        exited.then((e) => f.markGone(e.reason));
        baseUrl = forward.baseUrl;
      } else if (reach === "host-network") {
        baseUrl = `http://127.0.0.1:${port}`;
      } else if (reach === "pod-ip") {
        const ip = latest.status?.podIP;
        if (!ip) throw new KubernetesError(`Pod ${namespace}/${name} is ready but has no IP`);
        baseUrl = `http://${ip.includes(":") ? `[${ip}]` : ip}:${POD_PORT}`;
      } else {
        await new ServiceApi(kube).create(namespace, {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name,
            namespace,
            labels: { [LABELS.managed]: "true", [LABELS.session]: labelValue(session) },
          },
          spec: {
            type: "ClusterIP",
            selector: { [LABELS.session]: labelValue(session), [LABELS.managed]: "true" },
            ports: [{ name: "http", port: POD_PORT, targetPort: POD_PORT, protocol: "TCP" }],
          },
        }, { signal });
        service = true;
        baseUrl = `http://${name}.${namespace}.svc:${POD_PORT}`;
      }
      await waitForHealth(baseUrl, {
        timeoutS: Math.max(0.5, startupTimeoutS - (performance.now() - t0) / 1000),
        signal: AbortSignal.any([deadline, ...(signal ? [signal] : [])]),
        exited: exited.then(() => ({ code: -1 })),
        // Each attempt through a forward is a new WebSocket through the API server and
        // the kubelet: 100 ms apart, 16 starts at once cost less than at 20 ms (bench/RESULTS.md).
        intervalS: reach === "port-forward" ? 0.1 : 0.02,
      }).catch((error) => {
        if (exit) throw new Error((exit as PodExit).reason);
        throw error;
      });
      const timings = {
        created: createdMs,
        reachable: reachableMs,
        healthy: performance.now() - t0,
      };
      const pod = new KubernetesPod({
        timings,
        kube,
        baseUrl,
        token,
        spec,
        stored,
        image,
        session,
        reach,
        imageHardening,
        forward,
        exited,
        watch,
        stopTimeoutS,
        service,
        onClose: () => this.#started.delete(pod),
      });
      this.#started.add(pod);
      return pod;
    } catch (error) {
      if (signal?.aborted) {
        await cleanup();
        throw signal.reason ?? error;
      }
      let message = (error as Error).message;
      if (deadline.aborted && !(error instanceof PodHardeningError)) {
        message = `the Pod was not ready after ${startupTimeoutS} s`;
      }
      const logs = created
        ? await pods.logs(namespace, name, { tailLines: 30 }).catch(() => "")
        : "";
      await cleanup();
      if (error instanceof KubernetesError && !(error instanceof PodStartError) && !created) {
        throw error;
      }
      if (error instanceof PodHardeningError) throw error;
      throw new PodStartError(
        `Cannot start Pod ${namespace}/${name} (${image}): ${message}${
          logs.trim() ? `\n--- last log lines ---\n${logs.trimEnd()}` : " (it wrote no logs)"
        }`,
        logs,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      await this.#reaped;
    }
  }

  /** Stops the reaper timer, deletes the Pods this provider started and still runs, and closes the clients it made. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#started].map((p) => p.close()));
    await this.#reaped;
    if (this.#ownsClient && this.#client) {
      await (await this.#client.catch(() => undefined))?.close();
    }
    await this.#docker?.close();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
