/**
 * The coding env end to end on the host: a real server (createApp + serve),
 * the typed client over WebSocket, real Python workers. Every hostile input
 * of docs/security.md whose protection applies on a host running as root (the
 * shared table of tests/helpers/coding_cases.ts, which the container suite
 * runs too), each followed by the same checks: the next step works, /health
 * answers, and no process of the worker uid is left but the fresh worker.
 *
 * Network access is blocked only by the container (NetworkMode none), and
 * filling the disk is bounded only by its tmpfs: those cases run in the
 * container suite (tests/coding_container_test.ts).
 */
import assert from "node:assert/strict";
import { createApp, type RunningServer, serve } from "../server/app.ts";
import {
  CodingEnv,
  CodingEnvironment,
  type CodingEnvironmentOptions,
  codingModels,
  processesOfUid,
  UidPool,
} from "../envs/coding/mod.ts";
import {
  assertEightEpisodesIsolated,
  CodingEpisode as Episode,
  type CodingPlace,
  forkBombCase,
  hostileCases,
} from "./helpers/coding_cases.ts";

const isRoot = Deno.uid() === 0;
const NOT_ROOT = "needs root: the worker's uid drop is what these protections rest on";
const SECRET = "do-not-leak";

// A uid range of this file's own, so that "nothing of the uid is left after
// close" cannot see another test file's worker that got the uid next.
const uidPool = new UidPool({ range: { first: 61100, count: 32 } });

const repo = new URL("..", import.meta.url).pathname;
const host: CodingPlace = {
  where: "host",
  serverPid: Deno.pid,
  secret: SECRET,
  outsidePaths: ["/etc/envtorch-probe", `${repo}envtorch-probe`, "/root/envtorch-probe"],
  writeRefused: /PermissionError/,
  processesOf: async (uid) => (await processesOfUid(uid)).map((p) => `${p.pid} ${p.name}`),
};

function startServer(options: CodingEnvironmentOptions = {}): RunningServer {
  const app = createApp(() => new CodingEnvironment({ uidPool, ...options }), codingModels, {
    maxSessions: 16,
    idleTimeoutS: 0,
  });
  return serve(app, { port: 0 });
}

/**
 * Waits until no process of `uid` exists, zombies included. A session's env
 * is closed by the server after its socket closes, so this is polled.
 */
async function assertNoProcessesOf(uid: number, withinMs = 5000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (true) {
    const left = await processesOfUid(uid, { includeZombies: true });
    if (!left.length) return;
    if (performance.now() > deadline) {
      assert.fail(`uid ${uid} still runs ${left.map((p) => `${p.pid} ${p.name} ${p.state}`)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "coding env on the host: hostile Python inputs end safely",
  ignore: !isRoot,
  fn: async (t) => {
    Deno.env.set("ENVTORCH_TEST_SECRET", SECRET);
    await using server = startServer({ timeoutS: 2, interruptGraceMs: 250 });
    await using ep = await Episode.open(server.baseUrl, host);
    const uid = ep.uid;
    assert.equal(ep.isolation?.uid_dropped, true);

    for (const hostile of hostileCases) {
      if (hostile.needs) {
        const why = hostile.needs === "container"
          ? "container only"
          : "on a server with maxProcesses, below";
        await t.step({ name: `${hostile.name} (${why})`, ignore: true, fn: () => {} });
        continue;
      }
      await t.step(hostile.name, () => hostile.run(ep));
    }

    await ep.env.close();
    await assertNoProcessesOf(uid);
  },
});

Deno.test({
  name: "coding env on the host: a fork bomb stops at RLIMIT_NPROC on a dedicated uid",
  ignore: !isRoot,
  fn: async () => {
    // Without a container's PidsLimit, the only safe bound on the host is
    // RLIMIT_NPROC, and only because the worker uid is dedicated to this session.
    await using server = startServer({ timeoutS: 2, maxProcesses: 32 });
    await using ep = await Episode.open(server.baseUrl, host);
    assert.equal(ep.isolation?.rlimits.nproc, 32);
    await forkBombCase.run(ep);
    const uid = ep.uid;
    await ep.env.close();
    await assertNoProcessesOf(uid);
  },
});

Deno.test({
  name: "coding env on the host: 8 concurrent episodes do not see each other's variables or files",
  ignore: !isRoot,
  fn: async () => {
    await using server = startServer({ timeoutS: 5 });
    const uids = await assertEightEpisodesIsolated(() => Episode.open(server.baseUrl, host));
    for (const uid of uids) await assertNoProcessesOf(uid);
  },
});

Deno.test({
  name: "coding env over HTTP and through the process provider",
  fn: async (t) => {
    await t.step("HTTP sessions keep their interpreter between requests", async () => {
      await using server = startServer({ timeoutS: 5 });
      await using ep = await Episode.open(server.baseUrl, host, "http");
      await ep.step("x = 20");
      assert.equal((await ep.step("x + 1")).stdout, "21\n");
    });
    await t.step("CodingEnv.fromProcess runs an episode in a child server", async () => {
      const env = await CodingEnv.fromProcess();
      let folder: string;
      try {
        const reset = await env.reset({
          task: { prompt: "double", tests: ["assert double(4) == 8"] },
        });
        folder = (reset.observation.metadata.work_dir as string).replace(/\/w(-\d+)?\/[^/]+$/, "");
        const result = await env.step({ code: "def double(n):\n    return 2 * n" });
        assert.deepEqual([result.reward, result.done], [1, true]);
        assert.equal((await env.state()).step_count, 1);
      } finally {
        await env.close();
      }
      // The child server waits for its sessions' teardown before it exits.
      await assert.rejects(() => Deno.lstat(folder), Deno.errors.NotFound);
    });
  },
});

Deno.test({
  name: "coding env on the host without root: skipped hostile suite says why",
  ignore: isRoot,
  fn: () => {
    console.log(`Hostile host tests skipped: ${NOT_ROOT}`);
  },
});
