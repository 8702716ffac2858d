/**
 * One request to a worker and its answer, never trusted and never waited on
 * without a bound: a random id the reply must echo, a timeout that
 * interrupts (SIGINT through the zygote) and, past a grace, gives the
 * worker up; a frame nobody asked for, a broken protocol or a death all end
 * in a `lost` outcome with the worker stopped.
 *
 * This is on every step's path, so a request allocates little: its
 * deadlines go on one shared clock (no timer per request), and it waits on
 * one promise that the first of reply, death, deadline and abort settles
 * (no race that would leave a reaction on the worker's `exited` per step).
 *
 * @module
 */
import { DeadlineClock } from "../../protocol/deadline_clock.ts";
import type { ExitStatus, WorkerProcess } from "./worker_process.ts";

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

/** What ended a wait. */
type Event = "reply" | "error" | "exit" | "timeout";

/** Request deadlines: seconds usually, so 20 ms late is nothing (the client calls' resolution). */
const clock = new DeadlineClock(20);

/** Random request ids, drawn in batches (a `getRandomValues` call per step costs more). */
const ids = new Uint32Array(512);
let nextId = ids.length;

/** A 53-bit random id: a frame forged by user code must find it in the runner's memory first. */
function randomId(): number {
  if (nextId + 2 > ids.length) {
    crypto.getRandomValues(ids);
    nextId = 0;
  }
  const high = ids[nextId]!;
  const low = ids[nextId + 1]!;
  // Each id is used once: wiped as it is taken.
  ids[nextId++] = 0;
  ids[nextId++] = 0;
  return (high & 0x1fffff) * 2 ** 32 + low;
}

/** Who waits for a worker's death now: one `exited` reaction per worker, not per request. */
const exitWaiters = new WeakMap<WorkerProcess, { wait?: Wait }>();

function watchExit(worker: WorkerProcess): { wait?: Wait } {
  let watch = exitWaiters.get(worker);
  if (!watch) {
    const entry: { wait?: Wait } = {};
    watch = entry;
    exitWaiters.set(worker, entry);
    void worker.exited.then(() => entry.wait?.settle("exit"));
  }
  return watch;
}

/**
 * One wait for the first of: the reply (or a broken channel), the worker's
 * death, a deadline, the caller's abort. It is the deadline on the shared
 * clock (`at`, `fire`) and the abort listener (`handleEvent`) itself.
 */
class Wait {
  at: number;
  readonly done: Promise<Event>;
  #resolve!: (event: Event) => void;
  #settled = false;

  constructor(ms: number) {
    this.at = performance.now() + Math.max(0, ms);
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  settle(event: Event): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(event);
  }

  fire(): void {
    this.settle("timeout");
  }

  handleEvent(): void {
    this.settle("timeout");
  }
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
  const id = randomId();
  const watch = watchExit(worker);
  let wait = new Wait(timeoutMs);
  watch.wait = wait;
  if (worker.status) wait.settle("exit");
  if (signal?.aborted) wait.settle("timeout");
  clock.add(wait);
  signal?.addEventListener("abort", wait, { once: true });
  const release = () => {
    clock.remove(wait);
    signal?.removeEventListener("abort", wait);
    watch.wait = undefined;
  };
  // The request is under the deadline too: a worker that stopped reading its socket would
  // hold a request larger than the socket's buffer forever.
  const sent = await Promise.race([
    worker.send({ ...message, id }).then(() => "sent" as const, () => "unsent" as const),
    wait.done,
  ]);
  if (sent !== "sent") {
    release();
    if (sent === "unsent") return await lost(false, "The worker's pipe was closed");
    if (sent === "exit") return await lost(false, "The worker died");
    return await lost(true, "The worker did not take the request in time");
  }
  let reply: Record<string, unknown> | null = null;
  let replied: Event | undefined;
  worker.receive().then(
    (m) => {
      reply = m;
      replied = "reply";
      watch.wait?.settle("reply");
    },
    () => {
      replied = "error";
      watch.wait?.settle("error");
    },
  );
  let event: Event;
  try {
    event = await wait.done;
  } finally {
    release();
  }
  let timedOut = false;
  if (event === "timeout") {
    timedOut = true;
    worker.interrupt();
    // The grace: the reply (it may already be in), the death, or giving up.
    wait = new Wait(options.graceMs);
    watch.wait = wait;
    if (replied) wait.settle(replied);
    else if (worker.status) wait.settle("exit");
    clock.add(wait);
    try {
      event = await wait.done;
    } finally {
      clock.remove(wait);
      watch.wait = undefined;
    }
  }
  if (event === "reply" && reply) {
    const message: Record<string, unknown> = reply;
    if (message.id !== id || worker.unread > 0) {
      return await lost(timedOut, "The worker sent a reply nobody asked for: it was replaced");
    }
    return { kind: "reply", message, timedOut, elapsedMs: elapsed() };
  }
  if (event === "error") return await lost(timedOut, "The worker broke the pipe protocol");
  if (event === "timeout") return await lost(true, "The worker ignored the interrupt");
  return await lost(timedOut, "The worker died");
}
