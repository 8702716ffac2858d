/**
 * Waits for a condition that becomes true asynchronously (a slot freed after
 * a socket closed, a container removed), failing with a clear message.
 *
 * @module
 */
import { delay } from "../../protocol/deadline.ts";

/** Polls `check` until it returns true, or throws after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    }
    await delay(10);
  }
}
