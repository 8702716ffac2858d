/**
 * Episode recordings: every reset, step and state call of a client, with
 * what the server answered and how long it took, one JSON object per line
 * (JSONL). A {@link RecordingTransport} wraps any transport to write one;
 * `envtorch replay` re-runs it against a server and reports divergence.
 *
 * The file starts with a header line, then one line per call:
 *
 * ```jsonl
 * {"kind":"header","format":"envtorch-recording","version":1,"created_at":"…","target":"unix:/…"}
 * {"kind":"reset","index":0,"episode":0,"step":0,"options":{"seed":7},"result":{"observation":{…},"reward":0,"done":false},"at":"…","duration_ms":1.9}
 * {"kind":"step","index":1,"episode":0,"step":1,"action":{"message":"hi"},"result":{…},"at":"…","duration_ms":0.8}
 * {"kind":"state","index":2,"episode":0,"step":1,"result":{"episode_id":"…","step_count":1},"at":"…","duration_ms":0.4}
 * ```
 *
 * `episode` counts resets (0-based; calls before the first reset are in
 * episode 0 too), `step` counts steps since the last reset (the reset is
 * step 0). A call the server refused has `error` (`code`, `message`,
 * `status`) instead of `result`.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { EnvTorchError } from "../protocol/errors.ts";
import type { CallOptions, ClientRequest, Transport, TransportReply } from "./transport.ts";

/** The `format` of a recording's header line. */
export const RECORDING_FORMAT = "envtorch-recording" as const;

/** The first line of a recording. */
export interface RecordingHeader {
  /** Marks the header line. */
  kind: "header";
  /** Always `envtorch-recording`. */
  format: typeof RECORDING_FORMAT;
  /** Format version. */
  version: 1;
  /** When the recording started (ISO 8601). */
  created_at: string;
  /** Where the calls went, e.g. `unix:/tmp/…/env.sock`. */
  target?: string;
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}
/** Schema of the first line of a recording (checked against the interface above). */
export const RecordingHeader: z.ZodType<RecordingHeader> = z.looseObject({
  kind: z.literal("header"),
  format: z.literal(RECORDING_FORMAT),
  version: z.literal(1),
  created_at: z.string(),
  target: z.string().optional(),
});

/** How the server refused a recorded call. */
export interface CallError {
  /** The wire error code (`VALIDATION_ERROR`, ...). */
  code: string;
  /** The server's message. */
  message: string;
  /** The HTTP status the error maps to. */
  status: number;
}

/** What every recorded call has. */
export interface CallCommon {
  /** Position of the call in the recording, from 0. */
  index: number;
  /** Resets before this call, less one (0 for the first episode). */
  episode: number;
  /** Steps since the last reset (the reset is step 0). */
  step: number;
  /** What the server answered (absent when it refused the call). */
  result?: Record<string, unknown>;
  /** How the server refused the call. */
  error?: CallError;
  /** When the call started (ISO 8601). */
  at: string;
  /** How long the call took, in milliseconds. */
  duration_ms: number;
  /** Fields a later format version may add. */
  [key: string]: unknown;
}

/** One recorded call. */
export type CallRecord =
  | (CallCommon & { kind: "reset"; options: Record<string, unknown> })
  | (CallCommon & { kind: "step"; action: Record<string, unknown>; timeout_s?: number })
  | (CallCommon & { kind: "state" });

const Json = z.record(z.string(), z.unknown());
const CallErrorSchema = z.object({ code: z.string(), message: z.string(), status: z.number() });
const Common = {
  index: z.number().int().min(0),
  episode: z.number().int().min(0),
  step: z.number().int().min(0),
  result: Json.optional(),
  error: CallErrorSchema.optional(),
  at: z.string(),
  duration_ms: z.number().min(0),
};

/** Schema of one recorded call (checked against {@link CallRecord}). */
export const CallRecord: z.ZodType<CallRecord> = z.discriminatedUnion("kind", [
  z.looseObject({ kind: z.literal("reset"), options: Json, ...Common }),
  z.looseObject({
    kind: z.literal("step"),
    action: Json,
    timeout_s: z.number().positive().optional(),
    ...Common,
  }),
  z.looseObject({ kind: z.literal("state"), ...Common }),
]);

/** A recording read back: the header and the calls in order. */
export interface Recording {
  /** The header line. */
  header: RecordingHeader;
  /** The calls, in the order they were made. */
  calls: CallRecord[];
}

