import assert from "node:assert/strict";
import { UidPoolExhaustedError } from "./errors.ts";
import { parseUidRange, UidPool } from "./uid_pool.ts";

Deno.test("parseUidRange reads FIRST-LAST and a single uid", () => {
  assert.deepEqual(parseUidRange("60600-60663"), { first: 60600, count: 64 });
  assert.deepEqual(parseUidRange(" 70000 "), { first: 70000, count: 1 });
  for (const bad of ["", "a-b", "5-3", "-1", "1-99999999999"]) {
    assert.throws(() => parseUidRange(bad), TypeError, bad);
  }
});

Deno.test("a uid pool hands each uid to one holder at a time, across pools", async () => {
  const lockDir = await Deno.makeTempDir({ prefix: "envtorch-uid-test-" });
  try {
    const range = { first: 61990, count: 2 };
    const a = new UidPool({ range, lockDir });
    const b = new UidPool({ range, lockDir });
    const first = await a.acquire();
    const second = await b.acquire();
    assert.notEqual(first.uid, second.uid);
    assert.equal(first.gid, first.uid);
    await assert.rejects(() => a.acquire(), UidPoolExhaustedError);
    first.release();
    first.release();
    const again = await b.acquire();
    assert.equal(again.uid, first.uid);
    again.release();
    second.release();
  } finally {
    await Deno.remove(lockDir, { recursive: true });
  }
});

Deno.test("a uid pool fills every uid when all are asked for at once", async () => {
  const lockDir = await Deno.makeTempDir({ prefix: "envtorch-uid-test-" });
  try {
    const pool = new UidPool({ range: { first: 61950, count: 32 }, lockDir });
    const leases = await Promise.all(Array.from({ length: 32 }, () => pool.acquire()));
    assert.equal(new Set(leases.map((l) => l.uid)).size, 32);
    await assert.rejects(() => pool.acquire(), UidPoolExhaustedError);
    for (const lease of leases) lease.release();
  } finally {
    await Deno.remove(lockDir, { recursive: true });
  }
});

Deno.test("a uid pool refuses ranges that are not dedicated", async () => {
  const lockDir = await Deno.makeTempDir({ prefix: "envtorch-uid-test-" });
  try {
    await assert.rejects(
      () => new UidPool({ range: { first: 0, count: 3 }, lockDir }).acquire(),
      /must not include 0/,
    );
    const self = Deno.uid()!;
    await assert.rejects(
      () => new UidPool({ range: { first: Math.max(1, self), count: 1 }, lockDir }).acquire(),
      self === 0 ? /not dedicated/ : /server's uid/,
    );
  } finally {
    await Deno.remove(lockDir, { recursive: true });
  }
});

Deno.test("a uid pool refuses a lock folder someone else can write", async () => {
  const lockDir = await Deno.makeTempDir({ prefix: "envtorch-uid-test-" });
  try {
    await Deno.chmod(lockDir, 0o777);
    await assert.rejects(
      () => new UidPool({ range: { first: 61990, count: 1 }, lockDir }).acquire(),
      /Unsafe folder/,
    );
  } finally {
    await Deno.remove(lockDir, { recursive: true });
  }
});
