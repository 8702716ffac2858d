/**
 * The typed client beyond the happy path: timeouts and cancellation that
 * keep the session, a server that goes away, the process provider, and the
 * generic client.
 */
import assert from "node:assert/strict";
import {
  ConnectionError,
  EchoEnv,
  EchoEnvironment,
  echoModels,
  GenericEnvClient,
  HTTPEnvClient,
  TimeoutError,
} from "../mod.ts";
import { type KnobAction, KnobEnv, knobModels, type KnobObservation } from "./fixtures/test_env.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTarget } from "./helpers/targets.ts";
import { delay } from "../protocol/deadline.ts";

class KnobClient extends HTTPEnvClient<KnobAction, KnobObservation> {
  static override models = knobModels;
}

for (const transport of ["websocket", "http"] as const) {
  Deno.test(`a call past its timeout raises TimeoutError and the session goes on (${transport})`, async () => {
    await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
    await using env = new KnobClient(target.client(transport));
    await env.reset();
    await assert.rejects(
      env.step({ sleep_ms: 600, done: false }, { timeoutS: 0.1 }),
      (e: unknown) => e instanceof TimeoutError && /within 0.1 s/.test(e.message),
    );
    const next = await env.step({ remember: "after", sleep_ms: 0, done: false });
    assert.deepEqual(next.observation.remembered, ["after"]);
    assert.equal(next.observation.step, 2, "the timed-out step still ran on the server");
  });

  Deno.test(`an AbortSignal cancels a call (${transport})`, async () => {
    await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
    await using env = new KnobClient(target.client(transport));
    await env.reset();
    const controller = new AbortController();
    const pending = env.step({ sleep_ms: 500, done: false }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("Changed my mind")), 50);
    await assert.rejects(pending, /Changed my mind/);
    assert.equal((await env.state()).step_count, 1, "the step sent before the abort completed");
    const early = new AbortController();
    early.abort(new Error("Never mind"));
    await assert.rejects(env.state({ signal: early.signal }), /Never mind/);
    assert.equal((await env.step({ sleep_ms: 0, done: false })).observation.step, 2);
  });
}

Deno.test("a server that goes away mid-call gives ConnectionError, not a hang", async () => {
  const target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using env = new KnobClient(target.client("websocket"));
  await env.reset();
  const pending = env.step({ sleep_ms: 5000, done: false });
  await delay(50);
  await target[Symbol.asyncDispose]();
  await assert.rejects(pending, ConnectionError);
  await assert.rejects(env.state(), ConnectionError);
});

Deno.test("a server that is not there gives ConnectionError naming it", async (t) => {
  for (const transport of ["websocket", "http"] as const) {
    await t.step(transport, async () => {
      await using env = new EchoEnv({ baseUrl: "unix:/nonexistent/env.sock", transport });
      await assert.rejects(
        env.reset(),
        (e: unknown) =>
          e instanceof ConnectionError && /unix:\/nonexistent\/env.sock/.test(e.message),
      );
    });
  }
});

Deno.test("base URLs: http, ws, unix; anything else is a clear TypeError", () => {
  assert.throws(() => new EchoEnv({ baseUrl: "ftp://x" }), /unsupported scheme ftp:/);
  assert.throws(() => new EchoEnv({ baseUrl: "localhost:8000" }), TypeError);
  assert.throws(() => new EchoEnv({ baseUrl: "unix:relative.sock" }), /unix:\/absolute/);
  assert.throws(() => new EchoEnv({}), /needs a baseUrl or a transport/);
});

Deno.test("EchoEnv.fromProcess: an episode on a child process, stopped on close", async () => {
  const env = await EchoEnv.fromProcess();
  assert.match(env.baseUrl, /^unix:\/.*\/env.sock$/);
  const socket = env.baseUrl.slice("unix:".length);
  await env.reset({ episode_id: "proc" });
  const result = await env.step({ message: "Hello, World!" });
  assert.equal(result.reward, 1.3);
  assert.equal((await env.state()).episode_id, "proc");
  await env.close();
  await assert.rejects(Deno.stat(socket), Deno.errors.NotFound, "the socket folder is removed");
});

Deno.test("fromProcess over HTTP and an in-process client give the same results", async () => {
  await using viaHttp = await EchoEnv.fromProcess({ transport: "http" });
  await using target = await startTarget("in-process", () => new EchoEnvironment(), echoModels);
  await using inProcess = new EchoEnv(target.client("websocket"));
  for (const env of [viaHttp, inProcess]) {
    await env.reset({ seed: 1 });
    const r = await env.step({ message: "héllo 👋" });
    assert.equal(r.observation.message_length, 7, "code points, as Python's len()");
    assert.equal(r.reward, 0.7);
  }
});

Deno.test("GenericEnvClient drives any env with raw JSON", async () => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels);
  for (const transport of ["websocket", "http"] as const) {
    await using env = new GenericEnvClient(target.client(transport));
    const first = await env.reset();
    assert.equal(first.observation.echoed_message, "Echo environment ready!");
    const r = await env.step({ message: "raw" });
    assert.equal(r.observation.message_length, 3);
    assert.equal(r.reward, 0.3);
    assert.equal((await env.state()).step_count, 1);
  }
  await eventually("sessions closed", () => target.app.sessions.size <= 1);
});

Deno.test("a server sending an observation the client's schema rejects is a clear error", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using env = new EchoEnv(target.client("websocket"));
  await assert.rejects(env.reset(), /Server sent an invalid observation: .*echoed_message/);
});

Deno.test("validate: false takes results as they come, with the base fields filled in", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  // An EchoEnv client against the knob env: its schema would refuse these observations.
  await using env = new EchoEnv({ ...target.client("websocket"), validate: false });
  const r = await env.reset();
  assert.equal(r.done, false);
  assert.equal(r.reward, 0);
  assert.deepEqual(r.observation as unknown, {
    step: 0,
    remembered: [],
    metadata: {},
    reward: 0,
    done: false,
  });
  assert.deepEqual(await env.state() as unknown, {
    episode_id: (await env.state()).episode_id,
    step_count: 0,
  });
});
