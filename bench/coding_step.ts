/**
 * Coding step round trip: a step of `x = 1` over WebSocket through `serve`
 * (unix socket and TCP, server in this process), beside the floor measured
 * in the same run: the same Python worker program driven straight over its
 * pipes (`executor.run("x = 1")`), plus a bare ping of the worker (framing
 * only, no code run) for scale. Rounds alternate between the paths so that
 * drift hits them all alike.
 *
 * Run: deno task bench coding_step   (or: deno run -A bench/coding_step.ts [--quick] [--json])
 *
 * @module
 */
import { createApp, serve } from "../server/app.ts";
import { CodingEnv, CodingEnvironment, codingModels, PythonExecutor } from "../envs/coding/mod.ts";
import { alternate, timed } from "./_rounds.ts";

const quick = Deno.args.includes("--quick");
const json = Deno.args.includes("--json");
const ROUNDS = quick ? 3 : 8;
const PER_ROUND = quick ? 200 : 500;
const WARMUP = quick ? 200 : 500;
const CODE = "x = 1";

const executor = await PythonExecutor.start();
const app = createApp(() => new CodingEnvironment(), codingModels);
const socketDir = await Deno.makeTempDir({ prefix: "envtorch-bench-" });
const unixServer = serve(app, { socket: `${socketDir}/env.sock` });
const tcpServer = serve(createApp(() => new CodingEnvironment(), codingModels), { port: 0 });
const unixClient = new CodingEnv({ baseUrl: unixServer.baseUrl });
const tcpClient = new CodingEnv({ baseUrl: tcpServer.baseUrl });

try {
  await unixClient.reset();
  await tcpClient.reset();
  const measured = await alternate([
    { name: "floor: pipe ping (no code run)", round: timed(() => executor.ping()) },
    { name: "floor: pipe exec x = 1", round: timed(() => executor.run(CODE)) },
    { name: "WebSocket, unix socket", round: timed(() => unixClient.step({ code: CODE })) },
    { name: "WebSocket, TCP 127.0.0.1", round: timed(() => tcpClient.step({ code: CODE })) },
  ], { warmup: WARMUP, rounds: ROUNDS, perRound: PER_ROUND });
  const floorP50 = measured[1]!.p50_ms;
  const rows = measured.map((r) => ({ ...r, p50_vs_exec_floor: r.p50_ms / floorP50 }));
  if (json) {
    console.log(JSON.stringify({ code: CODE, rounds: ROUNDS, per_round: PER_ROUND, rows }));
  } else {
    console.log(
      `Step of ${JSON.stringify(CODE)}, one session, sequential; ${ROUNDS} x ${PER_ROUND} per path`,
    );
    console.log("| path | p50 | p99 | steps/s | p50 / exec floor |");
    console.log("| --- | --- | --- | --- | --- |");
    for (const r of rows) {
      console.log(
        `| ${r.path} | ${r.p50_ms.toFixed(3)} ms | ${r.p99_ms.toFixed(3)} ms | ${
          r.steps_per_s.toFixed(0)
        } | ${r.p50_vs_exec_floor.toFixed(2)}x |`,
      );
    }
  }
} finally {
  await unixClient.close();
  await tcpClient.close();
  await unixServer.shutdown();
  await tcpServer.shutdown();
  await executor.close();
  await Deno.remove(socketDir, { recursive: true }).catch(() => {});
}
