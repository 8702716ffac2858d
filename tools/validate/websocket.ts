/**
 * The WebSocket checks: reset, step and state on one `/ws` session, every
 * error code with the session going on, close (once and twice), a step
 * before reset, and two sessions that must not share state.
 *
 * @module
 */
import { firstDifference } from "../json_diff.ts";
import { isPlainObject } from "../json_schema.ts";
import type { ProbeSocket } from "../probe.ts";
import { needAction, needInvalid } from "./basics.ts";
import type { Context } from "./context.ts";
import { determinism } from "./determinism.ts";
import {
  describeEvent,
  errorText,
  expectError,
  fail,
  isCapacity,
  type Json,
  short,
  show,
  skip,
} from "./helpers.ts";

/** Runs the WebSocket checks (and the determinism check, on the same session). */
export async function websocketChecks(ctx: Context): Promise<void> {
  let ws: ProbeSocket | undefined;
  await ctx.check("ws.reset", "WebSocket reset gives an observation message", async () => {
    const opened = await ctx.openSession({ type: "reset", data: {} });
    ws = opened.socket;
    ctx.expectObservation(opened.event, "WebSocket reset", "reset");
    return "";
  });
  const live = () => ws && !ws.ended ? ws : skip("the WebSocket session could not be opened");
  await ctx.check("ws.step", "WebSocket step gives an observation message", async () => {
    const action = needAction(ctx);
    ctx.expectObservation(
      await live().request({ type: "step", data: action }),
      "WebSocket step",
    );
    return "";
  });
  await ctx.check("ws.state", "WebSocket state gives a state message", async () => {
    const data = ctx.expectState(await live().request({ type: "state" }), "WebSocket state");
    return `step_count ${data.step_count}`;
  });
  const errorCheck = (
    id: string,
    title: string,
    code: string,
    message: () => unknown,
    options: { errors?: boolean; field?: string } = {},
  ) =>
    ctx.check(id, title, async () => {
      const socket = live();
      const event = await socket.request(message());
      const data = expectError(event, code, title);
      if (options.errors && !Array.isArray(data.errors)) {
        fail(`the ${code} error has no "errors" list saying where and why`);
      }
      if (options.field && !JSON.stringify(data).includes(options.field)) {
        fail(
          `the ${code} error does not name the field ${options.field}: ${
            short(JSON.stringify(data))
          }`,
        );
      }
      await ctx.stillServes(socket, `after ${code}`);
      return short(String(data.message), 80);
    });
  await errorCheck(
    "ws.invalid_json",
    "a message that is not JSON gives INVALID_JSON, and the session goes on",
    "INVALID_JSON",
    () => '{"type": "state",',
  );
  await errorCheck(
    "ws.unknown_type",
    "an unknown message type gives UNKNOWN_TYPE, and the session goes on",
    "UNKNOWN_TYPE",
    () => ({ type: "launch_missiles" }),
  );
  await errorCheck(
    "ws.bad_action",
    "a step with an invalid action gives VALIDATION_ERROR with errors, and the session goes on",
    "VALIDATION_ERROR",
    () => ({ type: "step", data: needInvalid(ctx).value }),
    { errors: true, field: ctx.invalid?.field },
  );
  await errorCheck(
    "ws.unknown_key",
    "a message with an unknown key gives VALIDATION_ERROR, and the session goes on",
    "VALIDATION_ERROR",
    () => ({ type: "state", envtorch_validate_unknown_key: 1 }),
    { errors: true },
  );
  await ctx.check(
    "determinism",
    "the same seed and actions give the same observations, step by step",
    () => determinism(ctx, live()),
  );
  await ctx.check("ws.close", "a close message ends the connection with no reply", async () => {
    const event = await live().request({ type: "close" }, 5);
    if (event.kind === "message") fail(`the server replied to close: ${short(event.raw)}`);
    return `close code ${(event as { code: number }).code}`;
  });
  if (ws && !ws.ended) await ws.close();

  await ctx.check(
    "ws.close_twice",
    "two close messages in a row end the connection cleanly",
    async () => {
      const { socket, event } = await ctx.openSession({ type: "state" });
      if (event.kind !== "message" || (event.message as Json)?.type !== "state") {
        fail(`a new connection's state message got ${describeEvent(event)}`);
      }
      socket.send({ type: "close" });
      socket.send({ type: "close" });
      const end = await socket.next(5);
      if (end.kind === "message") fail(`the server replied to close: ${short(end.raw)}`);
      return `close code ${(end as { code: number }).code}`;
    },
  );
  await ctx.check(
    "ws.step_before_reset",
    "a step before any reset is refused clearly or served",
    () => stepBeforeReset(ctx),
  );
  await ctx.check(
    "ws.isolation",
    "two WebSocket sessions do not share state",
    () => isolation(ctx),
  );
}

async function stepBeforeReset(ctx: Context): Promise<string> {
  const action = needAction(ctx);
  const { socket, event } = await ctx.openSession({ type: "step", data: action });
  try {
    if (event.kind === "closed") {
      fail(`the server closed the connection (code ${event.code}) instead of answering`);
    }
    const message = event.kind === "message" ? event.message as Json : undefined;
    let what: string;
    if (message?.type === "error") {
      const data = isPlainObject(message.data) ? message.data : {};
      if (typeof data.code !== "string" || typeof data.message !== "string") {
        fail(
          `the error has no code and message: ${short(event.kind === "message" ? event.raw : "")}`,
        );
      }
      what = `refused: ${data.code} ${short(String(data.message), 60)}`;
    } else {
      ctx.expectObservation(event, "step before reset");
      what = "served the step";
    }
    await ctx.stillServes(socket, "after a step before reset");
    return what;
  } finally {
    await socket.close();
  }
}

async function isolation(ctx: Context): Promise<string> {
  const action = needAction(ctx);
  const a = await ctx.openSession({ type: "reset", data: {} });
  try {
    ctx.expectObservation(a.event, "session A reset", "reset");
    for (let i = 0; i < 2; i++) {
      ctx.expectObservation(
        await a.socket.request({ type: "step", data: action }),
        "session A step",
      );
    }
    const before = ctx.expectState(await a.socket.request({ type: "state" }), "session A state");
    const b = await ctx.openSession({ type: "reset", data: {} }, { waitMs: 0 });
    try {
      if (isCapacity(b.event)) {
        skip(`the server serves one session at a time (${errorText(b.event)})`);
      }
      ctx.expectObservation(b.event, "session B reset", "reset");
      ctx.expectObservation(
        await b.socket.request({ type: "step", data: action }),
        "session B step",
      );
      const stateB = ctx.expectState(await b.socket.request({ type: "state" }), "session B state");
      const after = ctx.expectState(await a.socket.request({ type: "state" }), "session A state");
      const d = firstDifference(before, after);
      if (d) {
        fail(
          `session B's reset and step changed session A's state at ${d.path}: ${
            show(d.expected)
          } became ${show(d.actual)}`,
        );
      }
      if (before.step_count === 2 && stateB.step_count !== 1) {
        fail(`session B reports step_count ${stateB.step_count} after its reset and one step`);
      }
      if (typeof before.episode_id === "string" && before.episode_id === stateB.episode_id) {
        fail(`both sessions report episode_id ${before.episode_id}`);
      }
      return `A: step_count ${before.step_count}, B: step_count ${stateB.step_count}`;
    } finally {
      await b.socket.close();
    }
  } finally {
    await a.socket.close();
  }
}
