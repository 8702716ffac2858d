/**
 * Kubernetes cold start: from Pod create to the first successful `reset`
 * of the echo env through `KubernetesProvider.start` (create, read-back
 * check, watch until the Pod is on a node, port forward, `/health`), then a WebSocket
 * connect and `reset`; beside the floor measured in the same run: a bare
 * Pod of the same image, with the same hardening, running `true`, from
 * create until the API server reports it Succeeded. Sequential runs
 * alternate env and floor; then 16 of each start with bounded concurrency.
 *
 * Needs: a cluster in KUBECONFIG whose node has echo-env:latest (the test
 * lab: k8s-lab up && k8s-lab load-image echo-env:latest).
 *
 * Run: deno run -A bench/k8s_cold_start.ts [--runs 10] [--pods 16] [--concurrency 4] [--namespace envtorch-bench]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { EchoEnv } from "../envs/echo/client.ts";
import { KubernetesClient } from "../providers/kubernetes/client.ts";
import { KubernetesConflictError } from "../providers/kubernetes/errors.ts";
import { KubernetesProvider } from "../providers/kubernetes/kubernetes_provider.ts";
import { hardenedPod } from "../providers/kubernetes/pod_spec.ts";
import { PodApi } from "../providers/kubernetes/pods.ts";

const IMAGE = "echo-env:latest";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "10" },
    pods: { type: "string", default: "16" },
    concurrency: { type: "string", default: "4" },
    namespace: { type: "string", default: "envtorch-bench" },
  },
  strict: true,
});
const runs = Number(values.runs);
const podCount = Number(values.pods);
const concurrency = Number(values.concurrency);
const namespace = values.namespace;
if (![runs, podCount, concurrency].every((n) => Number.isInteger(n) && n >= 1)) {
  console.error(
    "Usage: bench/k8s_cold_start.ts [--runs N] [--pods N] [--concurrency N] [--namespace NS]",
  );
  Deno.exit(2);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

await using kube = await KubernetesClient.fromKubeConfig();
try {
  await kube.request("POST", "/api/v1/namespaces", {
    json: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
  });
} catch (error) {
  if (!(error instanceof KubernetesConflictError)) throw error;
}
const pods = new PodApi(kube);
await using provider = new KubernetesProvider({ client: kube, namespace, reapOnStart: false });
const benchLabel = { "envtorch.bench": `${Deno.pid}` };
let floorIndex = 0;

/** A bare Pod of the image running `true`, same hardening: create until Succeeded (the floor). */
async function floorRun(): Promise<number> {
  const name = `envtorch-floor-${Deno.pid}-${floorIndex++}`;
  const spec = hardenedPod({
    name,
    namespace,
    image: IMAGE,
    command: ["true"],
    labels: benchLabel,
    hardening: { runAsUser: 10001, runAsGroup: 10001 },
  });
  const started = performance.now();
  const created = await pods.create(namespace, spec);
  try {
    const watch = new AbortController();
    for await (
      const event of pods.watch(namespace, name, {
        resourceVersion: created.metadata.resourceVersion,
        signal: watch.signal,
      })
    ) {
      const phase = event.object.status?.phase;
      if (phase === "Succeeded") {
        watch.abort();
        return performance.now() - started;
      }
      if (phase === "Failed") throw new Error(`floor Pod ${name} failed`);
    }
    throw new Error(`the watch of ${name} ended`);
  } finally {
    await pods.delete(namespace, name, { gracePeriodSeconds: 0 });
  }
}

/** Provider start + connect + first reset. */
async function envRun(): Promise<{ total: number; healthy: number; placed: number }> {
  const started = performance.now();
  const server = await provider.start(IMAGE, { labels: benchLabel, startupTimeoutS: 120 });
  try {
    const healthy = performance.now() - started;
    await using env = new EchoEnv({ baseUrl: server.baseUrl });
    const reset = await env.reset();
    const total = performance.now() - started;
    if (reset.observation.echoed_message !== "Echo environment ready!") {
      throw new Error("unexpected reset");
    }
    return { total, healthy, placed: server.timings.reachable };
  } finally {
    await server.close();
  }
}

/** Runs `n` tasks with at most `limit` at once; resolves each task's result in order. */
async function bounded<T>(n: number, limit: number, task: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await task();
    }
  }));
  return out;
}

// One unmeasured round of each warms the node's caches.
await floorRun();
await envRun();

const floor: number[] = [];
const total: number[] = [];
const healthy: number[] = [];
for (let i = 0; i < runs; i++) {
  floor.push(await floorRun());
  const r = await envRun();
  total.push(r.total);
  healthy.push(r.healthy);
}

let wall = performance.now();
const floorMany = await bounded(podCount, concurrency, floorRun);
const floorWall = performance.now() - wall;
wall = performance.now();
const envResults = await bounded(podCount, concurrency, envRun);
const envMany = envResults.map((r) => r.total);
const envPlaced = envResults.map((r) => r.placed);
const envWall = performance.now() - wall;

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const version = await kube.request<{ gitVersion: string }>("GET", "/version");
console.log(
  `Kubernetes cold start, ${IMAGE}, server ${version.gitVersion}, ${Deno.build.os}/${Deno.build.arch}`,
);
console.log(`sequential, ${runs} runs each:`);
const rows: [string, number[]][] = [
  ["floor: bare Pod running `true`", floor],
  ["create to /health (port-forward)", healthy],
  ["create to first reset", total],
];
for (const [name, v] of rows) {
  console.log(`  ${name.padEnd(36)} p50 ${fmt(percentile(v, 50))}  p95 ${fmt(percentile(v, 95))}`);
}
console.log(
  `  ratio to the floor: p50 ${(percentile(total, 50) / percentile(floor, 50)).toFixed(2)}x, p95 ${
    (percentile(total, 95) / percentile(floor, 95)).toFixed(2)
  }x`,
);
console.log(`${podCount} Pods, at most ${concurrency} starting at once:`);
console.log(
  `  floor: bare Pod running \`true\`       p50 ${fmt(percentile(floorMany, 50))}  p95 ${
    fmt(percentile(floorMany, 95))
  }  all ${fmt(floorWall)}`,
);
console.log(
  `  create to Pod on a node               p50 ${fmt(percentile(envPlaced, 50))}  p95 ${
    fmt(percentile(envPlaced, 95))
  }`,
);
console.log(
  `  create to first reset                p50 ${fmt(percentile(envMany, 50))}  p95 ${
    fmt(percentile(envMany, 95))
  }  all ${fmt(envWall)}`,
);
console.log(
  `  ratio to the floor: p50 ${
    (percentile(envMany, 50) / percentile(floorMany, 50)).toFixed(2)
  }x, p95 ${(percentile(envMany, 95) / percentile(floorMany, 95)).toFixed(2)}x`,
);
