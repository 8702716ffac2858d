import assert from "node:assert/strict";
import { GenericEnvClient } from "./client.ts";
import { createApp } from "../server/app.ts";
import { InProcessTransport } from "../server/in_process.ts";
import { EpisodeRecorder, parseRecording, RecordingFormatError } from "./recording.ts";
import { replayRecording } from "../tools/replay.ts";
import { EchoEnvironment, echoModels } from "../envs/echo/mod.ts";

async function record(calls: (env: GenericEnvClient) => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  await using app = createApp(() => new EchoEnvironment(), echoModels);
  const env = new GenericEnvClient({
    transport: new InProcessTransport(app),
    recordTo: new EpisodeRecorder((line) => void lines.push(line)),
  });
  await calls(env).catch(() => {});
  await env.close();
  return lines.join("\n");
}

Deno.test("a client with recordTo writes a header and numbered calls with answers and timings", async () => {
  const text = await record(async (env) => {
    await env.reset({ seed: 3 });
    await env.step({ message: "hi" });
    await env.state();
    await env.reset();
    await env.step({ message: 5 } as never);
  });
  const { header, calls } = parseRecording(text);
  assert.equal(header.format, "envtorch-recording");
  assert.equal(header.target, "in-process");
  assert.deepEqual(
    calls.map((c) => [c.kind, c.index, c.episode, c.step]),
    [["reset", 0, 0, 0], ["step", 1, 0, 1], ["state", 2, 0, 1], ["reset", 3, 1, 0], [
      "step",
      4,
      1,
      1,
    ]],
  );
  const [reset, step, , , refused] = calls;
  assert.deepEqual(reset!.kind === "reset" && reset!.options, { seed: 3 });
  assert.equal(step!.kind === "step" && step!.action.message, "hi");
  assert.equal((step!.result as { reward: number }).reward, 0.2);
  assert.ok(step!.duration_ms >= 0 && !Number.isNaN(Date.parse(step!.at)));
  assert.equal(refused!.error?.code, "VALIDATION_ERROR");
  assert.equal(refused!.result, undefined);
});

Deno.test("replayRecording: the same env replays with no divergence, episode ids aside", async () => {
  const text = await record(async (env) => {
    await env.reset({ seed: 1 });
    await env.step({ message: "a" });
    await env.state(); // its episode_id is a fresh uuid: ignored
    await env.step({ message: 5 } as never); // refused: the code must match again
  });
  await using app = createApp(() => new EchoEnvironment(), echoModels);
  await using transport = new InProcessTransport(app);
  const report = await replayRecording(parseRecording(text), transport);
  assert.equal(report.ok, true, JSON.stringify(report.divergence));
  assert.equal(report.replayed, 4);
  assert.ok(report.ignored.includes("**.duration_ms"));
});

Deno.test("replayRecording reports the first divergence with its path, expected and got", async () => {
  const recording = parseRecording(
    await record(async (env) => {
      await env.reset({ episode_id: "fixed" });
      await env.step({ message: "a" });
      await env.step({ message: "b" });
      await env.state();
    }),
  );
  const step2 = recording.calls[2]!;
  (step2.result as { reward: number }).reward = 9;
  await using app = createApp(() => new EchoEnvironment(), echoModels);
  await using transport = new InProcessTransport(app);
  const report = await replayRecording(recording, transport);
  assert.equal(report.ok, false);
  assert.deepEqual(report.divergence, {
    index: 2,
    episode: 0,
    step: 2,
    kind: "step",
    path: "reward",
    expected: 9,
    actual: 0.1,
  });
  (step2.result as { reward: number }).reward = 0.1;
  const state = recording.calls[3]!;
  (state.result as { episode_id: string }).episode_id = "other";
  await using again = new InProcessTransport(app);
  const given = await replayRecording(recording, again);
  assert.equal(given.divergence?.path, "state.episode_id", "a given episode_id is compared");
  await using third = new InProcessTransport(app);
  assert.equal(
    (await replayRecording(recording, third, { ignore: ["state.episode_id"] })).ok,
    true,
  );
});

Deno.test("parseRecording refuses what is not a recording, naming the line", () => {
  assert.throws(() => parseRecording(""), /the file is empty/);
  assert.throws(() => parseRecording('{"kind":"step"}'), /line 1 is not a recording header/);
  const header = '{"kind":"header","format":"envtorch-recording","version":1,"created_at":"x"}';
  assert.throws(
    () => parseRecording(`${header}\nnot json`),
    (e: unknown) => e instanceof RecordingFormatError && e.line === 2,
  );
  assert.throws(
    () => parseRecording(`${header}\n{"kind":"jump"}`),
    /line 2 is not a reset, step or state record/,
  );
});
