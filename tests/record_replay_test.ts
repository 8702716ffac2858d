/**
 * Record and replay end to end: an episode recorded from the CLI (and from
 * a client's recordTo) replays against the same env with no divergence, and
 * against an env that changes from step N the divergence is reported at
 * step N, with exit code 1.
 */
import assert from "node:assert/strict";
import { EchoEnv } from "../mod.ts";
import { readRecording } from "../client/recording.ts";
import { serveDriftingEcho } from "./fixtures/drift_env.ts";
import { runEnvtorch } from "./helpers/cli_run.ts";

const actions = ["a", "bb", "ccc", "dddd"].flatMap((
  m,
) => ["--action", JSON.stringify({ message: m })]);

Deno.test("record with envtorch step, replay identical, replay against a changed env", async (t) => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/episode.jsonl`;
  try {
    await t.step("step --record writes the episode", async () => {
      const { code, stderr } = await runEnvtorch([
        "step",
        "echo",
        "--seed",
        "7",
        ...actions,
        "--state",
        "--record",
        file,
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stderr, new RegExp(`Recorded to ${file}`));
      const { header, calls } = await readRecording(file);
      assert.match(header.target ?? "", /^unix:\//);
      assert.deepEqual(calls.map((c) => `${c.kind}:${c.step}`), [
        "reset:0",
        "step:1",
        "step:2",
        "step:3",
        "step:4",
        "state:4",
      ]);
      assert.deepEqual(calls[0]!.kind === "reset" && calls[0]!.options, { seed: 7 });
    });

    await t.step("replay against the same env: no divergence, exit 0", async () => {
      const { code, stdout } = await runEnvtorch(["replay", file, "--against", "echo"]);
      assert.equal(code, 0, stdout);
      assert.match(
        stdout,
        /^ok\s+.*episode\.jsonl replayed against echo: 6 calls, no divergence$/m,
      );
    });

    await t.step("replay over HTTP too (envtorch keeps the session)", async () => {
      const { code, stdout } = await runEnvtorch([
        "replay",
        file,
        "--against",
        "echo",
        "--transport",
        "http",
        "--json",
      ]);
      assert.equal(code, 0, stdout);
      assert.equal(JSON.parse(stdout).ok, true);
    });

    await using drift = serveDriftingEcho(3);
    await t.step(
      "replay against an env that changes from step 3: divergence at step 3, exit 1",
      async () => {
        const { code, stdout } = await runEnvtorch(["replay", file, "--against", drift.baseUrl]);
        assert.equal(code, 1);
        assert.match(
          stdout,
          /^DIVERGED .*: episode 0, step 3 \(step, call 4 of 6\), at observation\.echoed_message\n {2}expected: "ccc"\n {2}got: {6}"CCC"$/m,
        );
        const json = await runEnvtorch(["replay", file, "--against", drift.baseUrl, "--json"]);
        assert.equal(json.code, 1);
        const report = JSON.parse(json.stdout);
        assert.equal(report.ok, false);
        assert.deepEqual(report.divergence, {
          index: 3,
          episode: 0,
          step: 3,
          kind: "step",
          path: "observation.echoed_message",
          expected: "ccc",
          actual: "CCC",
        });
        assert.equal(report.replayed, 4, "the replay stops at the first divergence");
      },
    );

    await t.step("--ignore a path: the rest matches", async () => {
      const { code, stdout } = await runEnvtorch([
        "replay",
        file,
        "--against",
        drift.baseUrl,
        "--ignore",
        "observation.echoed_message",
      ]);
      assert.equal(code, 0, stdout);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a typed client records with recordTo; two episodes replay to the first divergence", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/typed.jsonl`;
    {
      await using env = await EchoEnv.fromProcess({ recordTo: file });
      for (const episode of [1, 2]) {
        await env.reset({ seed: episode });
        await env.step({ message: "one" });
        await env.step({ message: "two" });
      }
      await env.state();
    }
    const recording = await readRecording(file);
    assert.equal(recording.calls.length, 7);
    assert.deepEqual(recording.calls.map((c) => c.episode), [0, 0, 0, 1, 1, 1, 1]);
    await using drift = serveDriftingEcho(2);
    const { code, stdout } = await runEnvtorch(["replay", file, "--against", drift.baseUrl]);
    assert.equal(code, 1);
    assert.match(stdout, /episode 0, step 2 \(step, call 3 of 7\), at observation\.echoed_message/);
    const same = await runEnvtorch(["replay", file, "--against", "echo"]);
    assert.equal(same.code, 0, same.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: usage errors exit 2 with a clear message", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"not": "a recording"}\n');
    const cases: [string[], RegExp][] = [
      [["replay"], /Missing the recording file/],
      [["replay", "x.jsonl"], /Missing --against/],
      [["replay", `${dir}/none.jsonl`, "--against", "echo"], /no such file/],
      [["replay", `${dir}/bad.jsonl`, "--against", "echo"], /line 1 is not a recording header/],
      [
        ["replay", `${dir}/bad.jsonl`, "--against", "echo", "--tolerance", "x"],
        /--tolerance must be a number/,
      ],
      [["replay", "a", "b", "--against", "echo"], /Expected one recording file/],
      [
        ["replay", "x", "--against", "echo", "--transport", "smoke"],
        /--transport must be websocket or http/,
      ],
    ];
    for (const [args, pattern] of cases) {
      await t.step(args.join(" "), async () => {
        const { code, stderr } = await runEnvtorch(args);
        assert.equal(code, 2, stderr);
        assert.match(stderr, pattern);
        assert.match(stderr, /Run 'envtorch replay --help'/);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
