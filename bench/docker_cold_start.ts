/**
 * Docker cold start: from container create to the first successful `reset`
 * of the echo env, p50 and p95 over N starts, beside the floor measured in
 * the same run: a bare create + start + wait of the same image running
 * `true`, with the same hardening. Runs alternate, so both see the same
 * machine state.
 *
 * Needs: docker and the echo image (`deno task images`).
 *
 * Run: deno run -A bench/docker_cold_start.ts [--runs 20] [--transport unix|tcp]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { EchoEnv } from "../envs/echo/client.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { hardenedHostConfig } from "../providers/docker/hardening.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import { LABELS } from "../providers/docker/labels.ts";

const IMAGE = "echo-env:latest";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "20" },
    transport: { type: "string", default: "unix" },
  },
  strict: true,
});
const runs = Number(values.runs);
const transport = values.transport as "unix" | "tcp";
if (!Number.isInteger(runs) || runs < 1 || !["unix", "tcp"].includes(transport)) {
  console.error("Usage: bench/docker_cold_start.ts [--runs N] [--transport unix|tcp]");
  Deno.exit(2);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

await using engine = new DockerEngine();
if (!(await engine.images.exists(IMAGE))) {
  console.error(`No ${IMAGE}: run deno task images first`);
  Deno.exit(1);
}
await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
const benchLabel = { "envtorch.bench": `${Deno.pid}` };

/** Bare create + start + wait of the image running `true` (the floor). */
async function floorRun(): Promise<number> {
  const started = performance.now();
  const { Id } = await engine.containers.create({
    Image: IMAGE,
    Entrypoint: ["true"],
    Cmd: [],
    Labels: { ...benchLabel, [LABELS.managed]: "true" },
    HostConfig: hardenedHostConfig(),
  });
  try {
    await engine.containers.start(Id);
    const { StatusCode } = await engine.containers.wait(Id);
    const ms = performance.now() - started;
    if (StatusCode !== 0) throw new Error(`true exited with ${StatusCode}`);
    return ms;
  } finally {
    await engine.containers.remove(Id, { force: true, missingOk: true });
  }
}

/** Provider start (create, read-back check, start, /health) + connect + first reset. */
async function envRun(): Promise<{ total: number; healthy: number }> {
  const started = performance.now();
  const server = await docker.start(IMAGE, { transport, labels: benchLabel });
  try {
    const healthy = performance.now() - started;
    await using env = new EchoEnv({ baseUrl: server.baseUrl });
    const reset = await env.reset();
    const total = performance.now() - started;
    if (reset.observation.echoed_message !== "Echo environment ready!") {
      throw new Error("unexpected reset");
    }
    return { total, healthy };
  } finally {
    await server.stop();
  }
}

// One unmeasured round of each warms the engine's and the page caches.
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

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const rows: [string, number[]][] = [
  ["floor: create+start+wait of `true`", floor],
  [`start to /health (${transport})`, healthy],
  [`create to first reset (${transport})`, total],
];
const engineVersion = (await engine.version()).Version;
console.log(
  `Docker cold start, ${runs} runs each, ${IMAGE}, engine ${engineVersion}, ${Deno.build.os}/${Deno.build.arch}`,
);
for (const [name, values] of rows) {
  console.log(
    `  ${name.padEnd(40)} p50 ${fmt(percentile(values, 50))}  p95 ${fmt(percentile(values, 95))}`,
  );
}
console.log(
  `  ratio to the floor: p50 ${(percentile(total, 50) / percentile(floor, 50)).toFixed(2)}x, p95 ${
    (percentile(total, 95) / percentile(floor, 95)).toFixed(2)
  }x`,
);
const left = await engine.containers.list({ labels: [`envtorch.bench=${Deno.pid}`] });
for (const c of left) await engine.containers.remove(c.Id, { force: true, missingOk: true });
