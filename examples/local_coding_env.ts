/**
 * The coding env in its real deployment: the `coding-env` image started as a
 * hardened container (a root server keeping only CAP_SETUID, CAP_SETGID and
 * CAP_KILL, each session's Python worker under a uid of its own, read-only
 * root, no network, reached on a unix socket). Shows state persisting across
 * steps, an error with its traceback, and a timeout; then the container is
 * removed.
 *
 * Needs: docker, and the image (`deno task images`, or `envtorch build coding`).
 *
 * Run: deno run -A examples/local_coding_env.ts
 *
 * @module
 */
import { CodingEnv } from "../envs/coding/mod.ts";

await using env = await CodingEnv.fromDockerImage("coding-env:latest");
console.log(`server: ${env.baseUrl}`);

const reset = await env.reset();
const isolation = reset.observation.metadata.isolation as {
  worker_uid: number;
  network_blocked: boolean;
};
console.log(`worker uid ${isolation.worker_uid}, network blocked: ${isolation.network_blocked}`);

// State persists: variables, functions and imports live on between steps.
await env.step({ code: "import math\nradius = 2.0\ndef area(r):\n    return math.pi * r ** 2" });
const area = await env.step({ code: "round(area(radius), 3)" });
console.log(`area: ${area.observation.stdout.trim()} (reward ${area.reward})`);

// An error: the traceback is on stderr, exit code 1, reward -1; the state survives.
const error = await env.step({ code: "import socket\nsocket.create_connection(('1.1.1.1', 53))" });
console.log(`error: exit ${error.observation.exit_code}, reward ${error.reward}`);
console.log(error.observation.stderr.trim().split("\n").at(-1));

// A timeout: the loop is interrupted after 1 s, and the state is still there.
const loop = await env.step({ code: "while True: pass", timeout_s: 1 });
console.log(
  `timeout: timed_out ${loop.observation.timed_out}, state_lost ${loop.observation.state_lost}`,
);
console.log(`radius is still ${(await env.step({ code: "radius" })).observation.stdout.trim()}`);

await env.close();
console.log("closed: the container is stopped and removed");
