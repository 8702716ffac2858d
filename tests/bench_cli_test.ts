/**
 * `envtorch bench`: measures against an env it starts or a URL, prints
 * numbers a user can read or parse, and refuses bad flags.
 */
import assert from "node:assert/strict";
import { EchoEnvironment, echoModels } from "../mod.ts";
import { runCli, startCli } from "./helpers/cli.ts";
import { startTarget } from "./helpers/targets.ts";

Deno.test("envtorch bench echo runs every session to completion", async () => {
  const { code, stdout } = await runCli(["bench", "echo", "--sessions", "4", "--steps", "50"]);
  assert.equal(code, 0);
  assert.match(stdout, /^4\/4 sessions completed, 200 steps in \d+\.\d\d s, 0 episodes ended$/m);
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

/** Scaffolds the `init` template env in a temp folder and serves it by manifest path. */
async function serveTemplateEnv(): Promise<AsyncDisposable & { baseUrl: string }> {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-bench-" });
  const made = await runCli(["init", "dice", "--dir", dir]);
  assert.equal(made.code, 0, made.stderr);
  const server = await startCli(["serve", `${dir}/dice/manifest.ts`, "--port", "0"]);
  const baseUrl = server.firstLine.match(/serving dice on (http:\S+)/)?.[1];
  assert.ok(baseUrl, server.firstLine);
  return {
    baseUrl,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("envtorch bench URL on an env whose episodes end resets and counts episodes", async () => {
  // The init template ends an episode every 10 steps, inside the 20-step warm-up.
  await using server = await serveTemplateEnv();
  const { code, stdout, stderr } = await runCli(["bench", server.baseUrl, "--steps", "25"]);
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /^1\/1 sessions completed, 25 steps in \d+\.\d\d s, 2 episodes ended$/m);
  const json = await runCli(["bench", server.baseUrl, "--steps", "5", "--json"]);
  assert.equal(json.code, 0, json.stdout + json.stderr);
  const result = JSON.parse(json.stdout);
  assert.equal(result.completed, 1);
  assert.equal(result.steps, 5);
  assert.deepEqual(result.failures, {});
});

Deno.test("envtorch step and bench against a URL derive the action from /schema", async () => {
  await using server = await serveTemplateEnv();
  const step = await runCli(["step", server.baseUrl]);
  assert.equal(step.code, 0, step.stdout + step.stderr);
  assert.match(step.stdout, /^step 1\s+reward \S+\s+done false\s+\{"reply":"X","step":1/m);
  for (const transport of ["websocket", "http"]) {
    const bench = await runCli(["bench", server.baseUrl, "--steps", "5", "--transport", transport]);
    assert.equal(bench.code, 0, bench.stdout + bench.stderr);
    assert.match(bench.stdout, /^1\/1 sessions completed, 5 steps in/m);
  }
});
