/**
 * The authoring and client commands (init, validate, step, repl, replay):
 * help, bad flags and exit codes, as tests/cli_test.ts does for serve and
 * list.
 */
import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";

const COMMANDS: [name: string, summary: RegExp, options: RegExp[]][] = [
  ["init", /scaffold a new env from the template/, [/--dir DIR/, /--json/]],
  ["validate", /check that a server \(URL or env\) speaks the protocol/, [
    /--action JSON/,
    /--deterministic/,
    /--seed N/,
    /--timeout S/,
    /--json/,
    /Exit codes: 0 no check failed/,
  ]],
  ["step", /reset an env and send actions from the command line/, [
    /--action JSON/,
    /--reset JSON/,
    /--record FILE/,
    /--transport T/,
  ]],
  ["repl", /drive an env session with commands from stdin/, [
    /reset \[JSON\]/,
    /step JSON/,
    /schema/,
    /quit/,
    /--record FILE/,
  ]],
  ["replay", /re-run a recorded episode and report where it diverges/, [
    /--against T/,
    /--ignore PATH/,
    /--no-default-ignores/,
    /duration_ms, duration_s, elapsed_ms, elapsed_s, latency_ms, timestamp/,
    /episode_id, at any depth, in an episode whose reset did not give one/,
  ]],
];

Deno.test("envtorch --help lists the new commands", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assert.equal(code, 0);
  for (const [name, summary] of COMMANDS) {
    assert.match(stdout, new RegExp(`^  ${name}\\s+${summary.source}`, "m"));
  }
});

Deno.test("each new command: --help exits 0, -h too, with its options", async (t) => {
  for (const [name, , options] of COMMANDS) {
    await t.step(name, async () => {
      for (const flag of ["--help", "-h"]) {
        const { code, stdout, stderr } = await runCli([name, flag]);
        assert.equal(code, 0, stderr);
        assert.match(stdout, new RegExp(`^Usage: envtorch ${name} `, "m"));
        for (const option of options) assert.match(stdout, option);
      }
    });
  }
});

Deno.test("each new command: bad flags and arguments exit 2 with the message and usage", async (t) => {
  const cases: [string[], RegExp][] = [
    [["init", "--bogus"], /Unknown option '--bogus'/],
    [["init", "x", "--dir"], /Option '--dir <value>' argument missing/],
    [["validate", "--bogus", "echo"], /Unknown option '--bogus'/],
    [["validate"], /Missing the URL or env to validate/],
    [["validate", "echo", "echo"], /Expected one URL or env, got echo echo/],
    [["validate", "nope"], /Unknown env "nope": known envs are .*echo/],
    [["validate", "echo", "--action", "5"], /--action must be a JSON object, got "5"/],
    [["validate", "echo", "--seed", "x"], /--seed must be an integer/],
    [["validate", "echo", "--timeout", "0"], /--timeout must be a number of at least 0.1/],
    [["validate", "http://"], /Invalid base URL/],
    [["step", "--bogus"], /Unknown option '--bogus'/],
    [["step", "echo", "--reset", "[]"], /--reset must be a JSON object/],
    [["repl"], /Missing the URL or env to open/],
    [["repl", "echo", "more"], /Expected one URL or env, got echo more/],
    [["repl", "echo", "--transport", "tcp"], /--transport must be websocket or http, got "tcp"/],
    [["repl", "echo", "--bogus"], /Unknown option '--bogus'/],
    [["replay", "--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, pattern);
      assert.match(stderr, new RegExp(`Run 'envtorch ${args[0]} --help'`));
    });
  }
});

Deno.test("a client command against a server that is not there exits 1, naming it", async (t) => {
  for (
    const args of [
      ["step", "unix:/nonexistent/env.sock", "--action", "{}"],
      ["repl", "unix:/nonexistent/env.sock"],
      ["step", "unix:/nonexistent/env.sock"],
      ["bench", "unix:/nonexistent/env.sock"],
    ]
  ) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /unix:\/nonexistent\/env\.sock/);
    });
  }
});
