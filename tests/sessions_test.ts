/**
 * Sessions: isolation, the cap, idle reaping, and slots freed by dropped
 * connections, over a real server.
 */
import assert from "node:assert/strict";
import { KnobEnv, knobModels, knobStats } from "./fixtures/test_env.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTarget, TARGET_KINDS } from "./helpers/targets.ts";

const post = (body: unknown, session?: string): RequestInit => ({
  method: "POST",
  headers: session ? { "envtorch-session": session } : {},
  body: JSON.stringify(body),
});

for (const kind of TARGET_KINDS) {
  Deno.test(`two WebSocket sessions do not see each other's state (${kind})`, async () => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels);
    const [a, b] = [await target.ws(), await target.ws()];
    for (const [ws, word] of [[a, "apple"], [b, "banana"]] as const) {
      ws.send(JSON.stringify({ type: "reset", data: { episode_id: word } }));
      await ws.next();
      ws.send(JSON.stringify({ type: "step", data: { remember: word } }));
      await ws.next();
    }
    a.send(JSON.stringify({ type: "step", data: { remember: "again" } }));
    assert.deepEqual((await a.next()).data.observation, {
      step: 2,
      remembered: ["apple", "again"],
      metadata: {},
    });
    b.send(JSON.stringify({ type: "state" }));
    assert.deepEqual((await b.next()).data, { episode_id: "banana", step_count: 1 });
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
  });

  Deno.test(`two HTTP sessions do not see each other's state (${kind})`, async () => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels);
    const ids: string[] = [];
    for (const word of ["apple", "banana"]) {
      const res = await target.http("/reset", {
        ...post({ episode_id: word }),
        headers: { "envtorch-session": "new" },
      });
      ids.push(res.headers.get("envtorch-session")!);
      await res.body?.cancel();
      const step = await target.http("/step", post({ action: { remember: word } }, ids.at(-1)));
      await step.body?.cancel();
    }
    assert.notEqual(ids[0], ids[1]);
    const second = await target.http("/step", post({ action: { remember: "more" } }, ids[0]));
    assert.deepEqual((await second.json()).observation.remembered, ["apple", "more"]);
    const state = await target.http("/state", { headers: { "envtorch-session": ids[1]! } });
    assert.deepEqual(await state.json(), { episode_id: "banana", step_count: 1 });
    const noHeader = await target.http("/state");
    assert.deepEqual(
      await noHeader.json(),
      { episode_id: null, step_count: 0 },
      "the default session is a third one",
    );
  });

  Deno.test(`past the cap a session gets CAPACITY_REACHED and existing ones go on (${kind})`, async () => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels, {
      maxSessions: 2,
    });
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "reset" }));
    await ws.next();
    const http = await target.http("/reset", {
      method: "POST",
      headers: { "envtorch-session": "new" },
    });
    const id = http.headers.get("envtorch-session")!;
    await http.body?.cancel();

    const refusedWs = await target.ws();
    const refusal = await refusedWs.next();
    assert.equal(refusal.type, "error");
    assert.equal(refusal.data.code, "CAPACITY_REACHED");
    assert.equal(refusal.data.active_sessions, 2);
    assert.equal(refusal.data.max_sessions, 2);
    assert.equal((await refusedWs.closed).code, 1013);

    const refusedHttp = await target.http("/reset", {
      method: "POST",
      headers: { "envtorch-session": "new" },
    });
    assert.equal(refusedHttp.status, 503);
    const body = await refusedHttp.json();
    assert.equal(body.code, "CAPACITY_REACHED");
    assert.match(body.detail, /2 of 2 sessions/);

    ws.send(JSON.stringify({ type: "step", data: { remember: "still here" } }));
    assert.deepEqual((await ws.next()).data.observation, {
      step: 1,
      remembered: ["still here"],
      metadata: {},
    });
    const step = await target.http("/step", post({ action: {} }, id));
    assert.equal(step.status, 200);
    await step.body?.cancel();

    ws.close();
    await eventually("the WebSocket slot is freed", () => target.app.sessions.size === 1);
    const again = await target.ws();
    again.send(JSON.stringify({ type: "reset" }));
    assert.equal((await again.next()).type, "observation", "a freed slot can be used again");
    again.close();
  });

  Deno.test(`an idle session is reaped and its env closed (${kind})`, async () => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels, {
      idleTimeoutS: 0.3,
    });
    const closedBefore = knobStats.closed;
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "reset" }));
    await ws.next();
    const res = await target.http("/reset", {
      method: "POST",
      headers: { "envtorch-session": "new" },
    });
    const id = res.headers.get("envtorch-session")!;
    await res.body?.cancel();
    // The reaper's timer does not keep a process alive; polling does.
    await eventually("both sessions are reaped", () => target.app.sessions.size === 0);
    const { code, reason } = await ws.closed;
    assert.equal(code, 4000);
    assert.match(reason, /idle for more than 0.3 s/);
    const gone = await target.http("/state", { headers: { "envtorch-session": id } });
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    assert.equal(target.app.sessions.reapedTotal, 2);
    assert.ok(knobStats.closed >= closedBefore + 2, "the reaped envs were closed");
  });
}

