/**
 * Many coding sessions on one server: N sessions (each its own locked-down
 * Python worker) stepping `x = 1` at once over WebSocket, with the server's
 * largest event-loop lag and the worst `/health` answer time during the
 * run. Beside it, the floor under the same concurrency: N of the same
 * Python workers driven straight over their pipes from one process.
 *
 * The server runs as a child process (`envtorch serve coding`), as deployed.
 *
 * Run: deno task bench coding_sessions   (or: deno run -A bench/coding_sessions.ts [--quick])
 *
 * @module
 */
import { delay } from "../protocol/deadline.ts";
import { summarize } from "../tools/load.ts";
import { CodingEnv, PythonExecutor } from "../envs/coding/mod.ts";
import { startServer } from "./_servers.ts";

const quick = Deno.args.includes("--quick");
const STEPS = quick ? 50 : 200;
const CODE = "x = 1";
const fmt = (n: number, d = 3) => n.toFixed(d);

async function lagMs(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(text.match(/^envtorch_event_loop_lag_seconds_max (\S+)/m)?.[1]) * 1000;
}

const rows: string[] = [];
await using server = await startServer(
  ["run", "-A", "main.ts", "serve", "coding", "--port", "0", "--max-sessions", "64"],
  /serving coding on (\S+)/,
);

for (const n of quick ? [8] : [8, 32]) {
  // Floor: n pipe-driven workers in this process.
  const executors = await Promise.all(Array.from({ length: n }, () => PythonExecutor.start()));
  const floorLat: number[] = [];
  let t0 = performance.now();
  await Promise.all(executors.map(async (ex) => {
    for (let i = 0; i < STEPS; i++) {
      const s = performance.now();
      await ex.run(CODE);
      floorLat.push(performance.now() - s);
    }
  }));
  const floorWall = performance.now() - t0;
  await Promise.all(executors.map((ex) => ex.close()));

  // envtorch: n WebSocket sessions on one server.
  const clients = Array.from({ length: n }, () => new CodingEnv({ baseUrl: server.baseUrl }));
  await Promise.all(clients.map((c) => c.reset()));
  await lagMs(server.baseUrl);
  const lat: number[] = [];
  let healthWorst = 0;
  let running = true;
  const prober = (async () => {
    while (running) {
      const s = performance.now();
      await (await fetch(`${server.baseUrl}/health`)).body?.cancel();
      healthWorst = Math.max(healthWorst, performance.now() - s);
      await delay(20);
    }
  })();
  t0 = performance.now();
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < STEPS; i++) {
      const s = performance.now();
      await c.step({ code: CODE });
      lat.push(performance.now() - s);
    }
  }));
  const wall = performance.now() - t0;
  running = false;
  await prober;
  const lag = await lagMs(server.baseUrl);
  await Promise.all(clients.map((c) => c.close()));

  const f = summarize(floorLat);
  const e = summarize(lat);
  const fRate = (n * STEPS) / (floorWall / 1000);
  const eRate = (n * STEPS) / (wall / 1000);
  rows.push(
    `| floor: ${n} pipe workers | ${n} | ${fmt(fRate, 0)} | ${fmt(f.p50)} | ${fmt(f.p99)} | | | |`,
    `| envtorch: ${n} WebSocket sessions | ${n} | ${fmt(eRate, 0)} | ${fmt(e.p50)} | ${
      fmt(e.p99)
    } | ${fmt(eRate / fRate, 2)} | ${fmt(lag, 1)} | ${fmt(healthWorst, 1)} |`,
  );
}

console.log(
  "| path | sessions | steps/s | p50 ms | p99 ms | x floor steps/s | server max loop lag ms | worst /health ms |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
