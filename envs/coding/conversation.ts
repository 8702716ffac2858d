/**
 * One request to a worker and its answer, never trusted and never waited on
 * without a bound: a random id the reply must echo, a timeout that
 * interrupts (SIGINT through the zygote) and, past a grace, gives the
 * worker up; a frame nobody asked for, a broken protocol or a death all end
 * in a `lost` outcome with the worker stopped.
 *
 * @module
 */
import { delay, type ExitStatus, type WorkerProcess } from "./worker_process.ts";

/** What came of one request. */
export type Outcome =
  | { kind: "reply"; message: Record<string, unknown>; timedOut: boolean; elapsedMs: number }
  | { kind: "lost"; status: ExitStatus; timedOut: boolean; reason: string; elapsedMs: number };

/** Options of {@link converse}. */
export interface ConverseOptions {
  /** Milliseconds before the worker is interrupted. */
  timeoutMs: number;
  /** Milliseconds between the interrupt and giving the worker up. */
  graceMs: number;
  /** Aborting it ends the request as a timeout does. */
  signal?: AbortSignal;
}

/** Sends `message` to `worker` and waits for its reply, its death or the timeout. */
export async function converse(
  worker: WorkerProcess,
  message: Record<string, unknown>,
  options: ConverseOptions,
): Promise<Outcome> {
  const { timeoutMs, signal } = options;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const lost = async (timedOut: boolean, reason: string): Promise<Outcome> => {
    const status = await worker.stop();
    return { kind: "lost", status, timedOut, reason, elapsedMs: elapsed() };
  };
  if (worker.unread > 0) {
    return await lost(false, "The worker sent frames nobody asked for: it was replaced");
  }
  // A random id the runner must echo: a frame forged by user code into the control pipe
  // has to find it in the runner's memory first.
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  const id = (high! & 0x1fffff) * 2 ** 32 + low!;
  try {
    await worker.send({ ...message, id });
  } catch {
    return await lost(false, "The worker's pipe was closed");
  }
  type Event =
    | { type: "reply"; message: Record<string, unknown> | null }
    | { type: "error" }
    | { type: "exit" }
    | { type: "timeout" };
  const reply: Promise<Event> = worker.receive().then(
    (m) => ({ type: "reply", message: m }),
    () => ({ type: "error" }),
  );
  const exit: Promise<Event> = worker.exited.then(() => ({ type: "exit" }));
  let onAbort = () => {};
  const aborted = new Promise<Event>((resolve) => {
    onAbort = () => resolve({ type: "timeout" });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  const timer = delay(timeoutMs);
  const timeout = timer.promise.then((): Event => ({ type: "timeout" }));
  let event: Event;
  try {
    event = await Promise.race([reply, exit, timeout, aborted]);
  } finally {
    timer.cancel();
    signal?.removeEventListener("abort", onAbort);
  }
  let timedOut = false;
  if (event.type === "timeout") {
    timedOut = true;
    worker.interrupt();
    const grace = delay(options.graceMs);
    try {
      event = await Promise.race([
        reply,
        exit,
        grace.promise.then((): Event => ({ type: "timeout" })),
      ]);
    } finally {
      grace.cancel();
    }
  }
  if (event.type === "reply" && event.message) {
    if (event.message.id !== id || worker.unread > 0) {
      return await lost(timedOut, "The worker sent a reply nobody asked for: it was replaced");
    }
    return { kind: "reply", message: event.message, timedOut, elapsedMs: elapsed() };
  }
  if (event.type === "error") return await lost(timedOut, "The worker broke the pipe protocol");
  if (event.type === "timeout") return await lost(true, "The worker ignored the interrupt");
  return await lost(timedOut, "The worker died");
}
