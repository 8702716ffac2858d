/**
 * Replays a recording against a server: the same resets (seed and options
 * included), actions and state calls, in order, on one session, comparing
 * each answer with the recorded one and stopping at the first divergence.
 *
 * What never counts as divergence (the ignore list, also in `envtorch replay --help`):
 * - timings: any field named {@link DEFAULT_IGNORED_FIELDS} (`duration_ms`,
 *   `duration_s`, `elapsed_ms`, `elapsed_s`, `latency_ms`, `timestamp`), at
 *   any depth, and the recording's own `at` and `duration_ms`;
 * - `episode_id`, at any depth, in an episode whose reset did not give one
 *   (the server picks a fresh id each time);
 * - the text of an error: a refused call must be refused again with the
 *   same code, but messages may carry ids or timings;
 * - calls that failed on the client side when recorded (TIMEOUT,
 *   CONNECTION_ERROR, an abort): they are re-sent but not compared;
 * - any path given in {@link ReplayOptions.ignore}.
 *
 * @module
 */
import { EnvTorchError } from "../protocol/errors.ts";
import { type Difference, firstDifference, type JsonPath, pathMatcher } from "./json_diff.ts";
import type { CallRecord, Recording } from "../client/recording.ts";
import type { ClientRequest, Transport } from "../client/transport.ts";

/** Field names ignored at any depth: timings that legitimately vary from run to run. */
export const DEFAULT_IGNORED_FIELDS: readonly string[] = [
  "duration_ms",
  "duration_s",
  "elapsed_ms",
  "elapsed_s",
  "latency_ms",
  "timestamp",
];

/** Error codes that come from the client, not the server: not compared on replay. */
const CLIENT_SIDE_CODES = new Set(["TIMEOUT", "CONNECTION_ERROR", "CLIENT_ERROR"]);

/** Options of {@link replayRecording}. */
export interface ReplayOptions {
  /** Paths to ignore as well, as dotted patterns (`*` one segment, `**` any), e.g. `observation.metadata.run_id`. */
  ignore?: string[];
  /**
   * Ignore {@link DEFAULT_IGNORED_FIELDS} and unrequested `episode_id`s.
   * @default true
   */
  defaultIgnores?: boolean;
  /**
   * Largest absolute difference between two numbers that still counts as equal.
   * @default 0
   */
  tolerance?: number;
  /**
   * Seconds each call may take.
   * @default 60
   */
  timeoutS?: number;
  /** Aborts the replay. */
  signal?: AbortSignal;
  /** Called before each call is replayed, for progress. */
  onCall?: (call: CallRecord, position: number, total: number) => void;
}

/** Where a replay first differed from its recording. */
export interface Divergence {
  /** Position of the call in the recording, from 0. */
  index: number;
  /** The episode (0-based count of resets). */
  episode: number;
  /** Steps since the last reset (the reset is step 0). */
  step: number;
  /** The call that diverged. */
  kind: CallRecord["kind"];
  /** Path of the first differing field, e.g. `observation.echoed_message`, `reward`, `error.code`. */
  path: string;
  /** What the recording has there (`undefined`: absent). */
  expected: unknown;
  /** What the server answered there (`undefined`: absent). */
  actual: unknown;
}

/** What a replay found. */
export interface ReplayReport {
  /** True when no call diverged. */
  ok: boolean;
  /** Calls in the recording. */
  calls: number;
  /** Calls replayed (up to and including a divergence). */
  replayed: number;
  /** Calls re-sent but not compared (client-side failures when recorded). */
  uncompared: number;
  /** The first divergence, if any. */
  divergence?: Divergence;
  /** The ignore rules in effect, as dotted patterns. */
  ignored: string[];
}

