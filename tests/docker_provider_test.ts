/**
 * The Docker provider against real containers of the echo image: episodes
 * over both transports (unix socket with no network, and a port published
 * on 127.0.0.1), the hardening read back from the engine and seen from
 * inside the container, explicit limits, and close() leaving nothing.
 */
import assert from "node:assert/strict";
import { ConnectionError } from "../protocol/errors.ts";
import { EchoEnv } from "../envs/echo/client.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import { LABELS } from "../providers/docker/labels.ts";
import { SECCOMP_SECURITY_OPT } from "../providers/docker/seccomp.ts";
import {
  buildTestImage,
  containersOf,
  dockerTest,
  ECHO_IMAGE,
  ensureEchoImage,
  removeContainersOf,
  runLabel,
} from "./docker_helpers.ts";

const GIB = 1024 ** 3;

async function episode(env: EchoEnv) {
  const reset = await env.reset({ seed: 7 });
  assert.equal(reset.observation.echoed_message, "Echo environment ready!");
  const result = await env.step({ message: "Hello, World!" });
  assert.equal(result.observation.echoed_message, "Hello, World!");
  assert.equal(result.reward, 1.3);
  assert.equal(result.done, false);
  const state = await env.state();
  assert.equal(state.step_count, 1);
  assert.equal(state.seed, 7);
}

/**
 * The first log line of a container matching `pattern`, read from the
 * engine's follow stream (existing lines, then new ones as they are stored).
 * Resolves with what was read so far if the container stops or 30 s pass.
 */
