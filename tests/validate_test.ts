/**
 * `envtorch validate` end to end: it passes on echo by name and by URL
 * (TCP and unix socket), fails naming the broken check against
 * deliberately broken servers, and keeps quiet with --json.
 */
import assert from "node:assert/strict";
import { z } from "npm:zod@4.6.7";
import { Action, createApp, EchoEnvironment, Observation, serve, State } from "../mod.ts";
import { listEnvs } from "../envs/registry.ts";
import { validateServer } from "../tools/validate/mod.ts";
import { startBrokenServer } from "./fixtures/broken_servers.ts";
import { startCli } from "./helpers/cli.ts";
import { runEnvtorch } from "./helpers/cli_run.ts";

/**
 * The one skip a passing envtorch env may have: no MCP tools (an env that
 * declares none); every other check must pass.
 */
const NO_TOOLS = /offers no MCP tools/;

/** The report lines: `ok    http.health ...`. */
function checkLines(stdout: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = line.match(/^(ok|FAIL|skip)\s+(\S+)\s/);
    if (m) lines.set(m[2]!, line);
  }
  return lines;
}

Deno.test("validate echo (by name) starts it, passes every check and stops it", async () => {
  const { code, stdout, stderr } = await runEnvtorch(["validate", "echo"]);
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /^envtorch validate: echo \(started on unix:\/.*env\.sock\)$/m);
  const lines = checkLines(stdout);
  for (
    const id of [
      "http.health",
      "http.metadata",
      "http.schema",
      "ws.reset",
      "ws.step",
      "ws.state",
      "ws.invalid_json",
      "ws.unknown_type",
      "ws.bad_action",
      "ws.unknown_key",
      "ws.close",
      "ws.close_twice",
      "ws.step_before_reset",
      "ws.isolation",
      "determinism",
      "http.reset",
      "http.step",
      "http.state",
      "http.bad_action",
      "ext.delete_session",
      "schema.observations",
      "schema.states",
    ]
  ) {
    assert.match(lines.get(id) ?? `(no ${id} line)`, /^ok\s/, id);
  }
  assert.match(lines.get("action")!, /"message":"Hello, World!".*exampleAction/);
  assert.match(lines.get("ws.step_before_reset")!, /refused: SESSION_ERROR/);
  assert.match(stdout, /\d+ checks: \d+ ok, 0 failed, [01] skipped$/m);
  for (const line of [...lines.values()].filter((l) => l.startsWith("skip"))) {
    assert.match(line, /^skip\s+mcp\.list_tools .*offers no MCP tools/);
  }
  assert.match(lines.get("server.kind")!, /^ok\s+server\.kind .*envtorch server/);
  assert.doesNotMatch(stdout, /OpenEnv-style/);
  assert.equal(stderr, "", "no progress when stdout is not a terminal");
});

const hasCoding = (await listEnvs()).some((m) => m.name === "coding");

Deno.test({
  name: "validate coding (by name): the suite is env-agnostic",
  ignore: !hasCoding,
  async fn() {
    const { code, stdout } = await runEnvtorch(["validate", "coding", "--json"]);
    assert.equal(code, 0, stdout);
    const report = JSON.parse(stdout);
    assert.equal(report.env, "coding");
    assert.deepEqual(report.checks.filter((c: { status: string }) => c.status === "fail"), []);
    assert.equal(report.action.source, "the coding manifest's exampleAction");
  },
});

