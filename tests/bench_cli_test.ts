/**
 * `envtorch bench`: measures against an env it starts or a URL, prints
 * numbers a user can read or parse, and refuses bad flags.
 */
import assert from "node:assert/strict";
import { EchoEnvironment, echoModels } from "../mod.ts";
import { runCli } from "./helpers/cli.ts";
import { startTarget } from "./helpers/targets.ts";

Deno.test("envtorch bench echo runs every session to completion", async () => {
  const { code, stdout } = await runCli(["bench", "echo", "--sessions", "4", "--steps", "50"]);
  assert.equal(code, 0);
  assert.match(stdout, /^4\/4 sessions completed, 200 steps in \d+\.\d\d s$/m);
  assert.match(stdout, /^\d+ steps\/s; latency ms p50 \d+\.\d{3}, p90 \d+\.\d{3}, p99 \d+\.\d{3}/m);
});

Deno.test("envtorch bench URL --json over HTTP gives machine-readable numbers", async () => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels);
  const { code, stdout } = await runCli([
    "bench",
    target.baseUrl!,
    "--transport",
    "http",
    "--steps",
    "20",
    "--action",
    '{"message": "hi"}',
    "--json",
  ]);
  assert.equal(code, 0);
  const result = JSON.parse(stdout);
  assert.equal(result.completed, 1);
  assert.equal(result.steps, 20);
  assert.deepEqual(result.failures, {});
  assert.ok(result.stepsPerSecond > 0 && result.latency.p99 >= result.latency.p50);
});

Deno.test("envtorch bench reports failures and exits 1 when sessions are refused", async () => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels, {
    maxSessions: 2,
  });
  const { code, stdout } = await runCli([
    "bench",
    target.baseUrl!,
    "--sessions",
    "4",
    "--steps",
    "5",
    "--action",
    '{"message": "hi"}',
  ]);
  assert.equal(code, 1);
  assert.match(stdout, /^2\/4 sessions completed/m);
  assert.match(stdout, /failures: CAPACITY_REACHED x2/);
});

Deno.test("envtorch bench: usage errors exit 2", async (t) => {
  const cases: [string[], RegExp][] = [
    [["bench"], /Missing the URL or env to bench/],
    [["bench", "echo", "--sessions", "0"], /--sessions must be an integer from 1/],
    [["bench", "echo", "--action", "{nope"], /--action is not valid JSON/],
    [["bench", "echo", "--action", "[1]"], /--action must be a JSON object/],
    [["bench", "nope"], /Unknown env "nope"/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, pattern);
    });
  }
});
