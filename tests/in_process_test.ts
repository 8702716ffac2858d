/**
 * The in-process transport keeps the env and the client apart: no object
 * crosses from one to the other, so neither can change what the other
 * holds, as over a socket.
 */
import assert from "node:assert/strict";
import { z } from "npm:zod@4.6.7";
import {
  Action,
  createApp,
  Environment,
  GenericEnvClient,
  inProcess,
  Observation,
  State,
} from "../mod.ts";

const LogObservation = Observation.extend({ log: z.array(z.string()) });
type LogObservation = z.infer<typeof LogObservation>;

/** Keeps the objects it returned and the actions it got, and changes them later. */
class MeddlingEnv extends Environment<Action & { note?: unknown }, LogObservation, State> {
  kept: { metadata: Record<string, unknown> }[] = [];
  actions: Record<string, unknown>[] = [];
  reset(): LogObservation {
    return this.#observe();
  }
  step(action: Action & { note?: unknown }): LogObservation {
    this.actions.push(action);
    (action as { note: unknown }).note = "changed by the env";
    for (const k of this.kept) (k.metadata.history as string[]).push("changed later");
    return this.#observe();
  }
  get state(): State {
    return { episode_id: null, step_count: 0 };
  }
  #observe(): LogObservation {
    const obs = { log: ["a"], metadata: { history: ["first"] }, done: false, reward: 0 };
    this.kept.push(obs);
    return obs;
  }
}

for (const validate of [true, false]) {
  Deno.test(`in-process: the env cannot change what the client holds (validate: ${validate})`, async () => {
    const env = new MeddlingEnv();
    await using app = createApp(() => env, {
      action: z.looseObject(Action.shape),
      observation: LogObservation,
      state: State,
    });
    await using client = new GenericEnvClient({ transport: inProcess(app), validate });
    const first = await client.reset();
    const action = { note: "mine" };
    await client.step(action);
    assert.deepEqual(first.observation.metadata, { history: ["first"] }, "the reply was copied");
    assert.deepEqual(action, { note: "mine" }, "the action was copied");
    assert.equal(env.actions.length, 1);
  });
}
