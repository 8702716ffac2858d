/**
 * Pool checkout with warm containers: time from `checkout()` to a client in
 * hand, and a full checkout + step + release cycle, p50/p95 over N rounds,
 * beside a cold start (container create to first reset) measured in the
 * same run: what a trainer would pay without the pool.
 *
 * Needs: docker and the echo image (`deno task images`).
 *
 * Run: deno run -A bench/pool_checkout.ts [--rounds 200] [--size 4]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { summarize } from "../tools/load.ts";
import { EchoEnv } from "../envs/echo/client.ts";
import { EnvPool } from "../providers/pool.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "200" }, size: { type: "string", default: "4" } },
  strict: true,
});
const rounds = Number(values.rounds);
const size = Number(values.size);
const IMAGE = "echo-env:latest";
const fmt = (ms: number) => ms.toFixed(3);

const cold: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const env = await EchoEnv.fromDockerImage(IMAGE);
  await env.reset();
  cold.push(performance.now() - t0);
  await env.close();
}

const fillStarted = performance.now();
await using pool = await EnvPool.create({
  size,
  create: (signal) => EchoEnv.fromDockerImage(IMAGE, { signal }),
});
const fillMs = performance.now() - fillStarted;

const checkout: number[] = [];
const cycle: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  const env = await pool.checkout();
  checkout.push(performance.now() - t0);
  await env.step({ message: "Hello, World!" }).catch(async () => {
    await env.reset();
    await env.step({ message: "Hello, World!" });
  });
  await pool.release(env);
  cycle.push(performance.now() - t0);
}

const c = summarize(checkout);
const y = summarize(cycle);
const k = summarize(cold);
console.log(`| measure | p50 ms | p99 ms (p90 for cold) | n |`);
console.log(`|---|---|---|---|`);
console.log(`| pool checkout (warm, size ${size}) | ${fmt(c.p50)} | ${fmt(c.p99)} | ${rounds} |`);
console.log(
  `| checkout + step + release (reset on release) | ${fmt(y.p50)} | ${fmt(y.p99)} | ${rounds} |`,
);
console.log(`| cold start: create to first reset (no pool) | ${fmt(k.p50)} | ${fmt(k.p90)} | 5 |`);
console.log(`\nfilling the pool (${size} containers, concurrency 4): ${fillMs.toFixed(0)} ms`);
console.log(`checkout p50 is ${(k.p50 / c.p50).toFixed(0)}x faster than a cold start`);
