/**
 * The Kubernetes side of the CLI: `envtorch run|ps|clean --provider k8s`
 * and `envtorch k8s manifest <env|image>`, which prints the hardened Pod
 * and its NetworkPolicy as YAML for those who deploy with their own tools.
 *
 * @module
 */
import { stringify } from "npm:yaml@2.9.1";
import { listEnvs } from "../envs/registry.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { KubernetesClient } from "../providers/kubernetes/client.ts";
import { POD_LABELS } from "../providers/kubernetes/labels.ts";
import {
  deleteManagedPod,
  listManagedPods,
  type ReapedPod,
  reapPods,
} from "../providers/kubernetes/managed_pods.ts";
import {
  denyEgressPolicy,
  hardenedPod,
  podHardeningFromLabels,
  type PodReach,
  userOfImage,
} from "../providers/kubernetes/pod_spec.ts";
import { KubernetesProvider } from "../providers/kubernetes/kubernetes_provider.ts";
import {
  type Command,
  intFlag,
  noPositionals,
  numberFlag,
  onePositional,
  parseFlags,
  UsageError,
} from "./common.ts";
import { parseSize } from "./run.ts";

/** Whether `args` ask for the Kubernetes provider (`--provider k8s` or `kubernetes`). */
export function wantsKubernetes(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = a === "--provider"
      ? args[i + 1]
      : a.startsWith("--provider=")
      ? a.slice(11)
      : undefined;
    if (value === "k8s" || value === "kubernetes") return true;
  }
  return false;
}

/** Checks a `--provider` value of the Docker path. */
export function checkProvider(value: string | undefined): void {
  if (value !== undefined && value !== "docker" && value !== "k8s" && value !== "kubernetes") {
    throw new UsageError(`--provider must be docker or k8s, got ${JSON.stringify(value)}`);
  }
}

const REACH = ["port-forward", "host-network", "pod-ip", "service"];
const PULL = { never: "Never", "if-not-present": "IfNotPresent", always: "Always" } as const;

function reachFlag(value: string | undefined): PodReach | undefined {
  if (value === undefined) return undefined;
  if (!REACH.includes(value)) throw new UsageError(`--reach must be one of ${REACH.join(", ")}`);
  return value as PodReach;
}

function pullFlag(value: string | undefined): "Never" | "IfNotPresent" | "Always" | undefined {
  if (value === undefined) return undefined;
  const v = PULL[value as keyof typeof PULL];
  if (!v) throw new UsageError(`--pull must be never, if-not-present or always`);
  return v;
}

async function resolveImage(target: string) {
  const envs = await listEnvs();
  const manifest = envs.find((m) => m.name === target);
  return { manifest, image: manifest?.image ?? target };
}

const runUsage = `Usage: envtorch run <env|image> --provider k8s [options]

Starts an env's image as a hardened Pod on the kubeconfig's cluster, prints
the URL where it answers (a port on 127.0.0.1 forwarded to the Pod through
the API server), and deletes the Pod on Ctrl-C or SIGTERM. The image must be
one the cluster's nodes can pull or already have.

Options:
  --namespace N      namespace of the Pod (default: the context's)
  --context C        kubeconfig context (default: the current one)
  --reach MODE       port-forward (default), host-network, pod-ip or service
  --pull POLICY      never, if-not-present (default) or always
  --memory SIZE      memory limit, e.g. 512m or 2g (default 1g or the image's label)
  --cpus N           CPU limit (default 1)
  --env NAME=VALUE   environment variable for the server (repeatable)
  --timeout S        seconds to wait for the Pod and /health (default 60)
  --json             print {"url","name","namespace","image"} as one JSON line
  -h, --help         show this help`;

