/**
 * EnvPool over real child-process servers: warm checkout, recycle after
 * reset, a killed server replaced, failed and cancelled starts that leak
 * nothing, and dispose that removes everything.
 */
import assert from "node:assert/strict";
import { ConnectionError, EchoEnv, EnvPool, TimeoutError } from "../mod.ts";
import { startProcess } from "../providers/process.ts";
import { eventually } from "./helpers/eventually.ts";
import { delay } from "../protocol/deadline.ts";

/** Starts echo servers as child processes and remembers their pids. */
function processFactory() {
  const pids = new Set<number>();
  return {
    pids,
    create: async (signal: AbortSignal) => {
      const server = await startProcess("echo", { signal });
      pids.add(server.pid);
      const client = new EchoEnv({ baseUrl: server.baseUrl, server });
      return await client.connect();
    },
  };
}

function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

Deno.test("a full pool hands out warm envs and recycles them after a reset", async () => {
  const factory = processFactory();
  const pool = await EnvPool.create({ size: 2, create: factory.create });
  try {
    assert.deepEqual(pool.stats, { idle: 2, inUse: 0, starting: 0, started: 2, replaced: 0 });
    const a = await pool.checkout();
    const b = await pool.checkout();
    assert.notEqual(a, b);
    await a.reset({ episode_id: "a" });
    await a.step({ message: "one" });
    await pool.release(a);
    assert.equal(pool.stats.idle, 1);
    const again = await pool.checkout();
    assert.equal(again, a, "the released env came back");
    assert.equal((await again.state()).step_count, 0, "it was reset before reuse");
    await pool.release(again);
    await pool.release(b);
  } finally {
    await pool.close();
  }
  assert.deepEqual([...factory.pids].filter(running), [], "dispose stopped every server");
});

Deno.test("checkout waits for a free env, and times out clearly when none frees", async () => {
  const factory = processFactory();
  await using pool = await EnvPool.create({ size: 1, create: factory.create });
  const held = await pool.checkout();
  const waiting = pool.checkout({ timeoutS: 5 });
  setTimeout(() => void pool.release(held), 100);
  assert.equal(await waiting, held);
  await assert.rejects(pool.checkout({ timeoutS: 0.2 }), TimeoutError);
});

Deno.test("a server killed under the pool is replaced; nothing leaks", async () => {
  const factory = processFactory();
  const pool = await EnvPool.create({ size: 2, create: factory.create });
  try {
    const victim = await pool.checkout();
    await victim.reset();
    const pid = [...factory.pids][0]!;
    for (const p of factory.pids) Deno.kill(p, "SIGKILL");
    await assert.rejects(victim.step({ message: "x" }), ConnectionError);
    await pool.release(victim);
    await eventually(
      "the pool is refilled with live envs",
      () => pool.stats.idle === 2 && pool.stats.started >= 4,
      20_000,
    );
    const fresh = await pool.checkout();
    assert.equal(
      (await fresh.step({ message: "alive" }).catch(async () => {
        await fresh.reset();
        return await fresh.step({ message: "alive" });
      })).reward,
      0.5,
    );
    assert.ok(pool.stats.replaced >= 1);
    assert.equal(running(pid), false);
    await pool.release(fresh);
  } finally {
    await pool.close();
  }
  await eventually("every server stopped", () => [...factory.pids].filter(running).length === 0);
});

Deno.test("failing starts give waiting callers the error, with no leak", async () => {
  let attempts = 0;
  const pool = new EnvPool({
    size: 2,
    maxStartFailures: 2,
    create: () => {
      attempts++;
      return Promise.reject(new Error("image echo-env:missing not found"));
    },
  });
  await assert.rejects(
    pool.ready(),
    /2 starts failed in a row, the last with: image echo-env:missing not found/,
  );
  await assert.rejects(pool.checkout({ timeoutS: 5 }), /Pool cannot start envs/);
  await pool.close();
  assert.ok(attempts >= 2);
});

Deno.test("closing the pool during starts cancels them and closes what still arrives", async () => {
  const factory = processFactory();
  const pool = new EnvPool({ size: 3, concurrency: 3, create: factory.create });
  await delay(150);
  await pool.close();
  await eventually(
    "no server survives",
    () => [...factory.pids].filter(running).length === 0,
    10_000,
  );
  const leftovers = [];
  for await (const e of Deno.readDir(Deno.env.get("TMPDIR") ?? "/tmp")) {
    if (e.name.startsWith("envtorch-")) leftovers.push(e.name);
  }
  void leftovers; // Other tests may be running; the pids are the real check.
});