/** A recording file that cannot be read: not JSONL, or lines of the wrong shape. */
export class RecordingFormatError extends Error {
  /** The error class name. */
  override name = "RecordingFormatError";
  /** The 1-based line that is wrong, if one. */
  readonly line?: number;
  /** Creates the error. */
  constructor(message: string, options: { line?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.line = options.line;
  }
}

/** Parses the text of a recording. */
export function parseRecording(text: string, source = "recording"): Recording {
  const lines = text.split("\n");
  let header: RecordingHeader | undefined;
  const calls: CallRecord[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      throw new RecordingFormatError(
        `Cannot read ${source}: line ${i + 1} is not JSON (${(error as Error).message})`,
        { line: i + 1, cause: error },
      );
    }
    if (!header) {
      const parsed = RecordingHeader.safeParse(raw);
      if (!parsed.success) {
        throw new RecordingFormatError(
          `Cannot read ${source}: line ${
            i + 1
          } is not a recording header (expected {"kind":"header","format":"${RECORDING_FORMAT}","version":1,...})`,
          { line: i + 1 },
        );
      }
      header = parsed.data;
      continue;
    }
    const parsed = CallRecord.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RecordingFormatError(
        `Cannot read ${source}: line ${i + 1} is not a reset, step or state record (${
          issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid"
        })`,
        { line: i + 1 },
      );
    }
    calls.push(parsed.data);
  }
  if (!header) throw new RecordingFormatError(`Cannot read ${source}: the file is empty`);
  return { header, calls };
}

/** Reads a recording file. */
export async function readRecording(path: string | URL): Promise<Recording> {
  return parseRecording(await Deno.readTextFile(path), String(path));
}

/** Options of an {@link EpisodeRecorder}. */
export interface RecorderOptions {
  /** Where the calls go, for the header (e.g. a base URL). */
  target?: string;
  /** More fields for the header line (e.g. `env`, `transport`). */
  header?: Record<string, unknown>;
}

/** A call to add to a recording; the recorder numbers it. */
export type CallEntry =
  & (
    | { kind: "reset"; options: Record<string, unknown> }
    | { kind: "step"; action: Record<string, unknown>; timeout_s?: number }
    | { kind: "state" }
  )
  & {
    result?: Record<string, unknown>;
    error?: { code: string; message: string; status: number };
    at: string;
    duration_ms: number;
  };

/**
 * Writes a recording: a header line, then one line per call, in order.
 * Given a path, it truncates the file when the first line is written.
 *
 * @example
 * ```ts
 * import { EpisodeRecorder } from "./recording.ts";
 * const lines: string[] = [];
 * const recorder = new EpisodeRecorder((line) => void lines.push(line));
 * recorder.add({ kind: "reset", options: { seed: 1 }, result: { observation: {}, reward: 0, done: false }, at: new Date().toISOString(), duration_ms: 1 });
 * await recorder.close();
 * console.log(lines.length); // 2: the header and the reset
 * ```
 */
export class EpisodeRecorder implements AsyncDisposable {
  /** Calls recorded so far. */
  count = 0;
  #sink: (line: string) => void | Promise<void>;
  #options: RecorderOptions;
  #file?: Deno.FsFile;
  #path?: string | URL;
  #tail: Promise<void> = Promise.resolve();
  #headerWritten = false;
  #episode = -1;
  #step = 0;
  #closed = false;
  #failure?: unknown;