/** `envtorch run <env|image> --provider k8s`. */
export async function runOnKubernetes(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(runUsage);
    return 0;
  }
  const { values, positionals } = parseFlags(args, {
    provider: { type: "string" },
    namespace: { type: "string" },
    context: { type: "string" },
    reach: { type: "string" },
    pull: { type: "string" },
    memory: { type: "string" },
    cpus: { type: "string" },
    env: { type: "string", multiple: true },
    timeout: { type: "string" },
    json: { type: "boolean" },
  });
  onePositional(positionals, "env or image", "run");
  const env: Record<string, string> = {};
  for (const entry of values.env ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env must be NAME=VALUE, got ${JSON.stringify(entry)}`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const reach = reachFlag(values.reach);
  const imagePullPolicy = pullFlag(values.pull);
  const memoryBytes = parseSize("memory", values.memory);
  const cpus = numberFlag("cpus", values.cpus, 0.001);
  const startupTimeoutS = numberFlag("timeout", values.timeout, 1) ?? 60;
  const { manifest, image } = await resolveImage(positionals[0]!);
  await using provider = new KubernetesProvider({
    context: values.context,
    namespace: values.namespace,
    reapIntervalS: 60,
  });
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("Interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const pod = await provider.start(image, {
      reach,
      imagePullPolicy,
      memoryBytes,
      cpus,
      env,
      startupTimeoutS,
      signal: stop.signal,
      labels: manifest ? { [POD_LABELS.env]: manifest.name } : undefined,
    }).catch((error) => {
      if (stop.signal.aborted) return undefined;
      throw error;
    });
    if (!pod) {
      console.error("envtorch run: interrupted; nothing left running");
      return 130;
    }
    try {
      if (values.json) {
        console.log(JSON.stringify({
          url: pod.baseUrl,
          name: pod.name,
          namespace: pod.namespace,
          image,
          reach: pod.reach,
          image_hardening: pod.imageHardening,
        }));
      } else {
        console.log(pod.baseUrl);
        console.error(
          `envtorch: ${image} runs as Pod ${pod.namespace}/${pod.name} (${pod.reach}); Ctrl-C deletes it`,
        );
      }
      const stopped = new Promise<undefined>((resolve) =>
        stop.signal.addEventListener("abort", () => resolve(undefined), { once: true })
      );
      const exit = await Promise.race([pod.exited, stopped]);
      if (exit && !stop.signal.aborted) {
        const logs = await pod.logs({ tailLines: 30 }).catch(() => "");
        console.error(
          `envtorch run: Pod ${pod.name} stopped: ${exit.reason}${
            logs.trim() ? `\n--- last log lines ---\n${logs.trimEnd()}` : ""
          }`,
        );
        return 1;
      }
      console.error(`envtorch: deleting Pod ${pod.name}`);
      return 0;
    } finally {
      await pod.close();
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** `envtorch ps --provider k8s`. */
export async function psOnKubernetes(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    provider: { type: "string" },
    namespace: { type: "string" },
    context: { type: "string" },
    json: { type: "boolean" },
  });
  noPositionals(positionals);
  await using kube = await KubernetesClient.fromKubeConfig({ context: values.context });
  const pods = await listManagedPods(kube, { namespace: values.namespace });
  if (values.json) {
    console.log(JSON.stringify(pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      image: p.image,
      phase: p.phase,
      session: p.session ?? null,
      owner_pid: p.ownerPid ?? null,
      owner: p.owner,
      created: p.created.toISOString(),
      expires: p.expires?.toISOString() ?? null,
    }))));
    return 0;
  }
  if (!pods.length) {
    console.log(`No envtorch Pods in namespace ${values.namespace ?? kube.namespace}`);
    return 0;
  }
  const rows = [
    ["NAME", "NAMESPACE", "IMAGE", "PHASE", "OWNER", "EXPIRES"],
    ...pods.map((p) => [
      p.name,
      p.namespace,
      p.image,
      p.phase,
      `${p.ownerPid ?? "?"} (${p.owner})`,
      p.expires?.toISOString().replace(/\.\d+Z$/, "Z") ?? "-",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) {
    console.log(row.map((c, i) => i === row.length - 1 ? c : c.padEnd(widths[i]!)).join("  "));
  }
  return 0;
}

/** `envtorch clean --provider k8s`. */
export async function cleanOnKubernetes(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    provider: { type: "string" },
    namespace: { type: "string" },
    context: { type: "string" },
    all: { type: "boolean" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  });
  noPositionals(positionals);
  const dryRun = values["dry-run"] ?? false;
  await using kube = await KubernetesClient.fromKubeConfig({ context: values.context });
  const namespace = values.namespace ?? kube.namespace;
  let removed: (ReapedPod | (Omit<ReapedPod, "reason"> & { reason: "all" }))[];
  if (values.all) {
    removed = [];
    for (const p of await listManagedPods(kube, { namespace })) {
      const entry: Omit<ReapedPod, "reason"> & { reason: "all" } = { ...p, reason: "all" };
      if (!dryRun) {
        await deleteManagedPod(kube, p).catch((e) => (entry.error = (e as Error).message));
      }
      removed.push(entry);
    }
  } else {
    removed = await reapPods(kube, { namespace, dryRun });
  }
  if (values.json) {
    console.log(JSON.stringify(removed.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      image: p.image,
      reason: p.reason,
      removed: !dryRun && !p.error,
      error: p.error ?? null,
    }))));
  } else if (!removed.length) {
    console.log(`Nothing to clean in namespace ${namespace}`);
  } else {
    const verb = dryRun ? "would delete" : "deleted";
    for (const p of removed) {
      console.log(
        p.error
          ? `failed to delete ${p.name}: ${p.error}`
          : `${verb} Pod ${p.namespace}/${p.name} (${p.image}): ${
            p.reason === "owner-gone"
              ? `owner ${p.ownerPid} is gone`
              : p.reason === "expired"
              ? "expired"
              : "--all"
          }`,
      );
    }
  }
  return removed.some((p) => p.error) ? 1 : 0;
}

const k8sUsage = `Usage: envtorch k8s manifest <env|image> [options]

Prints the hardened Pod that 'envtorch run --provider k8s' would create,
and the NetworkPolicy that denies its egress, as YAML, for deploying with
your own tools (kubectl apply -f -). The image's envtorch labels (capabilities,
memory, /tmp size) and its user are read from the local Docker engine when
it has the image.

