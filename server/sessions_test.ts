import assert from "node:assert/strict";
import { z } from "npm:zod@4.6.7";
import { Environment } from "../protocol/environment.ts";
import { defineTool, type Tool } from "../protocol/tools.ts";
import { Action, type EnvModels, Observation, State } from "../protocol/models.ts";
import { Session } from "./sessions.ts";

/** An env whose one tool waits for its signal (or answers at once with `quick`). */
class WaitingEnv extends Environment {
  reset() {
    return { done: false, reward: null, metadata: {} };
  }
  step() {
    return { done: false, reward: null, metadata: {} };
  }
  get state() {
    return { episode_id: null, step_count: 0 };
  }
  override get tools(): readonly Tool[] {
    return [
      defineTool({
        name: "wait",
        description: "Waits until its call is cancelled, or answers at once",
        input: z.strictObject({ quick: z.boolean().optional() }),
        handler: ({ quick }, { signal }) =>
          quick ? "done" : new Promise((_, reject) => {
            signal!.addEventListener("abort", () => reject(signal!.reason), { once: true });
          }),
      }),
    ];
  }
}

const models: EnvModels = { action: Action, observation: Observation, state: State };

const callWait = (args: Record<string, unknown>) => ({
  type: "call_tool",
  tool_name: "wait",
  arguments: args,
});

Deno.test("a tool call's timeout_s and the session's close cancel it", async (t) => {
  const session = new Session("s", "ws", new WaitingEnv(), models);
  await session.reset({});
  await t.step("the call is cancelled when its time is up", async () => {
    const result = await session.step(callWait({}), { timeoutS: 0.05 });
    assert.deepEqual(result.observation.error, {
      error_type: "timeout",
      message: "Tool wait was cancelled: The operation was aborted due to timeout",
    });
  });
  await t.step(
    "a call that answers in time gives its value",
    async () => {
      const result = await session.step(callWait({ quick: true }), { timeoutS: 60 });
      assert.equal((result.observation.result as { data: unknown }).data, "done");
      const direct = await session.callTool("wait", { quick: true }, { timeout_s: 60 });
      assert.equal(direct.data, "done");
    },
  );
  await t.step("closing the session cancels a call under way", async () => {
    const call = session.step(callWait({}), { timeoutS: 60 });
    await session.close("closed by the test");
    const result = await call;
    assert.deepEqual(result.observation.error, {
      error_type: "timeout",
      message: "Tool wait was cancelled: Session closed by the test",
    });
  });
});
