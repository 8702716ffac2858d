/**
 * `validate` tells an envtorch server from an OpenEnv one and checks each
 * for what it is: a broken envtorch env is still an envtorch server (its
 * extension checks run and fail); OpenEnv's real reference servers pass,
 * MCP tools included; a tool call that reports an error is a failed step; an
 * env that ignores its seed fails the determinism check; and a full server
 * gets one plain failure.
 */
import assert from "node:assert/strict";
import {
  createApp,
  EchoEnvironment,
  echoModels,
  Environment,
  Observation,
  serve,
  State,
} from "../mod.ts";
import type { EchoObservation } from "../envs/echo/models.ts";
import { validateServer } from "../tools/validate/mod.ts";
import { runEnvtorch } from "./helpers/cli_run.ts";
import { openenvTest, startOpenEnvServer } from "./helpers/openenv_ref.ts";

type Report = Awaited<ReturnType<typeof validateServer>>;
const byId = (report: Report) => new Map(report.checks.map((c) => [c.id, c]));
const failed = (report: Report) =>
  report.checks.filter((c) => c.status === "fail").map((c) => `${c.id}: ${c.detail}`);

/** Echo whose every reset fails: an envtorch server with a broken env. */
class BrokenResetEcho extends EchoEnvironment {
  override reset(): EchoObservation {
    throw new Error("the database is down");
  }
}

Deno.test("a broken envtorch env is recognised as envtorch, and its extension checks run", async () => {
  await using server = serve(createApp(() => new BrokenResetEcho(), echoModels), { port: 0 });
  const report = await validateServer(server.baseUrl, { action: { message: "hi" } });
  const checks = byId(report);
  assert.equal(report.server, "envtorch");
  assert.equal(report.extensions, true);
  assert.equal(checks.get("server.kind")!.status, "ok");
  assert.match(checks.get("server.kind")!.detail, /^envtorch server: /);
  assert.equal(checks.get("http.reset")!.status, "fail");
  assert.match(checks.get("http.reset")!.detail, /the database is down/);
  for (const id of ["ext.session_new", "ext.delete_session"]) {
    assert.equal(checks.get(id)!.status, "fail", `${id} runs and fails: ${checks.get(id)!.detail}`);
  }
  for (const id of ["ext.unknown_session", "ext.malformed_session"]) {
    assert.equal(checks.get(id)!.status, "ok", id);
  }
  const cli = await runEnvtorch(["validate", server.baseUrl, "--action", '{"message":"hi"}']);
  assert.equal(cli.code, 1);
  assert.doesNotMatch(cli.stdout, /OpenEnv-style/);
});

/** Resets the same whatever the seed, then steps at random: ignores its seed. */
class SeedlessEnvironment extends Environment {
  #state: State = { episode_id: null, step_count: 0 };
  reset(): Observation {
    this.#state = { episode_id: crypto.randomUUID(), step_count: 0 };
    return { done: false, reward: 0, metadata: {} };
  }
  step(): Observation {
    this.#state.step_count++;
    return { done: false, reward: Math.random(), metadata: {} };
  }
  get state(): State {
    return this.#state;
  }
}

Deno.test("determinism: an env that ignores its seed fails, though its resets are equal", async () => {
  const models = { action: echoModels.action, observation: Observation, state: State };
  await using server = serve(createApp(() => new SeedlessEnvironment(), models), { port: 0 });
  const strict = await validateServer(server.baseUrl, {
    action: { message: "hi" },
    deterministic: true,
  });
  const check = byId(strict).get("determinism")!;
  assert.equal(check.status, "fail");
  assert.match(check.detail, /^seed 42 gave different observations at step 1, observation\.reward/);
  const loose = await validateServer(server.baseUrl, { action: { message: "hi" } });
  assert.equal(byId(loose).get("determinism")!.status, "skip");
  const echo = serve(createApp(() => new EchoEnvironment(), echoModels), { port: 0 });
  await using _echo = echo;
  const steady = await validateServer(echo.baseUrl, { deterministic: true });
  assert.match(byId(steady).get("determinism")!.detail, /^seed 42, reset and 3 step\(s\)$/);
});

