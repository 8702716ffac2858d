/**
 * The HTTP and WebSocket hostile inputs of docs/security.md against a real
 * server: each gets its documented status or error code, the server stays
 * up, and a bystander session is unaffected.
 */
import assert from "node:assert/strict";
import { EchoEnvironment, echoModels } from "../mod.ts";
import { KnobEnv, knobModels } from "./fixtures/test_env.ts";
import { eventually } from "./helpers/eventually.ts";
import { type RawWs, startTarget, type Target } from "./helpers/targets.ts";
import { delay, withDeadline } from "../protocol/deadline.ts";

const LIMIT = 64 * 1024;

/** A bystander WebSocket session: it steps before and after, and must never notice. */
async function bystander(target: Target) {
  const ws = await target.ws();
  ws.send(JSON.stringify({ type: "reset", data: { episode_id: "bystander" } }));
  await ws.next();
  let steps = 0;
  return {
    async check(ws2: RawWs = ws) {
      ws2.send(JSON.stringify({ type: "step", data: { message: `still here ${++steps}` } }));
      const reply = await ws2.next();
      assert.equal(reply.type, "observation", "the bystander session still works");
      ws2.send(JSON.stringify({ type: "state" }));
      assert.deepEqual((await ws2.next()).data, {
        episode_id: "bystander",
        step_count: steps,
        seed: null,
      });
      const health = await target.http("/health");
      assert.equal(health.status, 200, "the server is up");
      await health.body?.cancel();
    },
    ws,
  };
}

async function rawRequest(port: number, bytes: Uint8Array, readMs = 2000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    const buf = new Uint8Array(4096);
    // No answer within readMs reads as "": the connection is closed to end the read.
    const n = await withDeadline("raw read", { timeoutS: readMs / 1000 }, (cancellation) => {
      cancellation.onCancel(() => conn.close());
      return conn.read(buf);
    }).catch(() => null);
    return n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already, on timeout.
    }
  }
}

