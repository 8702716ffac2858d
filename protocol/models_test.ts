import assert from "node:assert/strict";
import { z } from "npm:zod@4.6.7";
import { Action, jsonSchemas, Observation, serializeObservation, State } from "./models.ts";

const Move = Action.extend({ direction: z.enum(["left", "right"]) });
const Seen = Observation.extend({ position: z.number() });
const Where = State.extend({ position: z.number().default(0) });

Deno.test("an extended action keeps rejecting unknown fields", () => {
  assert.deepEqual(Move.parse({ direction: "left" }), { direction: "left" });
  const result = Move.safeParse({ direction: "left", jump: true });
  assert.equal(result.success, false);
  assert.equal(result.error?.issues[0]?.code, "unrecognized_keys");
});

Deno.test("an observation gets done=false, reward=null and metadata={} by default", () => {
  assert.deepEqual(Seen.parse({ position: 3 }), {
    position: 3,
    done: false,
    reward: null,
    metadata: {},
  });
  assert.equal(Seen.safeParse({ position: 3, extra: 1 }).success, false);
  assert.equal(Seen.safeParse({ position: 3, reward: "high" }).success, false);
  assert.equal(Seen.parse({ position: 3, reward: true }).reward, true);
});

Deno.test("a state allows env fields and checks the step count", () => {
  assert.deepEqual(Where.parse({}), { episode_id: null, step_count: 0, position: 0 });
  assert.equal(Where.parse({ extra: "kept" }).extra, "kept");
  assert.equal(Where.safeParse({ step_count: -1 }).success, false);
  assert.equal(Where.safeParse({ step_count: 1.5 }).success, false);
});

Deno.test("serializeObservation moves reward and done up and keeps metadata inside", () => {
  const wire = serializeObservation(
    Seen.parse({ position: 2, reward: 0.5, done: true, metadata: { a: 1 } }),
  );
  assert.deepEqual(wire, {
    observation: { position: 2, metadata: { a: 1 } },
    reward: 0.5,
    done: true,
  });
});

Deno.test("jsonSchemas gives the env's own models, input shape for the action", () => {
  const schemas = jsonSchemas({ action: Move, observation: Seen, state: Where }) as Record<
    string,
    { properties: Record<string, unknown>; required?: string[] }
  >;
  assert.deepEqual(schemas.action!.required, ["direction"]);
  assert.ok(schemas.observation!.properties.position);
  assert.ok(schemas.state!.properties.position, "the env's State subclass, not the base");
});