Deno.test("a full envtorch server is reported in one plain failure", async () => {
  await using server = serve(
    createApp(() => new EchoEnvironment(), echoModels, { maxSessions: 1 }),
    { port: 0 },
  );
  const holder = new WebSocket(`${server.baseUrl.replace("http", "ws")}/ws`);
  await new Promise((r) => (holder.onopen = r));
  try {
    const report = await validateServer(server.baseUrl);
    assert.deepEqual(report.checks.map((c) => c.id), [
      "http.health",
      "server.kind",
      "server.capacity",
    ]);
    const [line] = failed(report);
    assert.match(
      line!,
      /^server\.capacity: the server is full: every session slot is taken \(CAPACITY_REACHED/,
    );
  } finally {
    holder.close();
  }
});

openenvTest("OpenEnv's real echo and coding servers pass validate, MCP included", async (t) => {
  await t.step("echo (an MCP env; its reset observation is {})", async () => {
    await using server = await startOpenEnvServer("echo");
    const report = await validateServer(server.baseUrl);
    assert.deepEqual(failed(report), []);
    assert.equal(report.server, "openenv");
    assert.deepEqual(report.tools, ["echo_message", "echo_with_length"]);
    const checks = byId(report);
    for (
      const id of [
        "mcp.list_tools",
        "mcp.call_tool",
        "mcp.unknown_tool",
        "mcp.ws_jsonrpc",
        "mcp.http_jsonrpc",
      ]
    ) {
      assert.equal(checks.get(id)!.status, "ok", `${id}: ${checks.get(id)!.detail}`);
    }
    assert.match(
      checks.get("action")!.detail,
      /"tool_name":"echo_message".*a call of the env's tool/,
    );
    assert.match(checks.get("server.kind")!.detail, /^OpenEnv-style server/);
    const cli = await runEnvtorch(["validate", server.baseUrl]);
    assert.equal(cli.code, 0, cli.stdout);
    assert.match(
      cli.stdout,
      /0 failed, \d+ skipped \(an OpenEnv-style server: envtorch extensions not checked\)$/m,
    );
  });
  await t.step("coding (no tools, one session at a time)", async () => {
    await using server = await startOpenEnvServer("coding");
    const report = await validateServer(server.baseUrl);
    assert.deepEqual(failed(report), []);
    assert.equal(byId(report).get("mcp.list_tools")!.status, "skip");
    assert.equal(byId(report).get("mcp.call_tool"), undefined, "one skip, not one per MCP check");
  });
});

openenvTest("a tool call whose observation carries an error is a failed step", async () => {
  await using server = await startOpenEnvServer("echo");
  const report = await validateServer(server.baseUrl, {
    action: { type: "call_tool", tool_name: "no_such_tool", arguments: {} },
  });
  const step = byId(report).get("ws.step")!;
  assert.equal(step.status, "fail");
  assert.match(
    step.detail,
    /the tool call failed \(tool_not_found: Unknown tool: 'no_such_tool'\)/,
  );
  assert.equal(report.ok, false);
});

openenvTest("a full OpenEnv server is reported in one plain failure", async () => {
  await using server = await startOpenEnvServer("coding");
  const holder = new WebSocket(`${server.baseUrl.replace("http", "ws")}/ws`);
  await new Promise((r) => (holder.onopen = r));
  try {
    const report = await validateServer(server.baseUrl);
    assert.deepEqual(failed(report).map((l) => l.split(":")[0]), ["server.capacity"]);
    assert.match(
      failed(report)[0]!,
      /the server is full: every session slot is taken .*1\/1 sessions/,
    );
  } finally {
    holder.close();
  }
});