function deep(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

Deno.test("hostile HTTP inputs", async (t) => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels, {
    maxBodyBytes: LIMIT,
    maxMessageBytes: LIMIT,
  });
  const port = Number(new URL(target.baseUrl!).port);
  const watcher = await bystander(target);
  await watcher.check();

  await t.step("a body over the limit with Content-Length is 413", async () => {
    const res = await target.http("/step", {
      method: "POST",
      body: JSON.stringify({ action: { message: "x".repeat(LIMIT) } }),
    });
    assert.equal(res.status, 413);
    assert.match((await res.json()).message, /over the limit of 65536 bytes/);
    await watcher.check();
  });

  await t.step("a body over the limit with no Content-Length (chunked) is 413", async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT * 4) return controller.close();
        sent += 8192;
        controller.enqueue(new Uint8Array(8192).fill(0x20));
      },
    });
    const res = await target.http("/step", { method: "POST", body });
    assert.equal(res.status, 413);
    await res.body?.cancel();
    await watcher.check();
  });

  await t.step("a Content-Length that lies (says small, sends more) is cut off", async () => {
    const text =
      `POST /step HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"action":{"message":"${
        "y".repeat(100)
      }"}}`;
    const reply = await rawRequest(port, new TextEncoder().encode(text));
    assert.match(reply, /^HTTP\/1.1 422/, "ten bytes of JSON are not valid JSON");
    await watcher.check();
  });

  await t.step("JSON nested 100k deep gets a clear 4xx", async () => {
    for (
      const body of [
        `{"action": {"message": ${deep(100_000)}}}`,
        `{"action": {"message": "x", "metadata": {"a": ${deep(100_000)}}}}`,
      ]
    ) {
      const res = await target.http("/step", { method: "POST", body });
      assert.ok([400, 413, 422].includes(res.status), `status ${res.status}`);
      await res.body?.cancel();
    }
    await watcher.check();
  });

  await t.step("invalid UTF-8 is 422 INVALID_JSON", async () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('{"action":{"message":"'),
      0xff,
      0xfe,
      ...new TextEncoder().encode('"}}'),
    ]);
    const res = await target.http("/step", { method: "POST", body: bytes });
    assert.equal(res.status, 422);
    const err = await res.json();
    assert.equal(err.code, "INVALID_JSON");
    assert.match(err.detail[0].msg, /not valid UTF-8/);
    await watcher.check();
  });

  await t.step("session ids with ../ or NUL are refused", async () => {
    for (const id of ["../../../etc/passwd", "..%2F..%2F", "a/b"]) {
      const res = await target.http("/state", { headers: { "envtorch-session": id } });
      assert.equal(res.status, 400);
      await res.body?.cancel();
    }
    const nul = await rawRequest(
      port,
      new TextEncoder().encode(
        "GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\nenvtorch-session: ab\0cd\r\n\r\n",
      ),
    );
    assert.match(nul, /^HTTP\/1.1 400/);
    await watcher.check();
  });

  await t.step("another transport's session id is not reachable (404)", async () => {
    const wsSession = target.app.sessions.list().find((s) => s.kind === "ws")!;
    const res = await target.http("/state", { headers: { "envtorch-session": wsSession.id } });
    assert.equal(res.status, 404);
    await res.body?.cancel();
    await watcher.check();
  });

  await t.step("wrong types, missing and unknown fields: 422 each", async () => {
    for (
      const body of [
        '{"action": {"message": ["a"]}}',
        '{"action": {"message": null}}',
        '{"action": null}',
        '{"action": {"message": "x", "__proto__": {"polluted": true}}}',
        '{"action": {"message": "x", "constructor": {"prototype": {"polluted": true}}}}',
      ]
    ) {
      const res = await target.http("/step", { method: "POST", body });
      assert.equal(res.status, 422, body);
      await res.body?.cancel();
    }
    // Unknown top-level keys are ignored (OpenEnv's trace_id), never copied.
    const top = '{"action": {"message": "x"}, "__proto__": {"polluted": true}}';
    await (await target.http("/reset", { method: "POST", body: "{}" })).body?.cancel();
    const res = await target.http("/step", { method: "POST", body: top });
    assert.equal(res.status, 200, top);
    await res.body?.cancel();
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
    const ws = await target.ws();
    ws.send('{"type": "reset", "data": {"__proto__": {"seed": 5}}}');
    ws.send('{"type": "state"}');
    assert.equal((await ws.next()).type, "observation", "a __proto__ reset option is dropped");
    assert.equal((await ws.next()).data.seed, null, "and does not become the seed");
    ws.close();
    await watcher.check();
  });

  await t.step("slow clients holding connections do not block others", async () => {
    const slow = await Promise.all(
      Array.from({ length: 50 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    for (const conn of slow) {
      await conn.write(new TextEncoder().encode("POST /step HTTP/1.1\r\nHost: x\r\n"));
    }
    await watcher.check();
    for (const conn of slow) conn.close();
  });

  watcher.ws.close();
  await watcher.ws.closed;
});

/** Opens a WebSocket by hand so that frames the WebSocket API refuses to make can be sent. */
async function rawWebSocket(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1.1 101/);
  return {
    async sendText(payload: Uint8Array) {
      const mask = new Uint8Array([1, 2, 3, 4]);
      const header = payload.length < 126
        ? [0x81, 0x80 | payload.length]
        : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
      const frame = new Uint8Array([
        ...header,
        ...mask,
        ...payload.map((b, i) => b ^ mask[i % 4]!),
      ]);
      await conn.write(frame);
    },
    async readFrames(): Promise<Uint8Array> {
      const out = new Uint8Array(8192);
      const got = await conn.read(out);
      return out.subarray(0, got ?? 0);
    },
    close: () => conn.close(),
  };
}

