/**
 * Bench-only: GC (when the process runs with `--v8-flags=--expose-gc`), then
 * RSS and heap use as JSON, for memory-per-session measurements.
 *
 * @module
 */
import { delay } from "../protocol/deadline.ts";

/** GC three times, then RSS and heap, as a JSON response. */
export async function memoryResponse(): Promise<Response> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let k = 0; k < 3; k++) {
    gc?.();
    await delay(50);
  }
  const m = Deno.memoryUsage();
  return Response.json({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, gc: !!gc });
}
