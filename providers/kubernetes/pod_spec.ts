/**
 * The hardened Pod of an env (the container hardening of the Docker
 * provider, in Pod terms), the NetworkPolicy that denies its egress, and
 * the check that the API server stored what was asked: admission webhooks
 * may mutate a Pod and an older server drops fields it does not know, so a
 * silently dropped field would silently disable a limit.
 *
 * What Docker limits and a Pod spec cannot: the pids limit and the open
 * files limit are node settings (the kubelet's `podPidsLimit`, the
 * runtime's ulimits), and an `emptyDir` cannot be mounted `noexec`.
 *
 * @module
 */
import { type AllowedCapability, hardeningFromLabels } from "../docker/hardening.ts";
import type { PodMismatch } from "./errors.ts";
import { bytesQuantity, cpuQuantity, dockerSizeBytes, parseQuantity } from "./quantity.ts";
import type { Container, NetworkPolicy, Pod, Volume } from "./types.ts";
import { LABELS, POD_LABELS } from "./labels.ts";

export { hardeningFromLabels };

/** The port an env image serves on inside its Pod. */
export const POD_PORT = 8000;
/** The name of the env container in its Pod. */
export const CONTAINER_NAME = "env";
/** The NetworkPolicy that denies egress to Pods labelled `envtorch.egress=deny`. */
export const DENY_EGRESS_POLICY = "envtorch-deny-egress";

/**
 * How the provider reaches the server:
 * - `port-forward`: the server binds 127.0.0.1 inside the Pod (nothing on the
 *   cluster network can reach it) and the provider forwards a local
 *   127.0.0.1 port to it through the API server;
 * - `host-network`: the Pod shares the node's network and the server binds
 *   127.0.0.1 on a port of the node (single-node clusters where the
 *   provider runs on the node, like the test lab);
 * - `pod-ip`: the server binds 0.0.0.0 and is reached at the Pod's IP (a
 *   trainer running in the same cluster);
 * - `service`: as `pod-ip`, through a ClusterIP Service named after the Pod.
 */
export type PodReach = "port-forward" | "host-network" | "pod-ip" | "service";

/** Limits and isolation of an env Pod; each field raises one default explicitly. */
export interface PodHardeningOptions {
  /**
   * Memory limit in bytes (the container's cgroup limit; tmpfs pages count).
   * @default 1073741824 (1 GiB)
   */
  memoryBytes?: number;
  /**
   * CPUs the container may use (its limit).
   * @default 1
   */
  cpus?: number;
  /**
   * Memory the scheduler reserves (the request), in bytes; at most the limit.
   * @default 134217728 (128 MiB)
   */
  memoryRequestBytes?: number;
  /**
   * CPUs the scheduler reserves (the request); at most the limit.
   * @default 0.1
   */
  cpuRequest?: number;
  /**
   * Size of the `/tmp` emptyDir (medium Memory), Docker style: `64m`, `1g`.
   * @default "64m"
   */
  tmpSize?: string;
  /** Capabilities added back after dropping all (only SETUID, SETGID and KILL). */
  capAdd?: AllowedCapability[];
  /**
   * Whether the Pod may open connections out; without it the Pod carries
   * `envtorch.egress=deny` and the namespace's deny-egress NetworkPolicy
   * selects it (enforced where the cluster's network plugin enforces policies).
   * @default false
   */
  egress?: boolean;
  /**
   * The uid to run as; with a uid other than 0 the Pod also sets `runAsNonRoot`.
   * @default the image's numeric USER, when known
   */
  runAsUser?: number;
  /**
   * The gid to run as.
   * @default the image's numeric group, when known
   */
  runAsGroup?: number;
  /**
   * Seconds after which the kubelet ends the Pod whatever happens (`activeDeadlineSeconds`).
   * @default 86400
   */
  ttlS?: number;
}

