/**
 * What the host-side port forwarder costs: echo steps over WebSocket and
 * HTTP to one echo container, straight on its unix socket and through the
 * forwarder's port on 127.0.0.1 (the container has no network either way),
 * in alternating rounds, with the ratio forwarded / unix per transport.
 *
 * Run: deno run -A bench/docker_forwarder.ts [--quick] [--json]
 *
 * @module
 */
import { EchoEnv } from "../envs/echo/client.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import { TcpForwarder } from "../providers/docker/tcp_forwarder.ts";
import { alternate, timed } from "./_rounds.ts";

const quick = Deno.args.includes("--quick");
const json = Deno.args.includes("--json");
const ROUNDS = quick ? 3 : 8;
const PER_ROUND = quick ? 200 : 500;
const WARMUP = quick ? 200 : 500;
const IMAGE = Deno.env.get("ENVTORCH_BENCH_ECHO_IMAGE") ?? "echo-env:latest";

await using docker = new LocalDockerProvider({ reapOnStart: false });
await using server = await docker.start(IMAGE, { transport: "unix" });
const socketPath = server.baseUrl.replace(/^unix:/, "");
await using forwarder = TcpForwarder.listen({ socketPath });
const forwarded = `http://127.0.0.1:${forwarder.port}`;
await using unixWs = new EchoEnv({ baseUrl: server.baseUrl });
await using tcpWs = new EchoEnv({ baseUrl: forwarded });
await using unixHttp = new EchoEnv({ baseUrl: server.baseUrl, transport: "http" });
await using tcpHttp = new EchoEnv({ baseUrl: forwarded, transport: "http" });
for (const env of [unixWs, tcpWs, unixHttp, tcpHttp]) await env.reset();
const step = (env: EchoEnv) => timed(() => env.step({ message: "hi" }));
const rows = await alternate([
  { name: "WebSocket, unix socket", round: step(unixWs) },
  { name: "WebSocket, forwarded 127.0.0.1 port", round: step(tcpWs) },
  { name: "HTTP, unix socket", round: step(unixHttp) },
  { name: "HTTP, forwarded 127.0.0.1 port", round: step(tcpHttp) },
], { warmup: WARMUP, rounds: ROUNDS, perRound: PER_ROUND });
const withRatio = rows.map((r, i) => ({ ...r, p50_vs_unix: r.p50_ms / rows[i - (i % 2)]!.p50_ms }));
if (json) {
  console.log(
    JSON.stringify({ image: IMAGE, rounds: ROUNDS, per_round: PER_ROUND, rows: withRatio }),
  );
} else {
  console.log(`Echo step to one ${IMAGE} container; ${ROUNDS} x ${PER_ROUND} per path`);
  console.log("| path | p50 | p99 | steps/s | p50 / unix socket |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of withRatio) {
    console.log(
      `| ${r.path} | ${r.p50_ms.toFixed(3)} ms | ${r.p99_ms.toFixed(3)} ms | ${
        r.steps_per_s.toFixed(0)
      } | ${r.p50_vs_unix.toFixed(2)}x |`,
    );
  }
}
