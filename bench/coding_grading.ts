/**
 * What grading a task costs a step: a step of `x = 1` in an episode with a
 * 3-test task (`assert add(2, 3) == 5`, ...: the grader process runs the
 * tests and calls `add` in the worker through the server, as plain data),
 * beside the same step in an episode without a task, in the same run and in
 * alternating rounds. Through the coding-env container (the real
 * deployment: WebSocket over its unix socket, the worker under its own uid,
 * the grader under the server's), and on the host (a server in this
 * process) for scale. The cost of grading is the p50 difference.
 *
 * Needs: docker and the coding image (`deno task images`, or `envtorch build coding`).
 *
 * Run: deno run -A bench/coding_grading.ts [--image coding-env:latest] [--quick] [--json]
 *
 * @module
 */
import { createApp, serve } from "../server/app.ts";
import { CodingEnv, CodingEnvironment, codingModels } from "../envs/coding/mod.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { alternate, timed } from "./_rounds.ts";

const args = Deno.args;
const IMAGE = args.includes("--image") ? args[args.indexOf("--image") + 1]! : "coding-env:latest";
const quick = args.includes("--quick");
const json = args.includes("--json");
const ROUNDS = quick ? 3 : 8;
const PER_ROUND = quick ? 50 : 200;
const WARMUP = quick ? 50 : 200;
const CODE = "x = 1";
const TASK = {
  prompt: "Write add(a, b)",
  // The last test fails on purpose: an episode whose tests all pass is done, and takes no more
  // steps. Each test still calls add once.
  tests: ["assert add(2, 3) == 5", "assert add(-4, 4) == 0", "assert add(10, 5) == 16"],
};
const REWARD = 2 / 3;
const DEFINE = "def add(a, b):\n    return a + b";

await using engine = new DockerEngine();
if (!(await engine.images.exists(IMAGE))) {
  console.error(`No ${IMAGE}: run deno task images first`);
  Deno.exit(1);
}
const label = { "envtorch.bench": `${Deno.pid}` };
const socketDir = await Deno.makeTempDir({ prefix: "envtorch-bench-" });
const hostServer = serve(createApp(() => new CodingEnvironment(), codingModels), {
  socket: `${socketDir}/env.sock`,
});
const host = {
  plain: new CodingEnv({ baseUrl: hostServer.baseUrl }),
  task: new CodingEnv({ baseUrl: hostServer.baseUrl }),
};
const plain = await CodingEnv.fromDockerImage(IMAGE, {
  docker: { labels: label, reapOnStart: false },
});
// A second session on the same container.
const graded = new CodingEnv({ baseUrl: plain.baseUrl });

try {
  for (const [a, b] of [[host.plain, host.task], [plain, graded]] as const) {
    await a.reset();
    await b.reset({ task: TASK });
    const first = await b.step({ code: DEFINE });
    if (first.reward !== REWARD) {
      throw new Error(`The graded session is not graded: ${first.reward}`);
    }
  }
  const gradedStep = (env: CodingEnv) => async () => {
    const r = await env.step({ code: CODE });
    if (r.reward !== REWARD) throw new Error(`Grading failed: ${JSON.stringify(r.observation)}`);
  };
  const rows = await alternate([
    { name: "container: step, no task", round: timed(() => plain.step({ code: CODE })) },
    { name: "container: step + grading 3 tests", round: timed(gradedStep(graded)) },
    { name: "host server: step, no task", round: timed(() => host.plain.step({ code: CODE })) },
    { name: "host server: step + grading 3 tests", round: timed(gradedStep(host.task)) },
  ], { warmup: WARMUP, rounds: ROUNDS, perRound: PER_ROUND });
  const cost = {
    container_ms: rows[1]!.p50_ms - rows[0]!.p50_ms,
    host_ms: rows[3]!.p50_ms - rows[2]!.p50_ms,
  };
  if (json) {
    console.log(JSON.stringify({ image: IMAGE, rounds: ROUNDS, per_round: PER_ROUND, rows, cost }));
  } else {
    console.log(`Step of ${JSON.stringify(CODE)}, ${ROUNDS} x ${PER_ROUND} per path, ${IMAGE}`);
    console.log("| path | p50 | p99 | steps/s |");
    console.log("| --- | --- | --- | --- |");
    for (const r of rows) {
      console.log(
        `| ${r.path} | ${r.p50_ms.toFixed(3)} ms | ${r.p99_ms.toFixed(3)} ms | ${
          r.steps_per_s.toFixed(0)
        } |`,
      );
    }
    console.log(
      `Grading 3 tests adds ${
        cost.container_ms.toFixed(3)
      } ms p50 in the container (target: at most 5 ms), ${cost.host_ms.toFixed(3)} ms on the host`,
    );
  }
} finally {
  await graded.close();
  await plain.close();
  await host.plain.close();
  await host.task.close();
  await hostServer.shutdown();
  await Deno.remove(socketDir, { recursive: true }).catch(() => {});
}
