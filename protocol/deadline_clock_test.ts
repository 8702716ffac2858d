import assert from "node:assert/strict";
import { DeadlineClock } from "./deadline_clock.ts";

Deno.test("a deadline fires once, after its time, within the resolution", async () => {
  const clock = new DeadlineClock(5);
  const started = performance.now();
  let fired = 0;
  await new Promise<void>((resolve) =>
    clock.after(50, () => {
      fired++;
      resolve();
    })
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 50, `fired after ${elapsed} ms`);
  assert.equal(fired, 1);
  assert.equal(clock.size, 0, "nothing is pending after it fired");
});

Deno.test("a removed deadline never fires and the clock goes idle", async () => {
  const clock = new DeadlineClock(5);
  let fired = false;
  const d = clock.after(20, () => (fired = true));
  clock.remove(d);
  assert.equal(clock.size, 0);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(fired, false);
});

Deno.test("many deadlines fire in their own time", async () => {
  const clock = new DeadlineClock(5);
  const order: number[] = [];
  await Promise.all([60, 20, 40].map((ms) =>
    new Promise<void>((resolve) =>
      clock.after(ms, () => {
        order.push(ms);
        resolve();
      })
    )
  ));
  assert.deepEqual(order, [20, 40, 60]);
});
