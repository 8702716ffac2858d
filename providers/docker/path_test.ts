import assert from "node:assert/strict";
import { path } from "./path.ts";

Deno.test("path encodes parameters", async (t) => {
  await t.step("plain ids pass through", () => {
    assert.equal(path`/containers/${"abc123"}/json`, "/containers/abc123/json");
  });
  await t.step("slashes, queries and spaces are encoded", () => {
    assert.equal(
      path`/images/${"echo-env:latest"}/json`,
      "/images/echo-env%3Alatest/json",
    );
    assert.equal(path`/containers/${"a/../b?x=1 y"}`, "/containers/a%2F..%2Fb%3Fx%3D1%20y");
  });
  await t.step("empty, . and .. are refused", () => {
    for (const bad of ["", ".", ".."]) {
      assert.throws(() => path`/containers/${bad}/json`, /Invalid path parameter/);
    }
  });
});