/**
 * Replays `recording` over `transport` (one session) and compares.
 *
 * @example
 * ```ts ignore
 * import { readRecording } from "../client/recording.ts";
 * import { replayRecording } from "./replay.ts";
 * import { WebSocketTransport } from "../client/transport.ts";
 * const recording = await readRecording("episode.jsonl");
 * await using transport = new WebSocketTransport("http://127.0.0.1:8000");
 * const report = await replayRecording(recording, transport);
 * console.log(report.ok ? "identical" : report.divergence);
 * ```
 */
export async function replayRecording(
  recording: Recording,
  transport: Transport,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const defaults = options.defaultIgnores ?? true;
  const base = [
    ...(defaults ? DEFAULT_IGNORED_FIELDS.map((f) => `**.${f}`) : []),
    ...(options.ignore ?? []),
  ];
  const ignoreBase = pathMatcher(base);
  const ignoreEpisodeId = pathMatcher(["**.episode_id"]);
  const ignored = defaults ? [...base, "**.episode_id (when the reset gave none)"] : base;
  const total = recording.calls.length;
  let replayed = 0;
  let uncompared = 0;
  let episodeIdGiven = false;
  for (const [position, call] of recording.calls.entries()) {
    options.signal?.throwIfAborted();
    options.onCall?.(call, position, total);
    if (call.kind === "reset") episodeIdGiven = typeof call.options.episode_id === "string";
    const ignore = (path: JsonPath) =>
      ignoreBase(path) || (defaults && !episodeIdGiven && ignoreEpisodeId(path));
    const outcome = await send(transport, call, options);
    replayed++;
    if (call.error && CLIENT_SIDE_CODES.has(call.error.code)) {
      uncompared++;
      continue;
    }
    const difference = compare(call, outcome, ignore, options.tolerance ?? 0);
    if (difference) {
      return {
        ok: false,
        calls: total,
        replayed,
        uncompared,
        ignored,
        divergence: {
          index: call.index,
          episode: call.episode,
          step: call.step,
          kind: call.kind,
          path: difference.path,
          expected: difference.expected,
          actual: difference.actual,
        },
      };
    }
  }
  return { ok: true, calls: total, replayed, uncompared, ignored };
}

type Outcome = { result: Record<string, unknown> } | { error: { code: string; message: string } };

async function send(
  transport: Transport,
  call: CallRecord,
  options: ReplayOptions,
): Promise<Outcome> {
  let request: ClientRequest;
  switch (call.kind) {
    case "reset":
      request = { type: "reset", data: call.options };
      break;
    case "step":
      request = { type: "step", data: call.action };
      if (call.timeout_s !== undefined) request.timeout_s = call.timeout_s;
      break;
    case "state":
      request = { type: "state" };
      break;
  }
  try {
    const reply = await transport.request(request, {
      timeoutS: (options.timeoutS ?? 60) + (call.kind === "step" ? call.timeout_s ?? 0 : 0),
      signal: options.signal,
    });
    return { result: reply.data as unknown as Record<string, unknown> };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    if (error instanceof EnvTorchError) {
      if (error.code === "CONNECTION_ERROR") throw error;
      return { error: { code: error.code, message: error.message } };
    }
    throw error;
  }
}

function compare(
  call: CallRecord,
  outcome: Outcome,
  ignore: (path: JsonPath) => boolean,
  tolerance: number,
): Difference | undefined {
  const expected = call.error
    ? { error: { code: call.error.code } }
    : call.kind === "state"
    ? { state: call.result }
    : call.result;
  const actual = "error" in outcome
    ? { error: { code: outcome.error.code } }
    : call.kind === "state"
    ? { state: outcome.result }
    : outcome.result;
  if (call.error && !("error" in outcome)) {
    return {
      path: "error",
      segments: ["error"],
      expected: call.error.code,
      actual: "no error: the call succeeded",
    };
  }
  if (!call.error && "error" in outcome) {
    return {
      path: "error",
      segments: ["error"],
      expected: "no error",
      actual: `${outcome.error.code}: ${outcome.error.message}`,
    };
  }
  return firstDifference(expected, actual, { ignore, tolerance });
}
