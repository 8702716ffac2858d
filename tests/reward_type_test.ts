/**
 * A typed client's reward is `number | null`, so the everyday
 * `total += r.reward ?? 0` type-checks (this file compiles only if it does);
 * a boolean reward from the wire becomes 1 or 0 there, while the generic
 * client keeps the wire's value.
 */
import assert from "node:assert/strict";
import {
  createApp,
  EchoEnv,
  EchoEnvironment,
  echoModels,
  Environment,
  GenericEnvClient,
  inProcess,
  Observation,
  State,
  type StepResult,
} from "../mod.ts";

Deno.test("typed client: total += r.reward ?? 0 compiles and sums the rewards", async () => {
  await using app = createApp(() => new EchoEnvironment(), echoModels);
  await using env = new EchoEnv({ transport: inProcess(app) });
  await env.reset();
  let total = 0;
  for (const message of ["hi", "hello"]) {
    const r = await env.step({ message });
    total += r.reward ?? 0;
    const reward: number | null = r.reward;
    assert.equal(typeof reward, "number");
  }
  assert.equal(Math.round(total * 10) / 10, 0.7);
});

/** An env whose reward is a boolean, as some OpenEnv envs send. */
class BooleanRewardEnv extends Environment {
  #state: State = { episode_id: null, step_count: 0 };
  reset(): Observation {
    return { done: false, reward: false, metadata: {} };
  }
  step(): Observation {
    this.#state.step_count++;
    return { done: false, reward: true, metadata: {} };
  }
  get state(): State {
    return this.#state;
  }
}

Deno.test("a boolean reward is 1/0 in a typed client and kept as sent by GenericEnvClient", async () => {
  const models = { action: echoModels.action, observation: Observation, state: State };
  await using app = createApp(() => new BooleanRewardEnv(), models);
  await using typed = new EchoEnv({ transport: inProcess(app), validate: false });
  assert.equal((await typed.reset()).reward, 0);
  assert.equal((await typed.step({ message: "x" })).reward, 1);
  await using generic = new GenericEnvClient({ transport: inProcess(app) });
  assert.equal((await generic.reset()).reward, false);
  const r: StepResult = await generic.step({ message: "x" });
  assert.equal(r.reward, true);
});
