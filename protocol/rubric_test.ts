import assert from "node:assert/strict";
import {
  allOf,
  applyRubric,
  atEpisodeEnd,
  evaluate,
  gate,
  resetRubric,
  rubric,
  type RubricInput,
  trajectory,
  weightedSum,
} from "./rubric.ts";

type In = RubricInput<{ code: string }, { stdout: string }>;

function input(stdout: string, step = 1, done = false): In {
  return { action: { code: "" }, observation: { stdout }, step, done };
}

Deno.test("weightedSum adds weighted parts and reports each under its name", async () => {
  const r = weightedSum<In>({
    says_hi: { rubric: (i) => (i.observation.stdout.includes("hi") ? 1 : 0), weight: 0.75 },
    short: { rubric: (i) => (i.observation.stdout.length < 4 ? 1 : 0), weight: 0.25 },
  });
  assert.deepEqual(await evaluate(r, input("hi")), {
    value: 1,
    parts: { says_hi: 1, short: 1 },
  });
  assert.deepEqual(await evaluate(r, input("hi there")), {
    value: 0.75,
    parts: { says_hi: 1, short: 0 },
  });
});

Deno.test("nested containers report dot-separated part paths", async () => {
  const r = weightedSum<In>({
    correct: { rubric: allOf({ runs: () => 1, tests: () => 1 }), weight: 2 },
    style: { rubric: rubric(() => 0.5, { name: "length" }), weight: 1 },
  });
  assert.deepEqual(await evaluate(r, input("")), {
    value: 2.5,
    parts: { correct: 1, "correct.runs": 1, "correct.tests": 1, style: 0.5, "style.length": 0.5 },
  });
});

Deno.test("allOf is 1 only when every part reaches the threshold, and stops at the first miss", async () => {
  let scored = 0;
  const later = () => {
    scored++;
    return 1;
  };
  assert.deepEqual(await evaluate(allOf({ a: () => 1, b: () => 0.4, c: later }), input("")), {
    value: 0,
    parts: { a: 1, b: 0.4 },
  });
  assert.equal(scored, 0);
  const lenient = allOf({ a: () => 1, b: () => 0.4, c: later }, { threshold: 0.4 });
  assert.equal((await evaluate(lenient, input(""))).value, 1);
  assert.equal(scored, 1);
});

Deno.test("gate passes the value through at the threshold and 0 below", async () => {
  assert.equal((await evaluate(gate(() => 0.99), input(""))).value, 0);
  assert.equal((await evaluate(gate(() => 1), input(""))).value, 1);
  assert.equal((await evaluate(gate(() => 0.6, { threshold: 0.5 }), input(""))).value, 0.6);
});

Deno.test("atEpisodeEnd scores only the last step", async () => {
  const r = atEpisodeEnd<In>((i) => i.step * 10, { intermediate: -0.1 });
  assert.equal((await evaluate(r, input("", 1))).value, -0.1);
  assert.equal((await evaluate(r, input("", 2, true))).value, 20);
});

Deno.test("trajectory sees the whole episode once it ends, and reset forgets it", async () => {
  const r = trajectory<In>((steps) => steps.filter((s) => s.observation.stdout === "ok").length);
  assert.equal((await evaluate(r, input("ok"))).value, 0);
  assert.equal((await evaluate(r, input("no"))).value, 0);
  assert.equal((await evaluate(r, input("ok", 3, true))).value, 2);
  resetRubric(r);
  assert.equal((await evaluate(r, input("ok", 1, true))).value, 1);
});

Deno.test("reset reaches rubrics inside containers", async () => {
  const inner = trajectory<In>((steps) => steps.length);
  const r = weightedSum<In>({ t: { rubric: allOf({ inner }, { threshold: 0 }), weight: 1 } });
  await evaluate(r, input(""));
  resetRubric(r);
  assert.deepEqual((await evaluate(inner, input("", 1, true))).value, 1);
});

Deno.test("a rubric that gives NaN or a non-number is an error, not a reward", async () => {
  await assert.rejects(() => evaluate(() => NaN, input("")), /not a finite number/);
  await assert.rejects(
    () => evaluate(weightedSum({ a: { rubric: () => Infinity, weight: 1 } }), input("")),
    /Rubric gave Infinity, not a finite number/,
  );
  assert.throws(() => weightedSum({ a: { rubric: () => 1, weight: NaN } }), /weight of a/);
});

Deno.test("applyRubric sets the reward and metadata.rubric on a copy", () => {
  const observation = { done: false, reward: null, metadata: { notes: [] as string[] } };
  const scored = applyRubric(observation, { value: 0.5, parts: { tests: 0.5 } });
  assert.deepEqual(scored, {
    done: false,
    reward: 0.5,
    metadata: { notes: [], rubric: { tests: 0.5 } },
  });
  assert.equal(observation.reward, null);
});

Deno.test("a rubric runs on the trainer's side on a client observation alone", async () => {
  // What a client receives from any env, here the echo env's observation shape.
  const received = { echoed_message: "hello", done: false, reward: null, metadata: {} };
  const r = weightedSum<RubricInput<unknown, typeof received>>({
    polite: {
      rubric: (i) => (i.observation.echoed_message.startsWith("hello") ? 1 : 0),
      weight: 1,
    },
  });
  const scored = applyRubric(
    received,
    await evaluate(r, { action: null, observation: received, step: 1, done: false }),
  );
  assert.deepEqual([scored.reward, scored.metadata], [1, { rubric: { polite: 1 } }]);
});
