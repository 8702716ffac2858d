/**
 * The interactive commands: `envtorch step` (one episode from flags) and
 * `envtorch repl` (commands piped on stdin), their output, and the text
 * they give for an action the server refuses.
 */
import assert from "node:assert/strict";
import { runEnvtorch } from "./helpers/cli_run.ts";

Deno.test("step echo: reset, each action, the state", async () => {
  const { code, stdout } = await runEnvtorch([
    "step",
    "echo",
    "--seed",
    "3",
    "--action",
    '{"message": "Hello, World!"}',
    "--action",
    '{"message": "hi"}',
    "--state",
  ]);
  assert.equal(code, 0);
  const lines = stdout.trim().split("\n");
  assert.match(
    lines[0]!,
    /^reset\s+reward 0\s+done false\s+\{"echoed_message":"Echo environment ready!"/,
  );
  assert.match(
    lines[1]!,
    /^step 1\s+reward 1\.3\s+done false\s+\{"echoed_message":"Hello, World!"/,
  );
  assert.match(lines[2]!, /^step 2\s+reward 0\.2\s+done false/);
  assert.match(lines[3]!, /^state\s+\{"episode_id":"[0-9a-f-]{36}","step_count":2,"seed":3\}$/);
});

Deno.test("step with no --action uses the env's exampleAction; --json gives JSON lines", async () => {
  const { code, stdout } = await runEnvtorch(["step", "echo", "--json", "--transport", "http"]);
  assert.equal(code, 0);
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.call), ["reset", "step"]);
  assert.deepEqual(lines[1], {
    call: "step",
    step: 1,
    observation: {
      echoed_message: "Hello, World!",
      message_length: 13,
      metadata: { original_message: "Hello, World!", step: 1 },
    },
    reward: 1.3,
    done: false,
  });
});

Deno.test("step: a refused action says which field, what was wrong, what is expected", async (t) => {
  await t.step("envtorch server", async () => {
    const { code, stdout, stderr } = await runEnvtorch([
      "step",
      "echo",
      "--action",
      '{"message": "ok"}',
      "--action",
      '{"message": 5, "extra": true}',
    ]);
    assert.equal(code, 1);
    assert.match(stdout, /^step 1\s+reward 0\.2/m, "the steps before it are printed");
    assert.match(
      stderr,
      /The server refused action 2 \{"message":5,"extra":true\} \(VALIDATION_ERROR, HTTP 422\):/,
    );
    assert.match(stderr, /^ {2}message: .*expected string.* \(expected string, required\)$/m);
    assert.match(stderr, /extra/);
    assert.match(stderr, /^The action takes: .*message: string \(required\)/m);
  });
});

Deno.test("step: usage errors exit 2", async (t) => {
  const cases: [string[], RegExp][] = [
    [["step"], /Missing the URL or env to step/],
    [["step", "echo", "--action", "[1]"], /--action must be a JSON object/],
    [["step", "echo", "--action", "{nope"], /--action must be a JSON object, got "\{nope"/],
    [["step", "echo", "--seed=-1"], /--seed must be an integer/],
    [["step", "echo", "--seed", "1.5"], /--seed must be an integer/],
    [["step", "nope"], /Unknown env "nope"/],
    [["step", "ftp://x"], /neither a URL .* nor an env name/],
    [["step", "echo", "--transport", "carrier-pigeon"], /--transport must be websocket or http/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await runEnvtorch(args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, pattern);
      assert.match(stderr, /Run 'envtorch step --help' for its usage\.$/m);
      assert.doesNotMatch(stderr, /Usage:/);
    });
  }
});

Deno.test("repl: commands from stdin, one JSON answer per line", async () => {
  const script = [
    'reset {"seed": 5, "episode_id": "r-1"}',
    'step {"message": "hi"}',
    "# a comment",
    "",
    "state",
    "quit",
    "state",
  ].join("\n");
  const { code, stdout, stderr } = await runEnvtorch(["repl", "echo"], { input: script });
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 3, "nothing after quit");
  assert.deepEqual(lines[0], {
    observation: { echoed_message: "Echo environment ready!", message_length: 0, metadata: {} },
    reward: 0,
    done: false,
  });
  assert.equal(lines[1].observation.echoed_message, "hi");
  assert.deepEqual(lines[2], { episode_id: "r-1", step_count: 1, seed: 5 });
});

Deno.test("repl: errors go to stderr, the session goes on, exit 1", async () => {
  const script = [
    "reset",
    'step {"message": 5}',
    "step not-json",
    "step",
    "jump",
    "schema",
    'step {"message": "still here"}',
  ].join("\n") + "\n";
  const { code, stdout, stderr } = await runEnvtorch(["repl", "echo", "--transport", "http"], {
    input: script,
  });
  assert.equal(code, 1);
  assert.match(stderr, /^error: The server refused action \{"message":5\}/m);
  assert.match(stderr, /message: .*\(expected string, required\)/);
  assert.match(stderr, /^error: The action is not JSON/m);
  assert.match(stderr, /^error: step needs an action/m);
  assert.match(stderr, /^error: Unknown command "jump"; type help for commands$/m);
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(lines[1]).sort(), ["action", "observation", "state"]);
  assert.equal(lines[2].observation.echoed_message, "still here");
});