Deno.test("hostile WebSocket inputs", async (t) => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels, {
    maxBodyBytes: LIMIT,
    maxMessageBytes: LIMIT,
  });
  const port = Number(new URL(target.baseUrl!).port);
  const watcher = await bystander(target);

  await t.step("a message over the limit is VALIDATION_ERROR and the session goes on", async () => {
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "step", data: { message: "é".repeat(LIMIT / 2) } }));
    const reply = await ws.next();
    assert.equal(reply.data.code, "VALIDATION_ERROR");
    assert.match(String(reply.data.message), /over the limit of 65536 bytes/);
    ws.send(JSON.stringify({ type: "reset" }));
    assert.equal((await ws.next()).type, "observation");
    ws.close();
    await watcher.check();
  });

  await t.step("JSON nested 100k deep gets an error message, not a crash", async () => {
    const ws = await target.ws();
    ws.send(`{"type":"step","data":{"message":${deep(30_000)}}}`);
    const reply = await ws.next();
    assert.equal(reply.type, "error");
    assert.ok(["INVALID_JSON", "VALIDATION_ERROR"].includes(String(reply.data.code)));
    ws.close();
    await watcher.check();
  });

  await t.step("invalid UTF-8 in a text frame closes that connection only (1007)", async () => {
    const raw = await rawWebSocket(port);
    await raw.sendText(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    const frames = await raw.readFrames();
    // The server either sends a close frame with 1007 or drops the connection.
    if (frames.length > 0) {
      assert.equal(frames[0], 0x88, "a close frame");
      assert.equal((frames[2]! << 8) | frames[3]!, 1007);
    }
    assert.equal((await raw.readFrames()).length, 0, "the connection is closed");
    raw.close();
    await watcher.check();
  });

  await t.step("step before reset and unknown keys are errors, the session survives", async () => {
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "step", data: { message: "early" } }));
    assert.equal((await ws.next()).data.code, "SESSION_ERROR");
    ws.send(JSON.stringify({ type: "reset", data: {}, sneaky: 1 }));
    assert.equal((await ws.next()).data.code, "VALIDATION_ERROR");
    ws.send(JSON.stringify({ type: "reset" }));
    assert.equal((await ws.next()).type, "observation");
    ws.close();
    await watcher.check();
  });

  await t.step("a flood of messages is answered in order", async () => {
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "reset" }));
    await ws.next();
    for (let i = 0; i < 200; i++) {
      ws.send(
        i % 3 === 0 ? "garbage" : JSON.stringify({ type: "step", data: { message: `m${i}` } }),
      );
    }
    for (let i = 0; i < 200; i++) {
      const reply = await ws.next();
      if (i % 3 === 0) assert.equal(reply.data.code, "INVALID_JSON");
      else {
        assert.equal(
          (reply.data.observation as { echoed_message: string }).echoed_message,
          `m${i}`,
        );
      }
    }
    ws.close();
    await watcher.check();
  });

  watcher.ws.close();
  await eventually("every session is closed", () => target.app.sessions.size === 0);
});

Deno.test("concurrency on one session", async (t) => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels);

  await t.step("two concurrent HTTP steps on one session run one after the other", async () => {
    const reset = await target.http("/reset", {
      method: "POST",
      headers: { "envtorch-session": "new" },
    });
    const id = reset.headers.get("envtorch-session")!;
    await reset.body?.cancel();
    const step = (word: string) =>
      target.http("/step", {
        method: "POST",
        headers: { "envtorch-session": id },
        body: JSON.stringify({ action: { sleep_ms: 150, remember: word } }),
      }).then((r) => r.json());
    const [a, b] = await Promise.all([step("a"), step("b")]);
    const steps = [a.observation.step, b.observation.step].sort();
    assert.deepEqual(steps, [1, 2], "each step saw the other's effect or none, never half");
    const last = a.observation.step === 2 ? a : b;
    assert.equal(last.observation.remembered.length, 2);
  });

  await t.step("/health answers during a long step", async () => {
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "reset" }));
    await ws.next();
    ws.send(JSON.stringify({ type: "step", data: { sleep_ms: 1500 } }));
    let stepDone = false;
    const stepReply = ws.next(5000).then((r) => {
      stepDone = true;
      return r;
    });
    await delay(100);
    const health = await target.http("/health");
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(stepDone, false, "the step was still running when /health answered");
    assert.equal((await stepReply).type, "observation");
    ws.close();
    await ws.closed;
  });

  await t.step("a per-step timeout aborts the env's step with a clear error", async () => {
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "reset" }));
    await ws.next();
    ws.send(JSON.stringify({ type: "step", data: { sleep_ms: 5000 }, timeout_s: 0.1 }));
    const reply = await ws.next(3000);
    assert.equal(reply.data.code, "EXECUTION_ERROR");
    assert.match(String(reply.data.message), /aborted/);
    ws.send(JSON.stringify({ type: "step", data: { remember: "after" } }));
    assert.deepEqual((await ws.next()).data.observation, {
      step: 1,
      remembered: ["after"],
      metadata: {},
    });
    ws.close();
    await ws.closed;
  });
});
