/**
 * Coding step round trip through the real deployment: a step of `x = 1`
 * over WebSocket through the `coding-env` container's unix-socket transport
 * (hardened container, network none, the worker under its own uid), beside,
 * in the same run:
 * - the pipe floor on the host: the same Python worker program driven
 *   straight over its pipes (`PythonExecutor.run("x = 1")`);
 * - the pipe floor inside the container: the same, run by a Deno script the
 *   exec API starts in the container (same cgroup, same 1-CPU limit);
 * - the host deployment: WebSocket to a server in this process on a unix
 *   socket, for the container's own cost.
 * Rounds alternate between the paths so that drift hits them all alike.
 *
 * Needs: docker and the coding image (`deno task images`, or `envtorch build coding`).
 *
 * Run: deno run -A bench/coding_container_step.ts [--quick] [--json] [--image coding-env:latest]
 *
 * @module
 */
import { createApp, serve } from "../server/app.ts";
import { CodingEnv, CodingEnvironment, codingModels, PythonExecutor } from "../envs/coding/mod.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { alternate, timed } from "./_rounds.ts";

const imageArg = Deno.args.indexOf("--image");
const IMAGE = (imageArg >= 0 ? Deno.args[imageArg + 1] : undefined) ??
  Deno.env.get("ENVTORCH_TEST_CODING_IMAGE") ?? "coding-env:latest";
const quick = Deno.args.includes("--quick");
const json = Deno.args.includes("--json");
const ROUNDS = quick ? 3 : 8;
const PER_ROUND = quick ? 200 : 500;
const WARMUP = quick ? 200 : 500;
const CODE = "x = 1";

/** A Deno script for inside the container: a worker, `warmup` steps, then `n` timed ones. */
function insideScript(warmup: number, n: number): string {
  return `import { PythonExecutor } from "/opt/envtorch/app/envs/coding/executor.ts";
const ex = await PythonExecutor.start();
try {
  for (let i = 0; i < ${warmup}; i++) await ex.run(${JSON.stringify(CODE)});
  const out = [];
  for (let i = 0; i < ${n}; i++) {
    const t = performance.now();
    await ex.run(${JSON.stringify(CODE)});
    out.push(performance.now() - t);
  }
  console.log(JSON.stringify(out));
} finally {
  await ex.close();
}`;
}

await using engine = new DockerEngine();
if (!(await engine.images.exists(IMAGE))) {
  console.error(`No ${IMAGE}: run deno task images first`);
  Deno.exit(1);
}
const benchLabel = { "envtorch.bench": `${Deno.pid}` };

const executor = await PythonExecutor.start();
const socketDir = await Deno.makeTempDir({ prefix: "envtorch-bench-" });
const hostServer = serve(createApp(() => new CodingEnvironment(), codingModels), {
  socket: `${socketDir}/env.sock`,
});
const hostClient = new CodingEnv({ baseUrl: hostServer.baseUrl });
const container = await CodingEnv.fromDockerImage(IMAGE, {
  docker: { labels: benchLabel, reapOnStart: false },
});

try {
  const [id] = (await engine.containers.list({
    all: true,
    labels: [`envtorch.bench=${Deno.pid}`],
  })).map((c) => c.Id);
  if (!id) throw new Error("The benchmark's container is not running");
  await hostClient.reset();
  await container.reset();
  const inside = async (n: number) => {
    const { exitCode, stdout, stderr } = await engine.exec.run(
      id,
      ["deno", "eval", "--cached-only", insideScript(100, n)],
      { timeoutS: 120 },
    );
    if (exitCode !== 0) throw new Error(`The floor inside the container failed: ${stderr}`);
    return JSON.parse(stdout) as number[];
  };
  const measured = await alternate([
    { name: "floor: pipe exec x = 1, host", round: timed(() => executor.run(CODE)) },
    // The script inside the container warms its own worker up.
    { name: "floor: pipe exec x = 1, inside the container", round: inside, warmup: false },
    {
      name: "WebSocket, unix socket, host server",
      round: timed(() => hostClient.step({ code: CODE })),
    },
    {
      name: "WebSocket, container unix socket (coding-env)",
      round: timed(() => container.step({ code: CODE })),
    },
  ], { warmup: WARMUP, rounds: ROUNDS, perRound: PER_ROUND });
  const hostFloor = measured[0]!.p50_ms;
  const insideFloor = measured[1]!.p50_ms;
  const rows = measured.map((r) => ({
    ...r,
    p50_vs_host_floor: r.p50_ms / hostFloor,
    p50_vs_container_floor: r.p50_ms / insideFloor,
  }));
  if (json) {
    console.log(JSON.stringify({ code: CODE, rounds: ROUNDS, per_round: PER_ROUND, rows }));
  } else {
    console.log(
      `Step of ${JSON.stringify(CODE)}, one session, sequential; ${ROUNDS} x ${PER_ROUND} per path`,
    );
    console.log("| path | p50 | p99 | steps/s | p50 / host floor | p50 / container floor |");
    console.log("| --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      console.log(
        `| ${r.path} | ${r.p50_ms.toFixed(3)} ms | ${r.p99_ms.toFixed(3)} ms | ${
          r.steps_per_s.toFixed(0)
        } | ${r.p50_vs_host_floor.toFixed(2)}x | ${r.p50_vs_container_floor.toFixed(2)}x |`,
      );
    }
  }
} finally {
  await container.close();
  await hostClient.close();
  await hostServer.shutdown();
  await executor.close();
  await Deno.remove(socketDir, { recursive: true }).catch(() => {});
}
