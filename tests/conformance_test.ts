/**
 * One conformance suite for every route and WebSocket message of
 * docs/protocol.md, run in-process, over TCP and over a unix socket.
 */
import assert from "node:assert/strict";
import {
  CapacityError,
  EchoEnv,
  EchoEnvironment,
  echoModels,
  GenericEnvClient,
  SessionError,
  ValidationError,
} from "../mod.ts";
import { KnobEnv, knobModels } from "./fixtures/test_env.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTarget, TARGET_KINDS, type TargetKind } from "./helpers/targets.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const echo = (kind: TargetKind, options = {}) =>
  startTarget(kind, () => new EchoEnvironment(), echoModels, options);
const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

for (const kind of TARGET_KINDS) {
  Deno.test(`HTTP routes (${kind})`, async (t) => {
    await using target = await echo(kind);

    await t.step("GET /health answers healthy", async () => {
      const res = await target.http("/health");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "healthy" });
    });

    await t.step("GET /metadata names the env", async () => {
      const body = await (await target.http("/metadata")).json();
      assert.equal(body.name, "echo");
      assert.match(body.description, /Echoes/);
      assert.match(body.readme_content, /^# echo\n/, "the env's README travels with it");
    });

    await t.step("GET /schema gives the env's own models as JSON Schema", async () => {
      const body = await (await target.http("/schema")).json();
      assert.deepEqual(Object.keys(body).sort(), ["action", "observation", "state"]);
      assert.deepEqual(body.action.required, ["message"]);
      assert.equal(body.action.additionalProperties, false);
      assert.ok(body.observation.properties.echoed_message);
      assert.ok(body.state.properties.seed, "the env's State subclass, not the base");
    });

    let session = "";
    await t.step("POST /reset gives {observation, reward, done} and a session id", async () => {
      const res = await target.http("/reset", json({ episode_id: "ep-1", seed: 42 }));
      assert.equal(res.status, 200);
      session = res.headers.get("envtorch-session") ?? "";
      assert.match(session, UUID);
      assert.deepEqual(await res.json(), {
        observation: { echoed_message: "Echo environment ready!", message_length: 0, metadata: {} },
        reward: 0,
        done: false,
      });
    });

    await t.step("POST /step echoes, with reward 0.1 per character and metadata kept", async () => {
      const res = await target.http("/step", json({ action: { message: "Hello, World!" } }));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("envtorch-session"), session);
      assert.deepEqual(await res.json(), {
        observation: {
          echoed_message: "Hello, World!",
          message_length: 13,
          metadata: { original_message: "Hello, World!", step: 1 },
        },
        reward: 1.3,
        done: false,
      });
    });

    await t.step("GET /state reports the episode id and seed given at reset", async () => {
      const res = await target.http("/state");
      assert.deepEqual(await res.json(), { episode_id: "ep-1", step_count: 1, seed: 42 });
    });

    await t.step("the session header reaches the same session", async () => {
      const res = await target.http("/state", { headers: { "envtorch-session": session } });
      assert.equal((await res.json()).step_count, 1);
    });

    await t.step("POST /reset with no body works", async () => {
      const res = await target.http("/reset", { method: "POST" });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).observation.echoed_message, "Echo environment ready!");
    });

    await t.step("a body that is not JSON is 422 INVALID_JSON with a detail list", async () => {
      for (const body of ["not json", '{"action": {"message": "x"', "\u0000"]) {
        const res = await target.http("/step", json(body));
        assert.equal(res.status, 422);
        const err = await res.json();
        assert.equal(err.code, "INVALID_JSON");
        assert.equal(err.detail[0].type, "json_invalid");
        assert.match(err.detail[0].msg, /not valid JSON/);
      }
    });

    await t.step("unknown top-level body keys are ignored, as OpenEnv does", async () => {
      const res = await target.http(
        "/step",
        json({ action: { message: "x" }, trace_id: "t-1", surprise: true }),
      );
      assert.equal(res.status, 200);
      assert.equal((await res.json()).observation.echoed_message, "x");
    });

    await t.step("an action of the wrong type is 422 saying where", async () => {
      const res = await target.http("/step", json({ action: { message: 5 } }));
      assert.equal(res.status, 422);
      const err = await res.json();
      assert.deepEqual(err.detail[0].loc, ["body", "action", "message"]);
      assert.match(err.detail[0].msg, /expected string/);
    });

    await t.step(
      "a missing field, an unknown action field, an unknown body field: 422",
      async () => {
        for (
          const body of [
            { action: {} },
            { action: { message: "x", extra: 1 } },
            {},
            [],
            { action: "hello" },
            { action: { message: "x" }, timeout_s: -1 },
          ]
        ) {
          const res = await target.http("/step", json(body));
          assert.equal(res.status, 422, JSON.stringify(body));
          const err = await res.json();
          assert.ok(Array.isArray(err.detail) && err.detail.length > 0);
          assert.equal(err.code, "VALIDATION_ERROR");
        }
      },
    );

    await t.step("bad reset options are 422", async () => {
      for (const body of [{ seed: -1 }, { seed: 1.5 }, { episode_id: "x".repeat(256) }, [1], "3"]) {
        const res = await target.http("/reset", json(body));
        assert.equal(res.status, 422, JSON.stringify(body));
        await res.body?.cancel();
      }
    });

    await t.step("an unknown session is 404, a malformed one 400", async () => {
      const unknown = await target.http("/state", {
        headers: { "envtorch-session": crypto.randomUUID() },
      });
      assert.equal(unknown.status, 404);
      assert.equal((await unknown.json()).code, "SESSION_ERROR");
      for (const id of ["../../etc/passwd", "abc", "new-ish", "'; DROP"]) {
        const res = await target.http("/state", { headers: { "envtorch-session": id } });
        assert.equal(res.status, 400, id);
        assert.match((await res.json()).detail, /Malformed envtorch-session/);
      }
    });

    await t.step("envtorch-session: new is only for /reset", async () => {
      const res = await target.http(
        "/step",
        json({ action: { message: "x" } }, { "envtorch-session": "new" }),
      );
      assert.equal(res.status, 400);
      await res.body?.cancel();
    });

    await t.step("DELETE /session closes it; its id is then 404", async () => {
      const res = await target.http("/reset", json({}, { "envtorch-session": "new" }));
      const id = res.headers.get("envtorch-session")!;
      await res.body?.cancel();
      const del = await target.http("/session", {
        method: "DELETE",
        headers: { "envtorch-session": id },
      });
      assert.equal(del.status, 204);
      const after = await target.http("/state", { headers: { "envtorch-session": id } });
      assert.equal(after.status, 404);
      await after.body?.cancel();
    });

    await t.step("an unknown route is a JSON 404", async () => {
      const res = await target.http("/nope");
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { detail: "Not Found" });
    });

    await t.step("GET /ws without an upgrade is 426", async () => {
      const res = await target.http("/ws");
      assert.equal(res.status, 426);
      await res.body?.cancel();
    });
  });

  Deno.test(`HTTP episode rules (${kind})`, async (t) => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels);

    await t.step("step before reset is 409 SESSION_ERROR", async () => {
      const res = await target.http("/step", json({ action: {} }));
      assert.equal(res.status, 409);
      const err = await res.json();
      assert.equal(err.code, "SESSION_ERROR");
      assert.match(err.detail, /send reset before step/);
    });

    await t.step("an env error is 500 EXECUTION_ERROR and the session goes on", async () => {
      const reset = await target.http("/reset", json({}));
      const id = reset.headers.get("envtorch-session");
      await reset.body?.cancel();
      const res = await target.http("/step", json({ action: { fail: "boom" } }));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get("envtorch-session"), id, "an error still names the session");
      const err = await res.json();
      assert.equal(err.code, "EXECUTION_ERROR");
      assert.match(err.detail, /boom/);
      assert.doesNotMatch(JSON.stringify(err), /at .*\.ts:\d+/, "no stack trace");
      const next = await target.http("/step", json({ action: { remember: "a" } }));
      assert.equal(next.status, 200);
      assert.deepEqual((await next.json()).observation.remembered, ["a"]);
    });

    await t.step("step after done is 409 until the next reset", async () => {
      const end = await target.http("/step", json({ action: { done: true } }));
      assert.equal((await end.json()).done, true);
      const after = await target.http("/step", json({ action: {} }));
      assert.equal(after.status, 409);
      assert.match((await after.json()).detail, /Episode is done/);
      await (await target.http("/reset", json({}))).body?.cancel();
      const again = await target.http("/step", json({ action: {} }));
      assert.equal(again.status, 200);
      await again.body?.cancel();
    });
  });

  Deno.test(`WebSocket messages (${kind})`, async (t) => {
    await using target = await echo(kind);
    const ws = await target.ws();

    await t.step("reset gives an observation message", async () => {
      ws.send(JSON.stringify({ type: "reset", data: { episode_id: "ws-1" } }));
      assert.deepEqual(await ws.next(), {
        type: "observation",
        data: {
          observation: {
            echoed_message: "Echo environment ready!",
            message_length: 0,
            metadata: {},
          },
          reward: 0,
          done: false,
        },
      });
    });

    await t.step("step gives an observation with reward 1.3", async () => {
      ws.send(JSON.stringify({ type: "step", data: { message: "Hello, World!" } }));
      const msg = await ws.next();
      assert.equal(msg.type, "observation");
      assert.equal(msg.data.reward, 1.3);
      assert.equal(
        (msg.data.observation as Record<string, unknown>).echoed_message,
        "Hello, World!",
      );
    });

    await t.step("state gives a state message", async () => {
      ws.send(JSON.stringify({ type: "state" }));
      assert.deepEqual(await ws.next(), {
        type: "state",
        data: { episode_id: "ws-1", step_count: 1, seed: null },
      });
    });

    const errors: [string, string | Uint8Array, RegExp][] = [
      ["INVALID_JSON", "not json", /not valid JSON/],
      ["INVALID_JSON", '{"type": "step", "data": {', /not valid JSON/],
      ["INVALID_JSON", new Uint8Array([123, 125]), /Binary frames/],
      ["UNKNOWN_TYPE", JSON.stringify({ type: "launch" }), /Unknown message type "launch"/],
      ["UNKNOWN_TYPE", JSON.stringify({ data: {} }), /Unknown message type/],
      ["VALIDATION_ERROR", JSON.stringify([1, 2]), /JSON object/],
      ["VALIDATION_ERROR", JSON.stringify({ type: "step" }), /data/],
      ["VALIDATION_ERROR", JSON.stringify({ type: "step", data: { message: 1 } }), /message/],
      [
        "VALIDATION_ERROR",
        JSON.stringify({ type: "step", data: { message: "x", y: 1 } }),
        /Unrecognized key/,
      ],
      ["VALIDATION_ERROR", JSON.stringify({ type: "state", extra: 1 }), /Unrecognized key/],
      ["VALIDATION_ERROR", JSON.stringify({ type: "reset", data: { seed: "x" } }), /seed/],
    ];
    for (const [code, message, pattern] of errors) {
      await t.step(
        `${code} for ${String(message).slice(0, 40)}, and the next message is served`,
        async () => {
          ws.send(message);
          const reply = await ws.next();
          assert.equal(reply.type, "error");
          assert.equal(reply.data.code, code);
          assert.match(String(reply.data.message), pattern);
          if (
            code === "VALIDATION_ERROR" && typeof message === "string" && message.includes("data")
          ) {
            assert.ok(Array.isArray(reply.data.errors));
          }
          ws.send(JSON.stringify({ type: "state" }));
          assert.equal((await ws.next()).type, "state");
        },
      );
    }

    await t.step("close closes the connection with no reply", async () => {
      ws.send(JSON.stringify({ type: "close" }));
      const { code } = await ws.closed;
      assert.equal(code, 1000);
      await eventually("the session is freed", () => target.app.sessions.size === 0);
    });
  });

  Deno.test(`WebSocket episode rules (${kind})`, async () => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels);
    const ws = await target.ws();
    ws.send(JSON.stringify({ type: "step", data: {} }));
    const before = await ws.next();
    assert.equal(before.data.code, "SESSION_ERROR");
    ws.send(JSON.stringify({ type: "reset" }));
    assert.equal((await ws.next()).type, "observation");
    ws.send(JSON.stringify({ type: "step", data: { fail: "kaput" } }));
    const failed = await ws.next();
    assert.equal(failed.data.code, "EXECUTION_ERROR");
    assert.match(String(failed.data.message), /kaput/);
    ws.send(JSON.stringify({ type: "step", data: { done: true } }));
    assert.equal((await ws.next()).data.done, true);
    ws.send(JSON.stringify({ type: "step", data: {} }));
    assert.match(String((await ws.next()).data.message), /Episode is done/);
    ws.close();
    await ws.closed;
  });

  for (const transport of ["websocket", "http"] as const) {
    Deno.test(`typed client over ${transport} (${kind})`, async (t) => {
      await using target = await echo(kind);
      const env = new EchoEnv(target.client(transport));

      await t.step("reset, step, state", async () => {
        const first = await env.reset({ seed: 3, episode_id: "typed" });
        assert.equal(first.observation.echoed_message, "Echo environment ready!");
        assert.equal(first.done, false);
        const result = await env.step({ message: "Hello, World!" });
        assert.equal(result.observation.echoed_message, "Hello, World!");
        assert.equal(result.observation.message_length, 13);
        assert.equal(result.reward, 1.3);
        assert.equal(result.observation.reward, 1.3);
        assert.deepEqual(result.observation.metadata, {
          original_message: "Hello, World!",
          step: 1,
        });
        const state = await env.state();
        assert.deepEqual(state, { episode_id: "typed", step_count: 1, seed: 3 });
      });

      await t.step("a bad action raises ValidationError with the server's message", async () => {
        await assert.rejects(
          env.step({ message: 42 } as unknown as { message: string }),
          (e: unknown) => {
            assert.ok(e instanceof ValidationError);
            assert.equal(e.code, "VALIDATION_ERROR");
            assert.match(e.message, /message/);
            return true;
          },
        );
        // The session survives.
        assert.equal((await env.step({ message: "ok" })).observation.echoed_message, "ok");
      });

      await t.step("close twice is fine; calls after close fail clearly", async () => {
        await env.close();
        await env.close();
        await assert.rejects(env.state(), /Client is closed/);
      });
      await eventually(
        "closing the client frees its session",
        () => target.app.sessions.size === 0,
      );
    });
  }

  Deno.test(`typed client errors (${kind})`, async (t) => {
    await using target = await startTarget(kind, () => new KnobEnv(), knobModels, {
      maxSessions: 1,
    });
    await t.step("step before reset raises SessionError", async () => {
      await using env = new GenericEnvClient(target.client("websocket"));
      await assert.rejects(env.step({}), SessionError);
    });
    await t.step("a full server raises CapacityError with the counts", async () => {
      await using first = new GenericEnvClient(target.client("websocket"));
      await first.state();
      await using second = new GenericEnvClient(target.client("websocket"));
      await assert.rejects(second.reset(), (e: unknown) => {
        assert.ok(e instanceof CapacityError);
        assert.equal(e.maxSessions, 1);
        assert.equal(e.activeSessions, 1);
        return true;
      });
    });
  });
}