async function logLine(engine: DockerEngine, id: string, pattern: RegExp): Promise<string> {
  const signal = AbortSignal.timeout(30_000);
  const decoder = new TextDecoder();
  let text = "";
  try {
    const frames = await engine.containers.followLogs(id, { signal });
    for await (const frame of frames) {
      text += decoder.decode(frame.data);
      const line = text.split("\n").find((l) => pattern.test(l));
      if (line) return line;
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
  return text;
}

function socketDirOf(baseUrl: string): string {
  return baseUrl.replace(/^unix:/, "").replace(/\/sock\/env\.sock$/, "");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

dockerTest(
  "docker provider runs echo episodes on a unix socket and on a published port",
  async (t) => {
    await using engine = new DockerEngine();
    await ensureEchoImage(engine);
    const labels = runLabel();
    await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
    try {
      await t.step("unix socket, network none: WebSocket and HTTP episodes", async () => {
        await using server = await docker.start(ECHO_IMAGE, { transport: "unix", labels });
        assert.match(server.baseUrl, /^unix:\/.*\/envtorch-docker-[^/]+\/sock\/env\.sock$/);
        const info = await server.inspect();
        assert.equal(info.HostConfig.NetworkMode, "none");
        assert.deepEqual(info.HostConfig.PortBindings ?? {}, {});
        {
          await using ws = new EchoEnv({ baseUrl: server.baseUrl });
          await episode(ws);
        }
        {
          await using http = new EchoEnv({ baseUrl: server.baseUrl, transport: "http" });
          await episode(http);
        }
        // The process writes this line before it answers /health, but the engine's log
        // copier may not have stored it yet: a logs() snapshot can lag (it read '' once
        // under --parallel). Follow the log stream until the line arrives.
        assert.match(
          await logLine(engine, server.id, /serving echo on unix:\/run\/envtorch\/env\.sock/),
          /serving echo on unix:\/run\/envtorch\/env\.sock/,
        );
      });

      await t.step("a port on 127.0.0.1 forwarded to the socket, network still none", async () => {
        await using server = await docker.start(ECHO_IMAGE, { transport: "tcp", labels });
        assert.match(server.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
        const info = await server.inspect();
        assert.equal(info.HostConfig.NetworkMode, "none");
        assert.deepEqual(info.HostConfig.PortBindings ?? {}, {});
        const port = new URL(server.baseUrl).port;
        assert.equal(info.Config.Labels?.[LABELS.forward], `127.0.0.1:${port}`);
        // A port is open to every local user, so the server was given a token.
        assert.ok(server.token && server.token.length >= 16, "a TCP container has a token");
        const anonymous = await fetch(`${server.baseUrl}/state`);
        assert.equal(anonymous.status, 401, "the container's server asks for it");
        await anonymous.body?.cancel();
        {
          await using ws = new EchoEnv({ baseUrl: server.baseUrl, token: server.token });
          await episode(ws);
        }
        {
          await using http = new EchoEnv({
            baseUrl: server.baseUrl,
            transport: "http",
            token: server.token,
          });
          await episode(http);
        }
      });
    } finally {
      await removeContainersOf(engine, labels);
    }
  },
);

dockerTest("docker provider hardens every container as docs/security.md asks", async (t) => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
  try {
    await using server = await docker.start(ECHO_IMAGE, { transport: "unix", labels });
    const info = await server.inspect();
    const hc = info.HostConfig;

    await t.step("the HostConfig read back from the engine matches docs/security.md", () => {
      assert.deepEqual(hc.CapDrop, ["ALL"]);
      assert.ok(!hc.CapAdd?.length, `CapAdd is ${JSON.stringify(hc.CapAdd)}`);
      assert.ok(hc.SecurityOpt?.includes("no-new-privileges"));
      assert.ok(hc.SecurityOpt?.includes(SECCOMP_SECURITY_OPT));
      assert.ok(!hc.SecurityOpt?.some((o) => o.includes("unconfined")));
      assert.equal(hc.ReadonlyRootfs, true);
      assert.deepEqual(hc.Tmpfs, { "/tmp": "rw,noexec,nosuid,nodev,size=64m" });
      assert.equal(hc.IpcMode, "private");
      assert.equal(hc.Sysctls?.["kernel.shmmax"], "16777216");
      assert.equal(hc.Memory, GIB);
      assert.equal(hc.MemorySwap, GIB);
      assert.equal(hc.NanoCpus, 1e9);
      assert.equal(hc.PidsLimit, 128);
      const ulimits = Object.fromEntries((hc.Ulimits ?? []).map((u) => [u.Name, [u.Soft, u.Hard]]));
      assert.deepEqual(ulimits, { nofile: [1024, 1024], core: [0, 0] });
      assert.equal(hc.Init, true);
      assert.equal(hc.NetworkMode, "none");
      assert.equal(hc.LogConfig?.Type, "json-file");
      assert.ok(hc.LogConfig?.Config?.["max-size"]);
      assert.equal(hc.Privileged, false);
      assert.equal(hc.Binds?.length, 1);
      assert.match(hc.Binds![0]!, /\/envtorch-docker-[^/]+\/sock:\/run\/envtorch:rw$/);
      assert.ok(!hc.Binds!.some((b) => b.includes("docker.sock")));
    });

    await t.step("the container carries the managed, session, owner and expiry labels", () => {
      const l = info.Config.Labels ?? {};
      assert.equal(l[LABELS.managed], "true");
      assert.equal(l[LABELS.session], server.session);
      assert.equal(l[LABELS.ownerPid], String(Deno.pid));
      assert.ok(l[LABELS.ownerStart]);
      const expires = new Date(l[LABELS.expires]!).getTime();
      assert.ok(expires > Date.now() + 3600_000, `expires ${l[LABELS.expires]}`);
    });

    await t.step(
      "inside, every process has CapEff 0 and NoNewPrivs 1 and is not root",
      async () => {
        const { exitCode, stdout } = await engine.exec.run(server.id, [
          "sh",
          "-c",
          "grep -H -E '^(Name|Uid|CapEff|NoNewPrivs):' /proc/[0-9]*/status",
        ]);
        assert.equal(exitCode, 0);
        const byPid = new Map<string, Record<string, string>>();
        for (const line of stdout.trim().split("\n")) {
          const m = line.match(/^\/proc\/(\d+)\/status:(\w+):\s*(.*)$/);
          if (!m) continue;
          byPid.set(m[1]!, { ...byPid.get(m[1]!), [m[2]!]: m[3]! });
        }
        const names = [...byPid.values()].map((p) => p.Name);
        assert.ok(names.includes("deno"), `processes: ${names.join(", ")}`);
        for (const [pid, p] of byPid) {
          assert.equal(p.CapEff, "0000000000000000", `pid ${pid} (${p.Name}) CapEff`);
          assert.equal(p.NoNewPrivs, "1", `pid ${pid} (${p.Name}) NoNewPrivs`);
          assert.ok(!p.Uid?.split(/\s+/).includes("0"), `pid ${pid} (${p.Name}) runs as root`);
        }
      },
    );

    await t.step("the root filesystem is read-only and /tmp is noexec", async () => {
      const write = await engine.exec.run(server.id, ["sh", "-c", "touch /opt/envtorch/x"]);
      assert.notEqual(write.exitCode, 0);
      assert.match(write.stderr, /Read-only file system/);
      const exec = await engine.exec.run(server.id, [
        "sh",
        "-c",
        "cp /bin/true /tmp/t && /tmp/t",
      ]);
      assert.notEqual(exec.exitCode, 0);
      assert.match(exec.stderr, /Permission denied/);
    });

    await t.step("the container has no network but loopback", async () => {
      const { stdout } = await engine.exec.run(server.id, ["cat", "/proc/net/dev"]);
      const interfaces = stdout.split("\n").slice(2).map((l) => l.split(":")[0]!.trim()).filter(
        Boolean,
      );
      assert.deepEqual(interfaces, ["lo"]);
    });
  } finally {
    await removeContainersOf(engine, labels);
  }
});

dockerTest("docker provider raises limits only when asked, and checks them", async (t) => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
  try {
    await t.step("explicit memory, cpus, pids, env and tmpfs are applied", async () => {
      await using server = await docker.start(ECHO_IMAGE, {
        transport: "unix",
        labels,
        memoryBytes: 512 * 1024 ** 2,
        cpus: 0.5,
        pids: 64,
        env: { ENVTORCH_TEST_VAR: "hello" },
        tmpfs: { "/scratch": "rw,noexec,nosuid,size=8m" },
      });
      const hc = (await server.inspect()).HostConfig;
      assert.equal(hc.Memory, 512 * 1024 ** 2);
      assert.equal(hc.MemorySwap, 512 * 1024 ** 2);
      assert.equal(hc.NanoCpus, 5e8);
      assert.equal(hc.PidsLimit, 64);
      assert.equal(hc.Tmpfs?.["/scratch"], "rw,noexec,nosuid,size=8m");
      const { stdout } = await engine.exec.run(server.id, ["sh", "-c", "echo $ENVTORCH_TEST_VAR"]);
      assert.equal(stdout.trim(), "hello");
      await using env = new EchoEnv({ baseUrl: server.baseUrl });
      await episode(env);
    });

    await t.step("capabilities beyond SETUID, SETGID and KILL are refused", async () => {
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        docker.start(ECHO_IMAGE, { labels, capAdd: ["SYS_ADMIN" as any] }),
        /Capability SYS_ADMIN cannot be added/,
      );
      assert.deepEqual(await containersOf(engine, labels), []);
    });
  } finally {
    await removeContainersOf(engine, labels);
  }
});

dockerTest(
  "an image's labels ask for capabilities and limits: granted only within the allowed set, read back, the caller's options win",
  async (t) => {
    await using engine = new DockerEngine();
    await ensureEchoImage(engine);
    const labels = runLabel();
    const tags: string[] = [];
    await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
    try {
      const asking = await buildTestImage(
        engine,
        `envtorch-test-asks:${labels["envtorch.test"]}`,
        `FROM ${ECHO_IMAGE}\nLABEL envtorch.cap-add="KILL" envtorch.pids="96" envtorch.memory="768m" envtorch.tmp-size="16m"\n`,
        labels,
      );
      tags.push(asking);
      await t.step("what the image asks for is applied, read back and reported", async () => {
        await using server = await docker.start(asking, { transport: "unix", labels });
        const hc = (await server.inspect()).HostConfig;
        assert.deepEqual(hc.CapAdd, ["KILL"]);
        assert.deepEqual(hc.CapDrop, ["ALL"]);
        assert.equal(hc.PidsLimit, 96);
        assert.equal(hc.Memory, 768 * 1024 ** 2);
        assert.equal(hc.Tmpfs?.["/tmp"], "rw,noexec,nosuid,nodev,size=16m");
        assert.deepEqual(server.imageHardening, {
          capAdd: ["KILL"],
          pids: 96,
          memoryBytes: 768 * 1024 ** 2,
          tmpSize: "16m",
        });
        await using env = new EchoEnv({ baseUrl: server.baseUrl });
        await episode(env);
      });
      await t.step("the caller's explicit options win, field by field", async () => {
        await using server = await docker.start(asking, {
          transport: "unix",
          labels,
          capAdd: [],
          pids: 64,
          memoryBytes: undefined,
        });
        const hc = (await server.inspect()).HostConfig;
        assert.ok(!hc.CapAdd?.length, `CapAdd is ${JSON.stringify(hc.CapAdd)}`);
        assert.equal(hc.PidsLimit, 64);
        assert.equal(hc.Memory, 768 * 1024 ** 2);
      });
      await t.step("a label asking for another capability starts nothing", async () => {
        const greedy = await buildTestImage(
          engine,
          `envtorch-test-greedy:${labels["envtorch.test"]}`,
          `FROM ${ECHO_IMAGE}\nLABEL envtorch.cap-add="SETUID,SYS_ADMIN"\n`,
          labels,
        );
        tags.push(greedy);
        await assert.rejects(
          docker.start(greedy, { labels }),
          /asks for capability SYS_ADMIN \(label envtorch\.cap-add\): only SETUID, SETGID and KILL/,
        );
        assert.deepEqual(await containersOf(engine, labels), []);
      });
    } finally {
      await removeContainersOf(engine, labels);
      for (const tag of tags) await engine.images.remove(tag, { force: true }).catch(() => {});
    }
  },
);

dockerTest("close() stops and removes the container and its socket folder", async (t) => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  try {
    await t.step("EchoEnv.fromDockerImage: close() leaves nothing", async () => {
      const env = await EchoEnv.fromDockerImage(ECHO_IMAGE, {
        docker: { labels, transport: "unix", reapOnStart: false },
      });
      const dir = socketDirOf(env.baseUrl);
      await episode(env);
      const [id] = await containersOf(engine, labels);
      assert.ok(id);
      assert.equal((await engine.containers.inspect(id)).State.Running, true);
      await env.close();
      assert.deepEqual(await containersOf(engine, labels), []);
      assert.equal(await exists(dir), false, `${dir} was left behind`);
      await assert.rejects(env.step({ message: "after close" }), ConnectionError);
    });

    await t.step("a provider's start() handle: stop() is safe to call twice", async () => {
      await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
      const server = await docker.start(ECHO_IMAGE, { transport: "tcp", labels });
      await server.stop();
      await server.stop();
      assert.deepEqual(await containersOf(engine, labels), []);
    });

    await t.step("closing the provider removes what it started and still runs", async () => {
      const docker = new LocalDockerProvider({ engine, reapOnStart: false });
      await docker.start(ECHO_IMAGE, { transport: "unix", labels });
      assert.equal((await containersOf(engine, labels)).length, 1);
      await docker.close();
      assert.deepEqual(await containersOf(engine, labels), []);
    });
  } finally {
    await removeContainersOf(engine, labels);
  }
});
