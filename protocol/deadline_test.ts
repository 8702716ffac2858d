import assert from "node:assert/strict";
import { delay, withDeadline } from "./deadline.ts";
import { TimeoutError } from "./errors.ts";

Deno.test("withDeadline gives fn's result, and fn's own error as it is", async () => {
  assert.equal(await withDeadline("call", { timeoutS: 5 }, () => Promise.resolve(7)), 7);
  const own = new RangeError("own");
  await assert.rejects(
    withDeadline("call", { timeoutS: 5 }, () => Promise.reject(own)),
    (e) => e === own,
  );
  await assert.rejects(
    withDeadline("call", { timeoutS: 5 }, () => {
      throw own;
    }),
    (e) => e === own,
    "a synchronous throw is a rejection too",
  );
});

Deno.test("withDeadline: past the timeout, the call's signal aborts and a TimeoutError names it", async () => {
  let aborted: unknown;
  const error = await withDeadline(
    "GET /slow",
    { timeoutS: 0.05 },
    ({ signal }) =>
      new Promise((_, reject) => {
        signal.addEventListener("abort", () => {
          aborted = signal.reason;
          reject(signal.reason);
        });
      }),
  ).catch((e) => e);
  assert.ok(error instanceof TimeoutError);
  assert.equal(error.message, "GET /slow got no answer within 0.05 s");
  assert.equal((aborted as DOMException).name, "TimeoutError");
});

Deno.test("withDeadline: the caller's abort rejects with the caller's reason, before or during", async () => {
  const reason = new Error("stop");
  await assert.rejects(
    withDeadline("call", { timeoutS: 5, signal: AbortSignal.abort(reason) }, () => {
      throw new Error("fn must not run");
    }),
    (e) => e === reason,
  );
  const controller = new AbortController();
  const running = withDeadline(
    "call",
    { timeoutS: 5, signal: controller.signal },
    (c) => new Promise((_, reject) => c.onCancel(() => reject(new Error("cancelled")))),
  );
  controller.abort(reason);
  await assert.rejects(running, (e) => e === reason);
});

Deno.test("delay waits, and rejects with the signal's reason when aborted", async () => {
  const started = performance.now();
  await delay(30);
  assert.ok(performance.now() - started >= 25);
  const reason = new Error("stop");
  await assert.rejects(delay(10_000, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
  const controller = new AbortController();
  const waiting = delay(10_000, { signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
});
