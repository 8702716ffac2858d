/**
 * VectorEnv: batched reset and step over real servers, autoreset modes,
 * per-env errors and timeouts that do not sink the batch, a dead server.
 */
import assert from "node:assert/strict";
import {
  ConnectionError,
  EchoEnv,
  ExecutionError,
  HTTPEnvClient,
  TimeoutError,
  VectorEnv,
} from "../mod.ts";
import { startProcess } from "../providers/process.ts";
import { type KnobAction, KnobEnv, knobModels, type KnobObservation } from "./fixtures/test_env.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTarget } from "./helpers/targets.ts";
import { delay } from "../protocol/deadline.ts";

class KnobClient extends HTTPEnvClient<KnobAction, KnobObservation> {
  static override models = knobModels;
}
const act = (a: Partial<KnobAction> = {}): KnobAction => ({ sleep_ms: 0, done: false, ...a });

Deno.test("batched reset seeds env i with seed + i, and steps run concurrently", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using vec = new VectorEnv(
    Array.from({ length: 4 }, () => new KnobClient(target.client("websocket"))),
  );
  const reset = await vec.reset({ seed: 10 });
  assert.deepEqual(reset.errors, [null, null, null, null]);
  const started = performance.now();
  const step = await vec.step(
    Array.from({ length: 4 }, (_, i) => act({ sleep_ms: 300, remember: `e${i}` })),
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1100, `four 300 ms steps ran concurrently (${elapsed.toFixed(0)} ms)`);
  assert.deepEqual(
    step.outcomes.map((o) => o.ok && o.observation.remembered),
    [["e0"], ["e1"], ["e2"], ["e3"]],
  );
  assert.deepEqual(step.rewards, [1, 1, 1, 1]);
});

Deno.test("one env's error or timeout is reported for that env; the others go on", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using vec = new VectorEnv(
    Array.from({ length: 3 }, () => new KnobClient(target.client("websocket"))),
    { stepTimeoutS: 0.5 },
  );
  await vec.reset();
  const r = await vec.step([
    act({ fail: "env 0 broke" }),
    act({ sleep_ms: 3000 }),
    act({ remember: "fine" }),
  ]);
  assert.ok(r.errors[0] instanceof ExecutionError);
  assert.match(r.errors[0]!.message, /env 0 broke/);
  assert.ok(r.errors[1] instanceof TimeoutError);
  assert.equal(r.errors[2], null);
  assert.deepEqual(r.outcomes[2]!.ok && r.outcomes[2]!.observation.remembered, ["fine"]);
  // The timed-out step still runs on the server; the session is usable once it ends.
  await eventually(
    "the slow step ends on the server",
    () => target.app.sessions.list().every((s) => s.pending === 0),
  );
  const again = await vec.step([act(), act(), act()]);
  assert.deepEqual(again.errors, [null, null, null], "every env works on the next step");
});

Deno.test("autoreset next_step resets a done env on the following step", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using vec = new VectorEnv(
    [new KnobClient(target.client("websocket")), new KnobClient(target.client("http"))],
  );
  await vec.reset();
  const end = await vec.step([act({ done: true }), act()]);
  assert.deepEqual(end.dones, [true, false]);
  const next = await vec.step([act({ remember: "ignored" }), act()]);
  const first = next.outcomes[0]!;
  assert.ok(first.ok && first.autoreset, "env 0 was reset, not stepped");
  assert.ok(first.ok && first.observation.step === 0);
  const second = next.outcomes[1]!;
  assert.ok(second.ok && !second.autoreset && second.observation.step === 2);
});

Deno.test("autoreset same_step returns the new episode with the final observation", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using vec = new VectorEnv([new KnobClient(target.client("websocket"))], {
    autoreset: "same_step",
  });
  await vec.reset();
  const r = await vec.step([act({ done: true, remember: "last" })]);
  const o = r.outcomes[0]!;
  assert.ok(o.ok);
  assert.equal(o.done, true);
  assert.equal(o.autoreset, true);
  assert.deepEqual(o.finalObservation?.remembered, ["last"]);
  assert.equal(o.observation.step, 0, "the observation is the new episode's");
});

Deno.test("autoreset disabled leaves a done env done: stepping it is that env's error", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using vec = new VectorEnv([new KnobClient(target.client("websocket"))], {
    autoreset: "disabled",
  });
  await vec.reset();
  await vec.step([act({ done: true })]);
  const r = await vec.step([act()]);
  assert.match(r.errors[0]!.message, /Episode is done/);
});

Deno.test("a server killed mid-step is a ConnectionError for its env; replace() brings it back", async () => {
  await using healthy = await startTarget("tcp", () => new KnobEnv(), knobModels);
  const doomed = await startTarget("tcp", () => new KnobEnv(), knobModels);
  await using vec = new VectorEnv([
    new KnobClient(healthy.client("websocket")),
    new KnobClient(doomed.client("websocket")),
  ]);
  await vec.reset();
  const stepping = vec.step([act({ sleep_ms: 400 }), act({ sleep_ms: 5000 })]);
  await delay(100);
  await doomed[Symbol.asyncDispose]();
  const r = await stepping;
  assert.equal(r.errors[0], null, "the healthy env finished its step");
  assert.ok(r.errors[1] instanceof ConnectionError, String(r.errors[1]));
  await vec.replace(1, new KnobClient(healthy.client("websocket")));
  await vec.reset();
  assert.deepEqual((await vec.step([act(), act()])).errors, [null, null]);
});

Deno.test("a child-process server killed with SIGKILL fails only its env", async () => {
  const servers = await Promise.all([startProcess("echo"), startProcess("echo")]);
  try {
    await using vec = new VectorEnv(
      servers.map((s) => new EchoEnv({ baseUrl: s.baseUrl, server: s })),
    );
    await vec.reset();
    Deno.kill(servers[1]!.pid, "SIGKILL");
    const r = await vec.step([{ message: "alive" }, { message: "dead" }]);
    assert.equal(r.rewards[0], 0.5);
    assert.ok(r.errors[1] instanceof ConnectionError);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});
