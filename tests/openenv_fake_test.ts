/**
 * envtorch against an OpenEnv server, through the FAKE OpenEnv server of
 * tests/fixtures/fake_openenv_server.ts (openenv-core cannot be installed
 * here): `validate` passes, and GenericEnvClient drives it over WebSocket
 * (a session) and over HTTP (stateless, as in OpenEnv).
 */
import assert from "node:assert/strict";
import { CapacityError, GenericEnvClient, ValidationError } from "../mod.ts";
import { validateServer } from "../tools/validate/mod.ts";
import { startFakeOpenEnv } from "./fixtures/fake_openenv_server.ts";
import { eventually } from "./helpers/eventually.ts";
import { runEnvtorch } from "./helpers/cli_run.ts";

Deno.test("validate passes against the fake OpenEnv server, extensions skipped", async (t) => {
  for (
    const [label, options] of [
      ["0.2.x, one session at a time (OpenEnv's default)", {}],
      ["four sessions", { maxConcurrentEnvs: 4 }],
      ["after the metadata fix (#616)", { maxConcurrentEnvs: 2, metadataFix: true }],
    ] as const
  ) {
    await t.step(label, async () => {
      await using fake = startFakeOpenEnv(options);
      const report = await validateServer(fake.baseUrl);
      const failed = report.checks.filter((c) => c.status === "fail");
      assert.deepEqual(failed, []);
      assert.equal(report.extensions, false);
      const byId = new Map(report.checks.map((c) => [c.id, c]));
      for (const id of ["ext.session_new", "ext.delete_session", "ext.unknown_session"]) {
        assert.equal(byId.get(id)!.status, "skip");
      }
      assert.match(byId.get("http.invalid_json")!.detail, /HTTP 422/, "FastAPI answers 422");
      assert.match(byId.get("ws.step_before_reset")!.detail, /served the step/);
      const isolation = byId.get("ws.isolation")!;
      if (options.maxConcurrentEnvs) assert.equal(isolation.status, "ok");
      else assert.match(isolation.detail, /one session at a time \(CAPACITY_REACHED/);
      await eventually("sessions freed", () => fake.activeSessions() === 0);
    });
  }
  await t.step("over a unix socket, through the CLI", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await using _fake = startFakeOpenEnv({ socket: `${dir}/openenv.sock` });
      const { code, stdout } = await runEnvtorch(["validate", `unix:${dir}/openenv.sock`]);
      assert.equal(code, 0, stdout);
      assert.match(
        stdout,
        /0 failed, \d+ skipped \(an OpenEnv-style server: envtorch extensions not checked\)/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("GenericEnvClient drives the fake OpenEnv server over WebSocket", async () => {
  await using fake = startFakeOpenEnv();
  {
    await using env = new GenericEnvClient({ baseUrl: fake.baseUrl });
    const first = await env.reset({ seed: 1 });
    assert.equal(first.observation.echoed_message, "Echo environment ready!");
    assert.equal(first.reward, 0);
    const r = await env.step({ message: "Hello, World!" });
    assert.equal(r.observation.echoed_message, "Hello, World!");
    assert.equal(r.reward, 13 * 0.1, "Python's len(message) * 0.1");
    assert.deepEqual(r.observation.metadata, {}, "OpenEnv 0.2.x drops metadata (#616)");
    assert.equal((await env.state()).step_count, 1);
    await assert.rejects(env.step({ message: 5 }), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(e.message, "Invalid message");
      assert.deepEqual(e.errors.map((x) => x.loc), [["message"]]);
      return true;
    });
    assert.equal((await env.step({ message: "again" })).observation.message_length, 5);
    await env.close();
    await env.close();
  }
  await eventually("the session is freed on close", () => fake.activeSessions() === 0);
});

Deno.test("GenericEnvClient over HTTP: each request gets a fresh env, as in OpenEnv", async () => {
  await using fake = startFakeOpenEnv();
  await using env = new GenericEnvClient({ baseUrl: fake.baseUrl, transport: "http" });
  await env.reset({ episode_id: "ignored" });
  const a = await env.step({ message: "one" });
  const b = await env.step({ message: "two" });
  assert.equal(a.observation.echoed_message, "one");
  assert.equal(b.observation.echoed_message, "two");
  const state = await env.state();
  assert.equal(state.step_count, 0, "GET /state builds a fresh env");
  assert.notEqual(state.episode_id, "ignored");
  await assert.rejects(env.step({ message: 1 }), (e: unknown) => {
    assert.ok(e instanceof ValidationError);
    assert.equal(e.status, 422);
    assert.deepEqual(e.errors[0]!.loc, ["message"]);
    assert.match(e.message, /message: Input should be a valid string/);
    return true;
  });
});

Deno.test("the fake keeps OpenEnv's quirks: a non-object message ends the session; one session at a time", async () => {
  await using fake = startFakeOpenEnv();
  const ws = new WebSocket(fake.baseUrl.replace("http", "ws") + "/ws");
  const messages: unknown[] = [];
  const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
  ws.onmessage = (e) => messages.push(JSON.parse(e.data));
  await new Promise((r) => (ws.onopen = r));
  ws.send("[1, 2]");
  assert.equal(await closed, 1000);
  assert.deepEqual(messages, [{
    type: "error",
    data: { message: "'list' object has no attribute 'get'", code: "SESSION_ERROR" },
  }]);
  await eventually("freed", () => fake.activeSessions() === 0);
  // A second session at capacity 1 is refused while one is open.
  await using first = new GenericEnvClient({ baseUrl: fake.baseUrl });
  await first.reset();
  await using second = new GenericEnvClient({ baseUrl: fake.baseUrl });
  await assert.rejects(second.reset(), (e: unknown) => {
    assert.ok(e instanceof CapacityError);
    assert.equal(e.maxSessions, 1);
    return true;
  });
});