Options:
  --namespace N      namespace (default: default)
  --name NAME        Pod name (default: envtorch-<env>)
  --reach MODE       port-forward (default), host-network, pod-ip or service
  --port N           with host-network: the node port (default 8000)
  --pull POLICY      never, if-not-present (default) or always
  --memory SIZE      memory limit (default 1g or the image's label)
  --cpus N           CPU limit (default 1)
  --ttl S            activeDeadlineSeconds (default 86400)
  -h, --help         show this help`;

/** `envtorch k8s manifest <env|image>`. */
export const k8sCommand: Command = {
  name: "k8s",
  summary: "print the hardened Kubernetes manifest of an env (k8s manifest <env>)",
  usage: k8sUsage,
  async run(args) {
    const [verb, ...rest] = args;
    if (verb === "-h" || verb === "--help") {
      console.log(k8sUsage);
      return 0;
    }
    if (verb !== "manifest") {
      throw new UsageError(
        verb === undefined
          ? "Missing subcommand: manifest"
          : `Unknown subcommand ${JSON.stringify(verb)}`,
      );
    }
    const { values, positionals } = parseFlags(rest, {
      namespace: { type: "string" },
      name: { type: "string" },
      reach: { type: "string" },
      port: { type: "string" },
      pull: { type: "string" },
      memory: { type: "string" },
      cpus: { type: "string" },
      ttl: { type: "string" },
    });
    onePositional(positionals, "env or image", "k8s manifest");
    const { manifest, image } = await resolveImage(positionals[0]!);
    let config: { labels: Record<string, string>; user?: string } = { labels: {} };
    try {
      await using docker = new DockerEngine({ timeoutS: 5 });
      const inspected = await docker.images.inspect(image);
      config = { labels: inspected.Config?.Labels ?? {}, user: inspected.Config?.User ?? "" };
    } catch { /* not a local image: the defaults */ }
    const user = userOfImage(config.user);
    const namespace = values.namespace ?? "default";
    const reach = reachFlag(values.reach) ?? "port-forward";
    const pod = hardenedPod({
      name: values.name ?? `envtorch-${(manifest?.name ?? "env").replace(/[^a-z0-9-]/g, "-")}`,
      namespace,
      image,
      imagePullPolicy: pullFlag(values.pull),
      reach,
      port: intFlag("port", values.port, 1, 65535),
      labels: manifest ? { [POD_LABELS.env]: manifest.name } : undefined,
      hardening: {
        ...podHardeningFromLabels(config.labels),
        ...(config.user !== undefined && user.uid !== undefined
          ? { runAsUser: user.uid, runAsGroup: user.gid }
          : {}),
        ...(values.memory ? { memoryBytes: parseSize("memory", values.memory) } : {}),
        ...(values.cpus ? { cpus: numberFlag("cpus", values.cpus, 0.001) } : {}),
        ...(values.ttl ? { ttlS: intFlag("ttl", values.ttl, 1, 2 ** 31 - 1) } : {}),
      },
    });
    console.log(stringify(denyEgressPolicy(namespace)) + "---\n" + stringify(pod).trimEnd());
    return 0;
  },
};