Deno.test("validate a URL: echo served over TCP and over a unix socket", async (t) => {
  await t.step("TCP", async () => {
    await using server = await startCli(["serve", "echo", "--port", "0"]);
    const url = server.firstLine.match(/on (http:\S+)/)![1]!;
    const { code, stdout } = await runEnvtorch(["validate", url]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, new RegExp(`^envtorch validate: ${url}$`, "m"));
    assert.match(stdout, / 0 failed, [01] skipped/);
  });
  await t.step("unix socket", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await using _server = await startCli(["serve", "echo", "--socket", `${dir}/e.sock`]);
      const { code, stdout } = await runEnvtorch(["validate", `unix:${dir}/e.sock`, "--json"]);
      assert.equal(code, 0, stdout);
      const report = JSON.parse(stdout);
      assert.equal(report.ok, true);
      assert.equal(report.extensions, true);
      assert.equal(report.target, `unix:${dir}/e.sock`);
      assert.equal(report.counts.fail, 0);
      assert.equal(report.server, "envtorch");
      for (const c of report.checks) {
        if (c.status !== "ok") assert.match(`${c.status} ${c.id} ${c.detail}`, NO_TOOLS);
      }
      // derived from the schema: a URL has no manifest
      assert.deepEqual(report.action, {
        value: { message: "x" },
        source: "derived from the action schema",
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("validate fails against broken servers and names the broken check", async (t) => {
  const cases = [
    ["health", "http.health", /answered \{"ok":true\}, expected \{"status":"healthy"\}/],
    ["step_types", "http.step", /reward: expected number or boolean or null, got string "0\.1"/],
    [
      "schema_mismatch",
      "schema.observations",
      /observation\.echoed_message: expected integer, got string/,
    ],
  ] as const;
  for (const [breakage, id, detail] of cases) {
    await t.step(`${breakage}: ${id} fails`, async () => {
      await using server = startBrokenServer(breakage);
      const report = await validateServer(server.baseUrl);
      const failed = report.checks.filter((c) => c.status === "fail");
      assert.deepEqual(failed.map((c) => c.id), [id], JSON.stringify(failed));
      assert.match(failed[0]!.detail, detail);
      assert.equal(report.ok, false);
    });
  }
  await t.step("the CLI prints a FAIL line and exits 1", async () => {
    await using server = startBrokenServer("step_types");
    const { code, stdout } = await runEnvtorch(["validate", server.baseUrl]);
    assert.equal(code, 1);
    assert.match(
      checkLines(stdout).get("http.step")!,
      /^FAIL\s+http\.step\s+POST \/step .*reward: expected/,
    );
    assert.match(stdout, /, 1 failed, /);
  });
});

Deno.test("determinism: informational for a URL, required with --deterministic", async () => {
  await using server = startBrokenServer("random_reset");
  const loose = await validateServer(server.baseUrl, { action: { message: "a" } });
  const check = loose.checks.find((c) => c.id === "determinism")!;
  assert.equal(check.status, "skip");
  assert.match(
    check.detail,
    /seed 42 gave different observations at the reset, observation\.echoed_message/,
  );
  assert.equal(loose.ok, true);
  const { code, stdout } = await runEnvtorch(["validate", server.baseUrl, "--deterministic"]);
  assert.equal(code, 1);
  assert.match(
    checkLines(stdout).get("determinism")!,
    /^FAIL\s+determinism .*different observations/,
  );
});

Deno.test("validate a server that is not there: one clear failure, exit 1", async () => {
  const { code, stdout } = await runEnvtorch(["validate", "unix:/nonexistent/env.sock"]);
  assert.equal(code, 1);
  assert.match(stdout, /^FAIL\s+http\.health .*Cannot reach unix:\/nonexistent\/env\.sock/m);
  assert.match(stdout, /^FAIL\s+server .*does not answer/m);
});

Deno.test("validate: an action the schema refuses, or none derivable, is reported", async (t) => {
  await using server = startBrokenServer("random_reset");
  await t.step("--action that does not match the schema fails the action check", async () => {
    const report = await validateServer(server.baseUrl, { action: { message: 1 } });
    const action = report.checks.find((c) => c.id === "action")!;
    assert.equal(action.status, "fail");
    assert.match(action.detail, /does not match the action schema: message: expected string/);
  });
  await t.step("no action derivable from the schema: step checks skip, saying why", async () => {
    const models = {
      action: Action.extend({ pin: z.string().regex(/^[0-9]{4}$/) }),
      observation: Observation.extend({ echoed_message: z.string(), message_length: z.number() }),
      state: State,
    };
    await using pinned = serve(createApp(() => new EchoEnvironment(), models), { port: 0 });
    const report = await validateServer(pinned.baseUrl);
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    assert.equal(byId.get("action")!.status, "skip");
    assert.match(
      byId.get("action")!.detail,
      /cannot derive an action .*pin: expected a string matching.*--action JSON/,
    );
    for (const id of ["ws.step", "ws.bad_action", "http.step", "http.bad_action", "ws.isolation"]) {
      assert.equal(byId.get(id)!.status, "skip", id);
      assert.match(byId.get(id)!.detail, /no action to step with/);
    }
    assert.equal(report.ok, true);
  });
});

Deno.test("progress goes to stderr only when asked, never with --json", async () => {
  const shown = await runEnvtorch(["validate", "echo"], { env: { ENVTORCH_PROGRESS: "1" } });
  assert.equal(shown.code, 0);
  assert.match(shown.stderr, /validate check \d+: http\.health/);
  const json = await runEnvtorch(["validate", "echo", "--json"], {
    env: { ENVTORCH_PROGRESS: "1" },
  });
  assert.equal(json.code, 0);
  assert.equal(json.stderr, "");
  assert.equal(JSON.parse(json.stdout).env, "echo");
});