/** What {@link hardenedPod} builds a Pod from. */
export interface PodInit {
  /** Pod name. */
  name: string;
  /** Namespace. */
  namespace: string;
  /** Image reference. */
  image: string;
  /**
   * When the kubelet pulls the image.
   * @default "IfNotPresent"
   */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Labels (the provider adds envtorch's). */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Overrides the image's entrypoint. */
  command?: string[];
  /** Overrides the image's command. */
  args?: string[];
  /** How the server is reached. */
  reach?: PodReach;
  /** The port the server listens on (a node port with `host-network`). */
  port?: number;
  /**
   * Seconds between SIGTERM and SIGKILL when the kubelet stops the Pod
   * (its deadline passed, or a graceful delete).
   * @default 2
   */
  stopTimeoutS?: number;
  /** Limits and isolation. */
  hardening?: PodHardeningOptions;
}

const ALLOWED_CAPS = new Set<string>(["SETUID", "SETGID", "KILL"]);

/** The uid and gid of an image's `USER` (`10001:10001`, `0`, `root`), when numeric. */
export function userOfImage(user: string | undefined): { uid?: number; gid?: number } {
  const value = (user ?? "").trim();
  if (value === "" || value === "root") return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) return {};
  return { uid: Number(m[1]), gid: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * Builds the hardened Pod: no service account token, no host namespaces or
 * paths, seccomp RuntimeDefault, every capability dropped but the allowed
 * ones asked for, no privilege escalation, a read-only root with a sized
 * in-memory `/tmp`, memory and CPU limits, `restartPolicy: Never`, and
 * `activeDeadlineSeconds` as a backstop. Throws a TypeError for a limit out
 * of range or a capability that may not be added.
 *
 * @example
 * ```ts
 * import { hardenedPod } from "./pod_spec.ts";
 * const pod = hardenedPod({ name: "envtorch-echo-1", namespace: "default", image: "echo-env:latest" });
 * console.log(pod.spec.containers[0]!.securityContext?.readOnlyRootFilesystem); // true
 * ```
 */
export function hardenedPod(init: PodInit): Pod {
  const h = init.hardening ?? {};
  const reach = init.reach ?? "port-forward";
  const memory = h.memoryBytes ?? 1024 ** 3;
  const cpus = h.cpus ?? 1;
  const memoryRequest = Math.min(h.memoryRequestBytes ?? 128 * 1024 ** 2, memory);
  const cpuRequest = Math.min(h.cpuRequest ?? 0.1, cpus);
  const ttlS = h.ttlS ?? 86_400;
  const port = init.port ?? POD_PORT;
  for (const cap of h.capAdd ?? []) {
    if (!ALLOWED_CAPS.has(cap)) {
      throw new TypeError(`Capability ${cap} cannot be added: only SETUID, SETGID and KILL may be`);
    }
  }
  if (!(memory >= 6 * 1024 * 1024)) throw new TypeError("memoryBytes must be at least 6 MiB");
  if (!(cpus >= 0.001)) throw new TypeError("cpus must be at least 0.001");
  if (!Number.isInteger(ttlS) || ttlS < 1) throw new TypeError("ttlS must be a positive integer");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`port must be 1-65535, got ${port}`);
  }
  const tmpBytes = dockerSizeBytes(h.tmpSize ?? "64m");
  const uid = h.runAsUser;
  const gid = h.runAsGroup;
  const nonRoot = uid !== undefined && uid !== 0;
  const identity = {
    ...(uid !== undefined ? { runAsUser: uid } : {}),
    ...(gid !== undefined ? { runAsGroup: gid } : {}),
    ...(nonRoot ? { runAsNonRoot: true } : {}),
  };
  const caps = [...new Set(h.capAdd ?? [])].sort();
  const env: Record<string, string> = {
    ...init.env,
    PORT: String(port),
    // Forwarded and host-network servers listen on loopback only.
    ENVTORCH_HOST: reach === "port-forward" || reach === "host-network" ? "127.0.0.1" : "0.0.0.0",
  };
  const container: Container = {
    name: CONTAINER_NAME,
    image: init.image,
    imagePullPolicy: init.imagePullPolicy ?? "IfNotPresent",
    ...(init.command ? { command: init.command } : {}),
    ...(init.args ? { args: init.args } : {}),
    env: Object.entries(env).map(([name, value]) => ({ name, value })),
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    resources: {
      requests: { cpu: cpuQuantity(cpuRequest), memory: bytesQuantity(memoryRequest) },
      limits: { cpu: cpuQuantity(cpus), memory: bytesQuantity(memory) },
    },
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    securityContext: {
      ...identity,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], ...(caps.length ? { add: caps } : {}) },
      seccompProfile: { type: "RuntimeDefault" },
    },
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  // The kubelet probes from the node: it reaches the Pod's IP, or, on the
  // host network, the node's loopback. A forwarded server is probed by the
  // provider itself, through the forward.
  if (reach !== "port-forward") {
    container.readinessProbe = {
      httpGet: {
        path: "/health",
        port,
        ...(reach === "host-network" ? { host: "127.0.0.1" } : {}),
      },
      periodSeconds: 1,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    };
  }
  const volumes: Volume[] = [
    { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: bytesQuantity(tmpBytes) } },
  ];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: init.name,
      namespace: init.namespace,
      labels: {
        ...init.labels,
        [LABELS.managed]: "true",
        ...(h.egress ? {} : { [POD_LABELS.egress]: "deny" }),
      },
      ...(init.annotations ? { annotations: init.annotations } : {}),
    },
    spec: {
      containers: [container],
      volumes,
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(reach === "host-network"
        ? { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }
        : {}),
      securityContext: { ...identity, seccompProfile: { type: "RuntimeDefault" } },
      activeDeadlineSeconds: ttlS,
      terminationGracePeriodSeconds: init.stopTimeoutS ?? 2,
    },
  };
}

