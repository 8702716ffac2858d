import assert from "node:assert/strict";
import { firstDifference, formatPath, pathMatcher } from "./json_diff.ts";

Deno.test("firstDifference finds the first differing path, keys in sorted order", () => {
  assert.equal(firstDifference({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }), undefined);
  const d = firstDifference({ z: 1, b: { c: [1, 2] } }, { z: 2, b: { c: [1, 3] } });
  assert.deepEqual(d && { path: d.path, expected: d.expected, actual: d.actual }, {
    path: "b.c[1]",
    expected: 2,
    actual: 3,
  });
  const missing = firstDifference({ a: 1 }, {});
  assert.equal(missing?.path, "a");
  assert.equal(missing?.actual, undefined);
  assert.equal(firstDifference([1], [1, 2])?.path, "[1]");
  assert.equal(firstDifference({ "odd key": 1 }, { "odd key": 2 })?.path, '"odd key"');
});

Deno.test("firstDifference honours ignore rules and a numeric tolerance", () => {
  const ignore = pathMatcher(["**.duration_ms", "state.episode_id", "obs.*.id"]);
  assert.equal(
    firstDifference(
      { r: { duration_ms: 3 }, state: { episode_id: "a" }, obs: { x: { id: 1 } } },
      { r: { duration_ms: 9 }, state: { episode_id: "b" }, obs: { x: { id: 2 } } },
      { ignore },
    ),
    undefined,
  );
  assert.equal(firstDifference({ r: 1.3 }, { r: 1.3000000000000003 })?.path, "r");
  assert.equal(
    firstDifference({ r: 1.3 }, { r: 1.3000000000000003 }, { tolerance: 1e-9 }),
    undefined,
  );
  assert.equal(formatPath(["a", 0, "b"]), "a[0].b");
});
