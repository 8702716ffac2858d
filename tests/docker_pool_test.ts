/**
 * EnvPool and VectorEnv over real echo containers: warm checkout, a
 * container killed under the pool and under a vector env, nothing leaked.
 */
import assert from "node:assert/strict";
import { ConnectionError, EchoEnv, EnvPool, VectorEnv } from "../mod.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import {
  containersOf,
  dockerTest,
  ECHO_IMAGE,
  ensureEchoImage,
  removeContainersOf,
  runLabel,
} from "./docker_helpers.ts";
import { eventually } from "./helpers/eventually.ts";

dockerTest(
  "a pool of echo containers: warm checkout, a killed one replaced, none left",
  async () => {
    await using engine = new DockerEngine();
    await ensureEchoImage(engine);
    const label = runLabel();
    const pool = await EnvPool.create({
      size: 2,
      create: (signal) =>
        EchoEnv.fromDockerImage(ECHO_IMAGE, { signal, docker: { labels: label } }),
    });
    try {
      assert.equal((await containersOf(engine, label)).length, 2);
      const started = performance.now();
      const env = await pool.checkout();
      assert.ok(performance.now() - started < 50, "a warm env is handed out at once");
      await env.reset();
      assert.equal((await env.step({ message: "Hello, World!" })).reward, 1.3);

      // Kill both: the one in use (found at its next call) and the idle one (found by the sweep).
      const victims = await containersOf(engine, label);
      for (const id of victims) await engine.containers.kill(id, { killSignal: "SIGKILL" });
      await assert.rejects(env.step({ message: "anyone there?" }), ConnectionError);
      await pool.release(env);
      await eventually("the pool replaced both dead containers", async () => {
        const live = [];
        for (const id of await containersOf(engine, label)) {
          const info = await engine.containers.inspect(id).catch(() => undefined);
          if (info?.State?.Running && !victims.includes(id)) live.push(id);
        }
        return live.length === 2 && pool.stats.idle === 2;
      }, 30_000);
      assert.equal(pool.stats.replaced, 2);
      const fresh = await pool.checkout();
      await fresh.reset();
      assert.equal((await fresh.step({ message: "back" })).reward, 0.4);
      await pool.release(fresh);
    } finally {
      await pool.close();
    }
    await eventually(
      "every container is removed",
      async () => (await containersOf(engine, label)).length === 0,
      15_000,
    );
    await removeContainersOf(engine, label);
  },
);

dockerTest("a container killed under a vector env fails only its env", async () => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const label = runLabel();
  try {
    const envs = await Promise.all(
      [0, 1, 2].map(() => EchoEnv.fromDockerImage(ECHO_IMAGE, { docker: { labels: label } })),
    );
    await using vec = new VectorEnv(envs, { stepTimeoutS: 10 });
    await vec.reset({ seed: 1 });
    const ids = await containersOf(engine, label);
    assert.equal(ids.length, 3);
    await engine.containers.kill(ids[0]!, { killSignal: "SIGKILL" });
    const r = await vec.step([{ message: "a" }, { message: "bb" }, { message: "ccc" }]);
    const failed = r.errors.filter((e) => e !== null);
    assert.equal(failed.length, 1, "exactly the killed container's env failed");
    assert.ok(failed[0] instanceof ConnectionError);
    assert.deepEqual(
      r.rewards.filter((x) => x !== null).length,
      2,
      "the other two stepped",
    );
  } finally {
    await eventually(
      "vector env close removed the containers",
      async () => (await containersOf(engine, label)).length === 0,
      15_000,
    ).catch(() => {});
    assert.equal(await removeContainersOf(engine, label), 0, "nothing was left behind");
  }
});
