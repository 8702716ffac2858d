/**
 * A coding episode on the host, no Docker: the server runs as a child
 * process on a unix socket and each session gets a locked-down Python
 * worker (its own uid when the server is root). Shows state persisting
 * across steps, an error with its traceback, a timeout, and a task whose
 * tests decide the reward.
 *
 * Run: deno run -A examples/coding_process.ts
 *
 * @module
 */
import { CodingEnv } from "../envs/coding/mod.ts";

await using env = await CodingEnv.fromProcess();
const reset = await env.reset();
const isolation = reset.observation.metadata.isolation as { uid_dropped: boolean };
console.log(`worker under its own uid: ${isolation.uid_dropped}`);

// State persists: variables, functions and imports live on between steps.
await env.step({ code: "import math\nradius = 2.0\ndef area(r):\n    return math.pi * r ** 2" });
const area = await env.step({ code: "round(area(radius), 3)" });
console.log(`area: ${area.observation.stdout.trim()} (reward ${area.reward})`);

// An error: the traceback is on stderr, exit code 1, reward -1; the state survives.
const error = await env.step({ code: "radius / 0" });
console.log(`error: exit ${error.observation.exit_code}, reward ${error.reward}`);
console.log(error.observation.stderr.trim().split("\n").at(-1));

// A timeout: the loop is interrupted after 1 s, and the state is still there.
const loop = await env.step({ code: "while True: pass", timeout_s: 1 });
console.log(
  `timeout: timed_out ${loop.observation.timed_out}, state_lost ${loop.observation.state_lost}`,
);
console.log(`radius is still ${(await env.step({ code: "radius" })).observation.stdout.trim()}`);

// A task: the reward is the fraction of its tests that pass after each step.
await env.reset({
  task: { prompt: "Write fib(n)", tests: ["assert fib(0) == 0", "assert fib(10) == 55"] },
});
const first = await env.step({ code: "def fib(n):\n    return n" });
console.log(`task, first try: reward ${first.reward}, done ${first.done}`);
const fixed = await env.step({
  code:
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
});
console.log(`task, second try: reward ${fixed.reward}, done ${fixed.done}`);