Deno.test("a session busy in a long step is not reaped", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels, {
    idleTimeoutS: 0.2,
  });
  const ws = await target.ws();
  ws.send(JSON.stringify({ type: "reset" }));
  await ws.next();
  ws.send(JSON.stringify({ type: "step", data: { sleep_ms: 800 } }));
  const reply = await ws.next(3000);
  assert.equal(reply.type, "observation");
  assert.equal(reply.data.observation && (reply.data.observation as { step: number }).step, 1);
  ws.close();
  await ws.closed;
});

const childClient = `
const ws = new WebSocket(Deno.args[0]);
ws.onopen = () => ws.send(JSON.stringify({ type: "reset" }));
let n = 0;
ws.onmessage = () => {
  if (n++ === 0) {
    ws.send(JSON.stringify({ type: "step", data: { sleep_ms: 30000 } }));
    console.log("stepping");
  }
};
`;

Deno.test("a client killed mid-step frees its slot", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  const wsUrl = `${target.baseUrl!.replace("http", "ws")}/ws`;
  const children = Array.from({ length: 3 }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", childClient, wsUrl],
      stdout: "piped",
      stderr: "null",
    }).spawn());
  for (const child of children) {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /stepping/);
    reader.releaseLock();
  }
  await eventually("three sessions are open", () => target.app.sessions.size === 3);
  for (const child of children) {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
  }
  await eventually("every slot is freed", () => target.app.sessions.size === 0, 10_000);
  const health = await target.http("/health");
  assert.equal(health.status, 200);
  await health.body?.cancel();
});

Deno.test("with admission waiting, a new session waits for a slot instead of failing", async (t) => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels, {
    maxSessions: 1,
    admissionWaitS: 2,
  });
  const first = await target.ws();
  first.send(JSON.stringify({ type: "reset" }));
  await first.next();

  await t.step("it gets the slot once the holder leaves", async () => {
    const waiting = target.http("/reset", {
      method: "POST",
      headers: { "envtorch-session": "new" },
    });
    await eventually("one caller waits", () => target.app.sessions.waiting === 1);
    first.close();
    const res = await waiting;
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  await t.step("past the wait it gets 503 CAPACITY_REACHED with Retry-After", async () => {
    const started = performance.now();
    const res = await target.http("/reset", {
      method: "POST",
      headers: { "envtorch-session": "new" },
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal((await res.json()).code, "CAPACITY_REACHED");
    assert.ok(performance.now() - started >= 1900, "it waited the admission time first");
  });
});

Deno.test("a new session whose first reset fails still gets its id, and can reset again", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);
  const failed = await target.http("/reset", {
    method: "POST",
    headers: { "envtorch-session": "new" },
    body: JSON.stringify({ fail_reset: "not today" }),
  });
  assert.equal(failed.status, 500);
  assert.match((await failed.json()).detail, /not today/);
  const id = failed.headers.get("envtorch-session");
  assert.ok(id, "the error names the session it opened");
  const again = await target.http("/reset", post({}, id));
  assert.equal(again.status, 200);
  await again.body?.cancel();
  assert.equal(target.app.sessions.size, 1, "no orphan session");
});