  /** Records to a file (truncated on first write) or to a function that takes each line. */
  constructor(
    to: string | URL | ((line: string) => void | Promise<void>),
    options: RecorderOptions = {},
  ) {
    this.#options = options;
    if (typeof to === "function") {
      this.#sink = to;
    } else {
      this.#path = to;
      const encoder = new TextEncoder();
      this.#sink = async (line) => {
        this.#file ??= await Deno.open(to, { write: true, create: true, truncate: true });
        const bytes = encoder.encode(line + "\n");
        let written = 0;
        while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
      };
    }
  }

  /** The file recorded to, if a path was given. */
  get path(): string | URL | undefined {
    return this.#path;
  }

  /** Names where the calls go, for the header, unless the options named it already. */
  setTarget(target: string): void {
    if (!this.#headerWritten && !this.#options.target) this.#options = { ...this.#options, target };
  }

  /** Adds one call; lines are written in order, in the background. */
  add(entry: CallEntry): void {
    if (this.#closed) throw new Error("Cannot record: the recorder is closed");
    if (entry.kind === "reset") {
      this.#episode++;
      this.#step = 0;
    } else if (entry.kind === "step") {
      this.#step++;
    }
    const { at, duration_ms, result, error, ...call } = entry;
    const record = {
      ...call,
      index: this.count++,
      episode: Math.max(this.#episode, 0),
      step: this.#step,
      ...(result !== undefined ? { result } : {}),
      ...(error !== undefined ? { error } : {}),
      at,
      duration_ms: Math.round(duration_ms * 1000) / 1000,
    };
    this.#write(JSON.stringify(record));
  }

  /** Resolves once every line so far is written; throws if a write failed. */
  async flush(): Promise<void> {
    await this.#tail;
    if (this.#failure) throw this.#failure;
  }

  /** Writes what is pending (and the header, for an empty recording) and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return await this.flush();
    if (!this.#headerWritten) this.#write(undefined);
    this.#closed = true;
    try {
      await this.flush();
    } finally {
      this.#file?.close();
      this.#file = undefined;
    }
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #write(line: string | undefined): void {
    const lines: string[] = [];
    if (!this.#headerWritten) {
      this.#headerWritten = true;
      lines.push(JSON.stringify({
        kind: "header",
        format: RECORDING_FORMAT,
        version: 1,
        created_at: new Date().toISOString(),
        ...(this.#options.target ? { target: this.#options.target } : {}),
        ...this.#options.header,
      }));
    }
    if (line !== undefined) lines.push(line);
    this.#tail = this.#tail.then(async () => {
      if (this.#failure) return;
      try {
        for (const l of lines) await this.#sink(l);
      } catch (error) {
        this.#failure = error;
      }
    });
  }
}

/**
 * A transport that records every call it passes on to another one. Closing
 * it closes the inner transport, then the recorder.
 *
 * @example
 * ```ts
 * import { EpisodeRecorder, RecordingTransport } from "./recording.ts";
 * import { WebSocketTransport } from "./transport.ts";
 * const lines: string[] = [];
 * const transport = new RecordingTransport(
 *   new WebSocketTransport("http://127.0.0.1:8000"),
 *   new EpisodeRecorder((line) => void lines.push(line), { target: "http://127.0.0.1:8000" }),
 * );
 * await transport.close();
 * console.log(lines.length); // 1: the header of an empty recording
 * ```
 */
export class RecordingTransport implements Transport {
  /** The recorder calls go to. */
  readonly recorder: EpisodeRecorder;
  /** The transport calls are passed on to. */
  readonly inner: Transport;

  /** Wraps `inner`, recording to `recorder`. */
  constructor(inner: Transport, recorder: EpisodeRecorder) {
    this.inner = inner;
    this.recorder = recorder;
  }

  /** Whether the inner transport can still serve calls. */
  get alive(): boolean {
    return this.inner.alive;
  }

  async request(request: ClientRequest, options: CallOptions): Promise<TransportReply> {
    const at = new Date().toISOString();
    const started = performance.now();
    const call = callOf(request);
    try {
      const reply = await this.inner.request(request, options);
      this.recorder.add({
        ...call,
        result: reply.data as unknown as Record<string, unknown>,
        at,
        duration_ms: performance.now() - started,
      });
      return reply;
    } catch (error) {
      this.recorder.add({
        ...call,
        error: error instanceof EnvTorchError
          ? { code: error.code, message: error.message, status: error.status }
          : {
            code: "CLIENT_ERROR",
            message: String((error as Error)?.message ?? error),
            status: 0,
          },
        at,
        duration_ms: performance.now() - started,
      });
      throw error;
    }
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
    } finally {
      await this.recorder.close();
    }
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function callOf(
  request: ClientRequest,
):
  | { kind: "reset"; options: Record<string, unknown> }
  | { kind: "step"; action: Record<string, unknown>; timeout_s?: number }
  | { kind: "state" } {
  switch (request.type) {
    case "reset":
      return { kind: "reset", options: request.data };
    case "step":
      return request.timeout_s === undefined
        ? { kind: "step", action: request.data }
        : { kind: "step", action: request.data, timeout_s: request.timeout_s };
    case "state":
      return { kind: "state" };
  }
}
