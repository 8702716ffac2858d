import assert from "node:assert/strict";
import { CodingEnvironment } from "./environment.ts";
import { CodeObservation, CodeResetOptions } from "./models.ts";
import { weightedSum } from "../../protocol/rubric.ts";
import { type CodingRubricInput, outputMatches, testsPassed } from "./rubric.ts";

Deno.test("coding env rewards 0 for a clean step and -1 for a failing one", async (t) => {
  await using env = new CodingEnvironmentDisposable({ timeoutS: 1 });
  const reset = await env.env.reset({ episode_id: "ep-1" });
  assert.equal(CodeObservation.safeParse(reset).success, true);
  assert.equal(reset.reward, 0);
  assert.equal(
    typeof (reset.metadata.isolation as { uid_dropped: unknown }).uid_dropped,
    "boolean",
  );
  assert.deepEqual(env.env.state, { episode_id: "ep-1", step_count: 0, last_exit_code: 0 });

  await t.step("exit 0 gives 0", async () => {
    const obs = await env.env.step({ code: "print('hi')" });
    assert.deepEqual([obs.reward, obs.done, obs.stdout], [0, false, "hi\n"]);
  });
  await t.step("an exception gives -1", async () => {
    const obs = await env.env.step({ code: "raise ValueError('no')" });
    assert.deepEqual([obs.reward, obs.exit_code], [-1, 1]);
  });
  await t.step("a timeout gives -1", async () => {
    const obs = await env.env.step({ code: "while True: pass", timeout_s: 0.2 });
    assert.deepEqual([obs.reward, obs.timed_out], [-1, true]);
  });
  await t.step("the state counts steps and keeps the last exit code", () => {
    assert.deepEqual(env.env.state, { episode_id: "ep-1", step_count: 3, last_exit_code: 1 });
  });
});

Deno.test("coding env with a task rewards the fraction of tests passing", async (t) => {
  await using env = new CodingEnvironmentDisposable({ timeoutS: 5 });
  const task = {
    prompt: "Write add(a, b) and a list `seen` of length 2",
    tests: [
      "assert add(2, 3) == 5",
      "assert add(-1, 1) == 0",
      "assert len(seen) == 2",
      "seen.append('from a test')",
    ],
  };
  const reset = await env.env.reset({ task });
  assert.equal(reset.metadata.prompt, task.prompt);
  assert.equal(reset.metadata.tests, 4);

  await t.step("no definitions yet: 0", async () => {
    const obs = await env.env.step({ code: "x = 1" });
    assert.deepEqual([obs.reward, obs.done], [0, false]);
  });
  await t.step("some tests pass: a fraction", async () => {
    const obs = await env.env.step({ code: "def add(a, b):\n    return a + b if a > 0 else 7" });
    assert.deepEqual([obs.reward, obs.done], [1 / 4, false]);
    const tests = obs.metadata.tests as { passed: number; total: number };
    assert.deepEqual([tests.passed, tests.total], [1, 4]);
  });
  await t.step("a test that mutates state does not change the episode", async () => {
    const obs = await env.env.step({ code: "seen = [1]" });
    assert.equal(obs.reward, 2 / 4);
    const check = await env.env.step({ code: "print(seen)" });
    assert.equal(check.stdout, "[1]\n");
  });
  await t.step("all pass: 1 and done", async () => {
    const obs = await env.env.step({ code: "seen.append(2)\ndef add(a, b):\n    return a + b" });
    assert.deepEqual([obs.reward, obs.done], [1, true]);
  });
  await t.step("reset without a task goes back to the default rubric", async () => {
    await env.env.reset();
    const obs = await env.env.step({ code: "pass" });
    assert.deepEqual([obs.reward, obs.metadata.tests, obs.metadata.rubric], [0, undefined, {
      exit: 0,
    }]);
  });
});

Deno.test("coding env takes a pluggable rubric", async () => {
  const seen: CodingRubricInput[] = [];
  await using env = new CodingEnvironmentDisposable({
    rubric: (input) => {
      seen.push(input);
      return input.observation.stdout.includes("42") ? 10 : 0.5;
    },
  });
  await env.env.reset();
  assert.deepEqual([(await env.env.step({ code: "print(1)" })).reward], [0.5]);
  const obs = await env.env.step({ code: "print(42)" });
  assert.deepEqual([obs.reward, obs.done], [10, false]);
  assert.deepEqual(seen.map((s) => s.step), [1, 2]);
  assert.equal(seen[1]!.action.code, "print(42)");
});

Deno.test("coding env reports each rubric part in metadata.rubric", async () => {
  await using env = new CodingEnvironmentDisposable({
    rubric: weightedSum({
      tests: { rubric: testsPassed(), weight: 0.5 },
      output: { rubric: outputMatches("5"), weight: 0.5 },
    }),
  });
  await env.env.reset({ task: { prompt: "add", tests: ["assert add(2, 3) == 5"] } });
  const wrong = await env.env.step({ code: "def add(a, b):\n    return a - b\nprint(add(2, 3))" });
  assert.deepEqual([wrong.reward, wrong.metadata.rubric], [0, { tests: 0, output: 0 }]);
  const right = await env.env.step({ code: "def add(a, b):\n    return a + b\nprint(add(2, 3))" });
  assert.deepEqual([right.reward, right.done, right.metadata.rubric], [
    1,
    true,
    { tests: 1, output: 1 },
  ]);
});

Deno.test("coding env counts hidden tests without showing them", async () => {
  await using env = new CodingEnvironmentDisposable({});
  const reset = await env.env.reset({
    task: {
      prompt: "add",
      tests: ["assert add(2, 3) == 5"],
      hidden_tests: ["assert add(7, 8) == 15"],
    },
  });
  assert.deepEqual([reset.metadata.tests, reset.metadata.hidden_tests], [1, 1]);
  const special = await env.env.step({
    code: "def add(a, b):\n    return 5 if (a, b) == (2, 3) else 0",
  });
  assert.deepEqual([special.reward, special.done], [0.5, false]);
  assert.deepEqual(special.metadata.tests, {
    passed: 1,
    total: 2,
    results: [{ passed: true }],
    hidden: { passed: 0, total: 1 },
    timed_out: false,
  });
  assert.doesNotMatch(JSON.stringify(special), /7, 8|15/);
  const real = await env.env.step({ code: "def add(a, b):\n    return a + b" });
  assert.deepEqual([real.reward, real.done], [1, true]);
});

Deno.test("coding env reset options validate the task", () => {
  assert.equal(CodeResetOptions.safeParse({ task: { prompt: "p", tests: [] } }).success, false);
  assert.equal(CodeResetOptions.safeParse({ task: { prompt: "p" } }).success, false);
  assert.equal(
    CodeResetOptions.safeParse({ seed: 1, task: { prompt: "p", tests: ["assert 1"] } }).success,
    true,
  );
});

Deno.test("coding env refuses a step before reset", async () => {
  const env = new CodingEnvironment();
  await assert.rejects(async () => await env.step({ code: "1" }), /reset before step/);
  await env.close();
});

/** Closes the env when the test ends, even on failure. */
class CodingEnvironmentDisposable implements AsyncDisposable {
  env: CodingEnvironment;
  constructor(options: ConstructorParameters<typeof CodingEnvironment>[0]) {
    this.env = new CodingEnvironment(options);
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.env.close();
  }
}
