/**
 * Waiting for a server to answer `GET /health`, shared by every provider.
 *
 * @module
 */
import { TimeoutError } from "../protocol/errors.ts";
import { delay, withDeadline } from "../protocol/deadline.ts";
import { httpClientFor, parseBaseUrl } from "../client/transport.ts";
import { readCappedText } from "./read_capped.ts";

/** The most of a `/health` answer that is read (a healthy one is a few bytes). */
export const MAX_HEALTH_BODY_BYTES = 64 * 1024;

/** Options of {@link waitForHealth}. */
export interface WaitForHealthOptions {
  /**
   * Seconds to wait in all.
   * @default 30
   */
  timeoutS?: number;
  /**
   * Seconds between attempts.
   * @default 0.01
   */
  intervalS?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** Resolves when the server's process has exited: stop waiting at once. */
  exited?: Promise<{ code: number; signal?: string | null }>;
}

/** Polls `GET /health` until it answers `{"status":"healthy"}`; throws otherwise. */
export async function waitForHealth(
  baseUrl: string,
  options: WaitForHealthOptions = {},
): Promise<void> {
  const timeoutS = options.timeoutS ?? 30;
  const intervalMs = (options.intervalS ?? 0.01) * 1000;
  const endpoint = parseBaseUrl(baseUrl);
  const client = httpClientFor(endpoint);
  let exit: { code: number; signal?: string | null } | undefined;
  options.exited?.then((status) => (exit = status), () => {});
  const deadline = performance.now() + timeoutS * 1000;
  let last = "no answer yet";
  try {
    while (true) {
      options.signal?.throwIfAborted();
      if (exit) {
        throw new Error(
          `the server exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}`,
        );
      }
      // Each attempt may take up to 2 s (less near the end); the caller's signal ends it at once.
      const attemptS = Math.max(100, Math.min(2000, deadline - performance.now())) / 1000;
      try {
        const status = await withDeadline(
          "GET /health",
          { signal: options.signal, timeoutS: attemptS },
          async ({ signal }) => {
            const res = await fetch(`${endpoint.httpBase}/health`, { client, signal });
            const body = await readCappedText(res.body, MAX_HEALTH_BODY_BYTES, "/health");
            return res.ok && body.includes("healthy") ? undefined : `HTTP ${res.status}`;
          },
        );
        if (status === undefined) return;
        last = status;
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const e = error as Error;
        const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
        last = `${e.message}${cause}`;
      }
      if (performance.now() >= deadline) {
        throw new TimeoutError(
          `${baseUrl} never answered /health after ${timeoutS} s (last: ${last})`,
        );
      }
      await delay(intervalMs, { signal: options.signal });
    }
  } finally {
    client?.close();
  }
}
