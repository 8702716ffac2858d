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
import { type LoadResult, rawStepper, runLoad } from "../tools/load.ts";
import { httpClientFor, parseBaseUrl } from "../client/transport.ts";
import { envtorchEcho, floorServer, serverMemory } from "./_servers.ts";

const quick = Deno.args.includes("--quick");
const scale = quick ? 0.2 : 1;
const action = { message: "Hello, World!" };
const rows: string[][] = [];
const fmt = (n: number, d = 0) => n.toFixed(d);

/** The envtorch server's largest event-loop lag since the last call, ms (resets it). */
async function loopLag(baseUrl: string): Promise<number> {
  const endpoint = parseBaseUrl(baseUrl);
  const client = httpClientFor(endpoint);
  const text = await (await fetch(`${endpoint.httpBase}/metrics`, { client })).text();
  client?.close();
  return Number(text.match(/^envtorch_event_loop_lag_seconds_max (\S+)/m)?.[1]) * 1000;
}

function row(name: string, r: LoadResult, floor?: LoadResult, lagMs?: number) {
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
    lagMs === undefined ? "" : fmt(lagMs, 1),
  ]);
  console.error(
    `  ${name}: ${fmt(r.stepsPerSecond)} steps/s, p50 ${fmt(r.latency.p50, 3)} ms, p99 ${
      fmt(r.latency.p99, 3)
    } ms`,
  );
}

/** Runs a load against the envtorch server at `baseUrl`, noting its event-loop lag. */
async function measured(
  name: string,
  baseUrl: string,
  floor: LoadResult,
  run: () => Promise<LoadResult>,
) {
  await loopLag(baseUrl);
  const r = await run();
  row(name, r, floor, await loopLag(baseUrl));
}

const load = (
  baseUrl: string,
  sessions: number,
  steps: number,
  transport: "websocket" | "http" | "raw-ws" | "raw-http",
  validate = true,
) =>
  runLoad({
    baseUrl,
    sessions,
    stepsPerSession: Math.max(1, Math.round(steps * scale)),
    action,
    transport,
    validate,
  });

const dir = await Deno.makeTempDir({ prefix: "envtorch-bench-" });
try {
  await using et = await envtorchEcho(["--port", "0"]);
  await using floor = await floorServer(["--port", "0"]);
  await using etUnix = await envtorchEcho(["--socket", `${dir}/et.sock`]);
  await using floorUnix = await floorServer(["--socket", `${dir}/floor.sock`]);

  console.error("one session, sequential: alternating rounds, median of 5");
  {
    const floorRuns: LoadResult[] = [];
    const typedRuns: LoadResult[] = [];
    for (let round = 0; round < 5; round++) {
      floorRuns.push(await load(floor.baseUrl, 1, 5000, "raw-ws"));
      typedRuns.push(await load(et.baseUrl, 1, 5000, "websocket"));
    }
    const median = (runs: LoadResult[]) =>
      [...runs].sort((a, b) => a.stepsPerSecond - b.stepsPerSecond)[2]!;
    const f = median(floorRuns);
    row("floor: bare WS (median of 5 alternating rounds)", f);
    row("envtorch WS, typed client (median of 5 alternating rounds)", median(typedRuns), f);
  }
  const fWs = await load(floor.baseUrl, 1, 20000, "raw-ws");
  row("floor: bare WS", fWs);
  await measured(
    "envtorch WS, typed client",
    et.baseUrl,
    fWs,
    () => load(et.baseUrl, 1, 20000, "websocket"),
  );
  await measured(
    "envtorch WS, typed client, validate: false",
    et.baseUrl,
    fWs,
    () => load(et.baseUrl, 1, 20000, "websocket", false),
  );
  await measured(
    "envtorch WS, bare client",
    et.baseUrl,
    fWs,
    () => load(et.baseUrl, 1, 20000, "raw-ws"),
  );
  const fHttp = await load(floor.baseUrl, 1, 10000, "raw-http");
  row("floor: bare HTTP keep-alive", fHttp);
  await measured(
    "envtorch HTTP keep-alive, typed client",
    et.baseUrl,
    fHttp,
    () => load(et.baseUrl, 1, 10000, "http"),
  );
  const fUnix = await load(floorUnix.baseUrl, 1, 20000, "raw-ws");
  row("floor: bare WS on a unix socket", fUnix);
  await measured(
    "envtorch WS on a unix socket, typed",
    etUnix.baseUrl,
    fUnix,
    () => load(etUnix.baseUrl, 1, 20000, "websocket"),
  );

  for (const [sessions, steps] of [[64, 1000], [1024, 100], [4096, 20]] as const) {
    console.error(`${sessions} concurrent sessions`);
    const f = await load(floor.baseUrl, sessions, steps, "raw-ws");
    row(`floor: bare WS x${sessions}`, f);
    await measured(
      `envtorch WS x${sessions}, typed client`,
      et.baseUrl,
      f,
      () => load(et.baseUrl, sessions, steps, "websocket"),
    );
    await measured(
      `envtorch WS x${sessions}, typed client, validate: false`,
      et.baseUrl,
      f,
      () => load(et.baseUrl, sessions, steps, "websocket", false),
    );
    await measured(
      `envtorch WS x${sessions}, bare client`,
      et.baseUrl,
      f,
      () => load(et.baseUrl, sessions, steps, "raw-ws"),
    );
  }

  console.error("memory per idle session");
  const idle = quick ? 1000 : 4000;
  const memory: string[] = [];
  // Fresh servers: RSS after the load runs above would mostly show their garbage.
  await using freshFloor = await floorServer(["--port", "0"]);
  await using freshEt = await envtorchEcho(["--port", "0"]);
  for (const [name, server] of [["floor", freshFloor], ["envtorch", freshEt]] as const) {
    await runLoad({
      baseUrl: server.baseUrl,
      sessions: 8,
      stepsPerSession: 100,
      action,
      transport: "raw-ws",
    });
    const before = await serverMemory(server.baseUrl);
    const sockets = [];
    for (let i = 0; i < idle; i++) {
      const s = await rawStepper(server.baseUrl, action);
      await s.reset();
      sockets.push(s);
    }
    const after = await serverMemory(server.baseUrl);
    const kb = (bytes: number) => fmt(bytes / idle / 1024, 1);
    memory.push(
      `${name}: ${kb(after.rss - before.rss)} KB RSS and ${
        kb(after.heapUsed - before.heapUsed)
      } KB ` +
        `JS heap per idle session (${idle} sessions open after one reset each; GC before both readings)`,
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
    "server max loop lag ms",
  ];
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log("");
  for (const m of memory) console.log(`- ${m}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
