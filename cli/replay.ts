/**
 * `envtorch replay FILE --against <url | env>`: re-runs a recorded episode
 * and reports the first divergence.
 *
 * @module
 */
import { envToken, withToken } from "../client/token.ts";
import { readRecording, RecordingFormatError } from "../client/recording.ts";
import { DEFAULT_IGNORED_FIELDS, replayRecording, type ReplayReport } from "../tools/replay.ts";
import { HttpTransport, WebSocketTransport } from "../client/transport.ts";
import { type Command, numberFlag, onePositional, parseFlags, UsageError } from "./common.ts";
import { Output } from "./output.ts";
import { openTarget, transportFlag } from "./target.ts";

const usage = `Usage: envtorch replay FILE --against <url | env> [options]

Re-runs a recording (made with --record, or a client's recordTo option) on
one session: the same resets (seed and options), actions and state calls, in
order. Compares each answer with the recorded one and reports the first
divergence: the call (episode, step), the field path, expected and got.

Never counted as divergence:
  - timing fields at any depth: ${DEFAULT_IGNORED_FIELDS.join(", ")}
    (and the recording's own at and duration_ms)
  - episode_id, at any depth, in an episode whose reset did not give one
  - an error's message: a refused call must be refused with the same code
  - calls that failed on the client side when recorded (TIMEOUT,
    CONNECTION_ERROR): re-sent, not compared
  - the paths given with --ignore

Options:
  --against T           the URL (http://host:port, unix:/path.sock) or bundled env
                        (started in a child process) to replay against; required
  --ignore PATH         also ignore this field path, e.g. observation.metadata.run_id
                        (dotted; * matches one segment, ** any); repeatable
  --no-default-ignores  compare timing fields and unrequested episode ids too
  --tolerance X         numbers within X of each other count as equal (default 0)
  --transport T         websocket (default) or http
  --timeout S           seconds each call may take (default 60)
  --json                one JSON report on stdout, no progress
  --token TOKEN         token for a server that asks for one (default: $ENVTORCH_TOKEN)
  -h, --help            show this help

Exit codes: 0 no divergence, 1 a divergence (or the replay could not run),
2 usage error (including a file that is not a recording).`;

export const replayCommand: Command = {
  name: "replay",
  summary: "re-run a recorded episode and report where it diverges",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      against: { type: "string" },
      ignore: { type: "string", multiple: true },
      "no-default-ignores": { type: "boolean" },
      tolerance: { type: "string" },
      transport: { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
    });
    onePositional(positionals, "recording file", "replay");
    if (!values.against) throw new UsageError("Missing --against <url | env>");
    const tolerance = numberFlag("tolerance", values.tolerance) ?? 0;
    const timeoutS = numberFlag("timeout", values.timeout, 0.1);
    const transportKind = transportFlag(values.transport);
    const file = positionals[0]!;
    let recording;
    try {
      recording = await readRecording(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new UsageError(`Cannot read ${file}: no such file`);
      }
      if (error instanceof RecordingFormatError) throw new UsageError(error.message);
      throw error;
    }
    const out = new Output({ json: values.json });
    const progress = out.task(`replay ${file}`, { total: recording.calls.length });
    progress.update(`starting ${values.against}`);
    await using target = await openTarget(values.against);
    const headers = withToken(undefined, values.token ?? envToken());
    await using transport = transportKind === "http"
      ? new HttpTransport(target.baseUrl, { headers })
      : new WebSocketTransport(target.baseUrl, { headers });
    const report = await replayRecording(recording, transport, {
      ignore: values.ignore,
      defaultIgnores: !values["no-default-ignores"],
      tolerance,
      timeoutS,
      onCall: (call, position) =>
        progress.update(`${call.kind} (episode ${call.episode}, step ${call.step})`, position + 1),
    });
    progress.done();
    if (out.isJson) {
      out.json({ file, against: target.label, ...report });
    } else {
      out.line(describe(file, target.label, report));
    }
    return report.ok ? 0 : 1;
  },
};

function describe(file: string, against: string, report: ReplayReport): string {
  const d = report.divergence;
  if (!d) {
    const skipped = report.uncompared ? ` (${report.uncompared} re-sent, not compared)` : "";
    return `ok    ${file} replayed against ${against}: ${report.calls} calls, no divergence${skipped}`;
  }
  const show = (v: unknown) => v === undefined ? "(absent)" : JSON.stringify(v);
  return [
    `DIVERGED  ${file} against ${against}: episode ${d.episode}, step ${d.step} (${d.kind}, call ${
      d.index + 1
    } of ${report.calls}), at ${d.path || "(the whole answer)"}`,
    `  expected: ${show(d.expected)}`,
    `  got:      ${show(d.actual)}`,
  ].join("\n");
}
