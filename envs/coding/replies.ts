/**
 * Reading what a worker gives back, which is never trusted: its `done`
 * replies and its output files after a crash (capped,
 * invalid UTF-8 replaced, a character cut in half dropped).
 *
 * @module
 */
import type { Outcome } from "./conversation.ts";
import type { CallReply, ExecResult } from "./executor_types.ts";
import { describeStatus, SIGNAL_NUMBERS } from "./worker_process.ts";

/** A `done` reply, checked. */
export interface ParsedDone {
  result: Pick<
    ExecResult,
    "stdout" | "stderr" | "exit_code" | "truncated" | "processes_killed" | "threads"
  >;
  killed: number;
}

/** Checks a `done` reply from the (untrusted) worker; undefined if it is malformed. */
export function parseDone(message: Record<string, unknown>, cap: number): ParsedDone | undefined {
  const { op, stdout, stderr, exit_code, truncated, killed, threads } = message;
  if (
    op !== "done" || typeof stdout !== "string" || typeof stderr !== "string" ||
    typeof exit_code !== "number" || !Number.isInteger(exit_code) || typeof truncated !== "boolean"
  ) {
    return undefined;
  }
  const cut = stdout.length > cap || stderr.length > cap;
  const killedCount = typeof killed === "number" && killed > 0 ? Math.floor(killed) : 0;
  return {
    result: {
      stdout: stdout.length > cap ? stdout.slice(0, cap) : stdout,
      stderr: stderr.length > cap ? stderr.slice(0, cap) : stderr,
      exit_code: Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, exit_code)),
      truncated: truncated || cut,
      processes_killed: killedCount,
      threads: typeof threads === "number" && threads >= 0 ? Math.floor(threads) : 0,
    },
    killed: killedCount,
  };
}

/** Reads at most `cap` bytes of a file as text (invalid UTF-8 replaced). */
export async function readCapped(
  path: string,
  cap: number,
): Promise<{ text: string; truncated: boolean }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return { text: "", truncated: false };
  }
  try {
    const size = (await file.stat()).size;
    const buffer = new Uint8Array(Math.min(size, cap));
    let offset = 0;
    while (offset < buffer.byteLength) {
      const n = await file.read(buffer.subarray(offset));
      if (n === null) break;
      offset += n;
    }
    const truncated = size > cap;
    const bytes = truncated
      ? trimPartialUtf8(buffer.subarray(0, offset))
      : buffer.subarray(0, offset);
    return { text: new TextDecoder().decode(bytes), truncated };
  } finally {
    file.close();
  }
}

/** Drops an incomplete UTF-8 sequence at the end of a cut output. */
export function trimPartialUtf8(bytes: Uint8Array): Uint8Array {
  const end = bytes.byteLength;
  for (let back = 1; back <= Math.min(4, end); back++) {
    const byte = bytes[end - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    if ((byte & 0x80) === 0) return bytes;
    const need = (byte & 0xe0) === 0xc0 ? 2 : (byte & 0xf0) === 0xe0 ? 3 : 4;
    return back >= need ? bytes : bytes.subarray(0, end - back);
  }
  return bytes;
}

/**
 * The result of a step whose worker was lost: what it wrote before it died
 * (from its output files), its signal as a negative exit code, and notes
 * that say why.
 */
export async function lostResult(
  outcome: Extract<Outcome, { kind: "lost" }>,
  files: { out: string; err: string },
  options: { cap: number; notes: string[]; timeoutS: number },
): Promise<ExecResult> {
  const { cap, notes, timeoutS } = options;
  const [out, err] = await Promise.all([readCapped(files.out, cap), readCapped(files.err, cap)]);
  const { status } = outcome;
  const signalNumber = status.signal ? SIGNAL_NUMBERS[status.signal] ?? 128 : 0;
  if (outcome.timedOut) {
    notes.push(
      `Timed out after ${timeoutS} s: the interrupt did not stop it, so the worker and every process of its uid were killed`,
    );
  } else {
    notes.push(`${outcome.reason} (${describeStatus(status)})`);
  }
  notes.push("The interpreter state was lost: a fresh worker will run the next step");
  return {
    stdout: out.text,
    stderr: err.text,
    exit_code: status.signal ? -signalNumber : status.code,
    timed_out: outcome.timedOut,
    truncated: out.truncated || err.truncated,
    state_lost: true,
    duration_ms: Math.round(outcome.elapsedMs * 1000) / 1000,
    signal: status.signal,
    processes_killed: 0,
    threads: 0,
    notes,
  };
}

/** Checks a `called` reply (or a call that timed out); undefined if it is malformed. */
export function parseCallReply(
  m: Record<string, unknown>,
  timedOut: boolean,
): CallReply | undefined {
  if (timedOut) {
    return { ok: false, type: "TimeoutError", message: "The call timed out", timed_out: true };
  }
  if (m.op === "called" && m.ok === true && m.callable === true) {
    return { ok: true, callable: true };
  }
  if (m.op === "called" && m.ok === true && "value" in m) return { ok: true, value: m.value };
  if (m.op === "called" && m.ok === false) {
    return {
      ok: false,
      type: typeof m.type === "string" ? m.type.slice(0, 200) : "Exception",
      message: typeof m.message === "string" ? m.message.slice(0, 1000) : "",
    };
  }
  return undefined;
}

/** The answer to a call whose worker was lost (and replaced). */
export function lostCall(timedOut: boolean): CallReply {
  return {
    ok: false,
    type: timedOut ? "TimeoutError" : "WorkerLost",
    message: timedOut
      ? "The call timed out and the worker had to be replaced"
      : "The worker was lost during the call",
    timed_out: timedOut,
    state_lost: true,
  };
}
