/**
 * Echo step throughput and latency: one session over WebSocket, HTTP
 * keep-alive and a unix socket; 64, 1024 and 4096 concurrent sessions; and
 * memory per idle session. Every figure sits beside the floor measured in
 * the same run: a bare Deno server and client doing the same exchange.
 *
 * Servers run as child processes; this process is the load generator.
 *
 * Run: deno task bench echo_throughput   (or: deno run -A bench/echo_throughput.ts [--quick])
 *
 * @module
 */
import { type LoadResult, rawStepper, runLoad } from "../core/load.ts";
import { envtorchEcho, floorServer } from "./_servers.ts";

const quick = Deno.args.includes("--quick");
const scale = quick ? 0.2 : 1;
const action = { message: "Hello, World!" };
const rows: string[][] = [];
const fmt = (n: number, d = 0) => n.toFixed(d);

function row(name: string, r: LoadResult, floor?: LoadResult) {
  const failures = Object.entries(r.failures).map(([k, v]) => `${k}:${v}`).join(" ") || "-";
  rows.push([
    name,
    String(r.sessions),
    fmt(r.stepsPerSecond),
    fmt(r.latency.p50, 3),
    fmt(r.latency.p99, 3),
    fmt(r.wallMs),
    floor ? fmt(r.stepsPerSecond / floor.stepsPerSecond, 2) : "",
    floor ? fmt(r.latency.p99 / floor.latency.p99, 2) : "",
    floor ? fmt(r.wallMs / floor.wallMs, 2) : "",
    `${r.completed}/${r.sessions}`,
    failures,
  ]);
  console.error(
    `  ${name}: ${fmt(r.stepsPerSecond)} steps/s, p50 ${fmt(r.latency.p50, 3)} ms, p99 ${
      fmt(r.latency.p99, 3)
    } ms`,
  );
}

const load = (
  baseUrl: string,
  sessions: number,
  steps: number,
  transport: "websocket" | "http" | "raw-ws" | "raw-http",
) =>
  runLoad({
    baseUrl,
    sessions,
    stepsPerSession: Math.max(1, Math.round(steps * scale)),
    action,
    transport,
  });

const dir = await Deno.makeTempDir({ prefix: "envtorch-bench-" });
try {
  await using et = await envtorchEcho(["--port", "0"]);
  await using floor = await floorServer(["--port", "0"]);
  await using etUnix = await envtorchEcho(["--socket", `${dir}/et.sock`]);
  await using floorUnix = await floorServer(["--socket", `${dir}/floor.sock`]);

  console.error("one session, sequential");
  const fWs = await load(floor.baseUrl, 1, 20000, "raw-ws");
  row("floor: bare WS", fWs);
  row("envtorch WS, typed client", await load(et.baseUrl, 1, 20000, "websocket"), fWs);
  row("envtorch WS, bare client", await load(et.baseUrl, 1, 20000, "raw-ws"), fWs);
  const fHttp = await load(floor.baseUrl, 1, 10000, "raw-http");
  row("floor: bare HTTP keep-alive", fHttp);
  row("envtorch HTTP keep-alive, typed client", await load(et.baseUrl, 1, 10000, "http"), fHttp);
  const fUnix = await load(floorUnix.baseUrl, 1, 20000, "raw-ws");
  row("floor: bare WS on a unix socket", fUnix);
  row(
    "envtorch WS on a unix socket, typed",
    await load(etUnix.baseUrl, 1, 20000, "websocket"),
    fUnix,
  );

  for (const [sessions, steps] of [[64, 300], [1024, 30], [4096, 5]] as const) {
    console.error(`${sessions} concurrent sessions`);
    const f = await load(floor.baseUrl, sessions, steps, "raw-ws");
    row(`floor: bare WS x${sessions}`, f);
    row(
      `envtorch WS x${sessions}, typed client`,
      await load(et.baseUrl, sessions, steps, "websocket"),
      f,
    );
    row(
      `envtorch WS x${sessions}, bare client`,
      await load(et.baseUrl, sessions, steps, "raw-ws"),
      f,
    );
  }

  console.error("memory per idle session");
  const idle = quick ? 500 : 2000;
  const memory: string[] = [];
  for (const [name, server] of [["floor", floor], ["envtorch", et]] as const) {
    await new Promise((r) => setTimeout(r, 300));
    const before = server.rss();
    const sockets = [];
    for (let i = 0; i < idle; i++) {
      const s = await rawStepper(server.baseUrl, action);
      await s.reset();
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    const perSession = (server.rss() - before) / idle;
    memory.push(
      `${name}: ${fmt(perSession / 1024, 1)} KB per idle session (${idle} sessions, RSS delta)`,
    );
    await Promise.all(sockets.map((s) => s.close()));
  }

  const header = [
    "scenario",
    "sessions",
    "steps/s",
    "p50 ms",
    "p99 ms",
    "wall ms",
    "x floor steps/s",
    "x floor p99",
    "x floor wall",
    "completed",
    "failures",
  ];
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log("");
  for (const m of memory) console.log(`- ${m}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