/** The NetworkPolicy that denies all egress to Pods labelled `envtorch.egress=deny`. */
export function denyEgressPolicy(namespace: string): NetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: DENY_EGRESS_POLICY,
      namespace,
      labels: { [LABELS.managed]: "true" },
    },
    spec: {
      podSelector: { matchLabels: { [LABELS.managed]: "true", [POD_LABELS.egress]: "deny" } },
      policyTypes: ["Egress"],
      egress: [],
    },
  };
}

function sortedCaps(values: string[] | undefined): string[] {
  return [...(values ?? [])].map((v) => v.toUpperCase().replace(/^CAP_/, "")).sort();
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Compares the Pod the API server stored with the one asked for, field by
 * field, and checks what must never be there (privileged mode, host
 * namespaces or paths, host ports, a service account token, unconfined
 * seccomp, extra containers or volumes). Returns every mismatch; empty
 * means the Pod is as asked.
 */
export function checkPod(expected: Pod, actual: Pod): PodMismatch[] {
  const out: PodMismatch[] = [];
  const check = (field: string, want: unknown, got: unknown) => {
    if (!same(want, got)) out.push({ field, expected: want, actual: got });
  };
  const es = expected.spec;
  const as = actual.spec ?? ({} as Pod["spec"]);
  check("spec.hostNetwork", es.hostNetwork ?? false, as.hostNetwork ?? false);
  check("spec.hostPID", false, as.hostPID ?? false);
  check("spec.hostIPC", false, as.hostIPC ?? false);
  check("spec.shareProcessNamespace", false, as.shareProcessNamespace ?? false);
  check("spec.automountServiceAccountToken", false, as.automountServiceAccountToken);
  check("spec.activeDeadlineSeconds", es.activeDeadlineSeconds, as.activeDeadlineSeconds);
  check("spec.restartPolicy", es.restartPolicy, as.restartPolicy);
  const psc = as.securityContext ?? {};
  const epsc = es.securityContext ?? {};
  check("spec.securityContext.seccompProfile.type", "RuntimeDefault", psc.seccompProfile?.type);
  check("spec.securityContext.runAsNonRoot", epsc.runAsNonRoot, psc.runAsNonRoot);
  check("spec.securityContext.runAsUser", epsc.runAsUser, psc.runAsUser);
  check("spec.securityContext.runAsGroup", epsc.runAsGroup, psc.runAsGroup);
  if (psc.sysctls?.length) {
    out.push({ field: "spec.securityContext.sysctls", expected: [], actual: psc.sysctls });
  }
  check("spec.initContainers", [], (as.initContainers ?? []).map((c) => c.name));
  check(
    "spec.containers",
    es.containers.map((c) => c.name),
    (as.containers ?? []).map((c) => c.name),
  );
  const ephemeral = (as as unknown as { ephemeralContainers?: unknown[] }).ephemeralContainers;
  if (ephemeral?.length) {
    out.push({ field: "spec.ephemeralContainers", expected: [], actual: ephemeral });
  }
  const ec = es.containers[0]!;
  const ac = as.containers?.find((c) => c.name === ec.name);
  if (ac) {
    const p = `spec.containers[${ec.name}]`;
    check(`${p}.image`, ec.image, ac.image);
    const sc = ac.securityContext ?? {};
    const esc = ec.securityContext ?? {};
    check(`${p}.securityContext.privileged`, false, sc.privileged ?? false);
    check(`${p}.securityContext.allowPrivilegeEscalation`, false, sc.allowPrivilegeEscalation);
    check(`${p}.securityContext.readOnlyRootFilesystem`, true, sc.readOnlyRootFilesystem);
    check(`${p}.securityContext.capabilities.drop`, ["ALL"], sortedCaps(sc.capabilities?.drop));
    check(
      `${p}.securityContext.capabilities.add`,
      sortedCaps(esc.capabilities?.add),
      sortedCaps(sc.capabilities?.add),
    );
    check(`${p}.securityContext.seccompProfile.type`, "RuntimeDefault", sc.seccompProfile?.type);
    check(`${p}.securityContext.runAsNonRoot`, esc.runAsNonRoot, sc.runAsNonRoot);
    check(`${p}.securityContext.runAsUser`, esc.runAsUser, sc.runAsUser);
    check(`${p}.securityContext.runAsGroup`, esc.runAsGroup, sc.runAsGroup);
    if (sc.procMount && sc.procMount !== "Default") {
      out.push({
        field: `${p}.securityContext.procMount`,
        expected: "Default",
        actual: sc.procMount,
      });
    }
    for (const kind of ["limits", "requests"] as const) {
      for (const resource of ["cpu", "memory"]) {
        const want = parseQuantity(ec.resources?.[kind]?.[resource]);
        const got = parseQuantity(ac.resources?.[kind]?.[resource]);
        if (!(Math.abs(want - got) < 1e-9)) {
          out.push({
            field: `${p}.resources.${kind}.${resource}`,
            expected: ec.resources?.[kind]?.[resource],
            actual: ac.resources?.[kind]?.[resource],
          });
        }
      }
    }
    const mounts = (c: Container) =>
      (c.volumeMounts ?? []).map((m) => `${m.name}:${m.mountPath}${m.readOnly ? ":ro" : ""}`)
        .sort();
    check(`${p}.volumeMounts`, mounts(ec), mounts(ac));
    for (const port of ac.ports ?? []) {
      // On the host network the server defaults hostPort to the containerPort: the same port.
      const hostNet = es.hostNetwork === true && port.hostPort === port.containerPort;
      if (port.hostPort && !hostNet) {
        out.push({ field: `${p}.ports.hostPort`, expected: undefined, actual: port.hostPort });
      }
    }
  }
  const volumes = (vs: Volume[] | undefined) =>
    (vs ?? []).map((v) => {
      const kinds = Object.keys(v).filter((k) => k !== "name").sort();
      const size = v.emptyDir?.sizeLimit === undefined ? "" : parseQuantity(v.emptyDir.sizeLimit);
      return `${v.name}:${kinds.join("+")}:${v.emptyDir?.medium ?? ""}:${size}`;
    }).sort();
  check("spec.volumes", volumes(es.volumes), volumes(as.volumes));
  for (const v of as.volumes ?? []) {
    if (v.hostPath) {
      out.push({
        field: `spec.volumes[${v.name}].hostPath`,
        expected: undefined,
        actual: v.hostPath,
      });
    }
  }
  return out;
}

/** The hardening an image asks for through its labels, in Pod terms (see IMAGE_HARDENING_LABELS). */
export function podHardeningFromLabels(labels: Record<string, string> = {}): PodHardeningOptions {
  const asked = hardeningFromLabels(labels);
  const out: PodHardeningOptions = {};
  if (asked.capAdd) out.capAdd = asked.capAdd;
  if (asked.memoryBytes !== undefined) out.memoryBytes = asked.memoryBytes;
  if (asked.tmpSize !== undefined) out.tmpSize = asked.tmpSize;
  return out;
}
