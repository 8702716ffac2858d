/**
 * The Docker provider's answers to the red team's container findings, each
 * as the attack was made, against the real engine: a published port must
 * not give the container a network, System V shared memory is bounded and
 * dies with its process, image labels cannot ask for unbounded resources,
 * an image VOLUME adds no writable unsized mount, an image cannot plant
 * `envtorch.*` labels (the reaper never removes a folder one names), and
 * the seccomp profile refuses io_uring.
 */
import assert from "node:assert/strict";
import { CodingEnv } from "../envs/coding/client.ts";
import { EchoEnv } from "../envs/echo/client.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { LABELS } from "../providers/docker/labels.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import { reapContainers } from "../providers/docker/managed_containers.ts";
import {
  buildTestImage,
  CODING_IMAGE,
  containersOf,
  dockerTest,
  ECHO_IMAGE,
  ensureCodingImage,
  ensureEchoImage,
  removeContainersOf,
  runLabel,
  TEST_LABEL,
} from "./docker_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Python that reports what network the worker has. */
const NETWORK_PROBE = `
import socket, json
names = [n for _, n in socket.if_nameindex()]
routes = open('/proc/net/route').read().strip().split('\\n')[1:]
try:
    s = socket.create_connection(('1.1.1.1', 53), timeout=2)
    outcome = 'connected'
except OSError as e:
    outcome = type(e).__name__ + ':' + str(e.errno)
print(json.dumps({'interfaces': names, 'routes': len(routes), 'connect': outcome}))
`;

/** Python that tries System V shared memory as the attack did. */
const SHM_PROBE = `
import ctypes, json, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT, IPC_PRIVATE = 0o1000, 0
def shmget(size):
    r = libc.shmget(IPC_PRIVATE, ctypes.c_size_t(size), IPC_CREAT | 0o600)
    return r if r >= 0 else -ctypes.get_errno()
out = {k: int(open('/proc/sys/kernel/' + k).read()) for k in ('shmmax', 'shmall', 'shmmni', 'msgmnb', 'shm_rmid_forced')}
out['big'] = shmget(256 * 1024 * 1024)
# Park memory as the attack did: a child creates, fills, detaches and exits.
child = '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
for i in range(4):
    sid = libc.shmget(0, ctypes.c_size_t(4 * 1024 * 1024), 0o1000 | 0o600)
    if sid < 0: break
    addr = libc.shmat(sid, None, 0)
    ctypes.memset(addr, 1, 4 * 1024 * 1024)
    libc.shmdt(ctypes.c_void_p(addr))
'''
subprocess.run([sys.executable, '-c', child], check=True)
out['left_after_child'] = len(open('/proc/sysvipc/shm').read().strip().split('\\n')) - 1
print(json.dumps(out))
`;

/** Python that checks the seccomp filter from inside. */
const SECCOMP_PROBE = `
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)
params = ctypes.create_string_buffer(120)
r = libc.syscall(425, 8, params)  # io_uring_setup(8, &params)
uring = errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno())) if r < 0 else 'fd'
r = libc.unshare(0x10000000)  # CLONE_NEWUSER
userns = errno.errorcode.get(ctypes.get_errno()) if r < 0 else 'created'
print(json.dumps({'seccomp': status['Seccomp'].strip(), 'io_uring_setup': uring, 'unshare_user': userns}))
`;
import { firstLine } from "./helpers/first_line.ts";

async function stepJson(env: CodingEnv, code: string): Promise<Record<string, unknown>> {
  const { observation } = await env.step({ code });
  assert.equal(observation.exit_code, 0, observation.stderr);
  return JSON.parse(observation.stdout);
}

dockerTest(
  "envtorch run coding --port: the container keeps network none, only lo, reset says network_blocked",
  async (t) => {
    await using engine = new DockerEngine();
    await ensureCodingImage(engine);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        CONFIG,
        MAIN,
        "run",
        CODING_IMAGE,
        "--port",
        "0",
        "--json",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let id: string | undefined;
    try {
      const line = await firstLine(child.stdout);
      if (!line) {
        child.kill();
        assert.fail(`envtorch run printed nothing: ${await stderr}`);
      }
      const started = JSON.parse(line) as { url: string; id: string; token?: string };
      id = started.id;
      assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);

      await t.step("the engine reports NetworkMode none and no published port", async () => {
        const info = await engine.containers.inspect(started.id);
        assert.equal(info.HostConfig.NetworkMode, "none");
        assert.deepEqual(info.HostConfig.PortBindings ?? {}, {});
        assert.deepEqual(info.NetworkSettings.Ports ?? {}, {});
      });

      for (const transport of ["websocket", "http"] as const) {
        await t.step(
          `over ${transport}: the worker sees only lo and cannot connect out`,
          async () => {
            await using env = new CodingEnv({
              baseUrl: started.url,
              transport,
              timeoutS: 30,
              token: started.token,
            });
            const reset = await env.reset();
            const isolation =
              (reset.observation.metadata as { isolation: { network_blocked: boolean } })
                .isolation;
            assert.equal(isolation.network_blocked, true);
            const probe = await stepJson(env, NETWORK_PROBE);
            assert.deepEqual(probe.interfaces, ["lo"]);
            assert.equal(probe.routes, 0);
            assert.match(String(probe.connect), /^OSError:101$|Network is unreachable/);
          },
        );
      }
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited: the status below says how.
      }
      const status = await child.status;
      if (id) await engine.containers.remove(id, { force: true, missingOk: true });
      await child.stdout.cancel().catch(() => {});
      assert.equal(status.code, 0, await stderr);
    }
    assert.ok(id);
    await assert.rejects(engine.containers.inspect(id), /No such container/);
  },
);

dockerTest(
  "coding container: System V IPC is bounded, segments die with their process, seccomp refuses io_uring",
  async (t) => {
    await using engine = new DockerEngine();
    await ensureCodingImage(engine);
    const labels = runLabel();
    await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
    try {
      await using server = await docker.start(CODING_IMAGE, { transport: "tcp", labels });
      await using env = new CodingEnv({
        baseUrl: server.baseUrl,
        timeoutS: 30,
        token: server.token,
      });
      await env.reset();

      await t.step("the IPC sysctls are read back from the engine", async () => {
        const hc = (await server.inspect()).HostConfig;
        assert.equal(hc.IpcMode, "private");
        assert.equal(hc.Sysctls?.["kernel.shmmax"], "16777216");
        assert.equal(hc.Sysctls?.["kernel.shm_rmid_forced"], "1");
      });

      await t.step(
        "a 256 MiB segment is refused; parked segments are gone when the process exits",
        async () => {
          const shm = await stepJson(env, SHM_PROBE);
          assert.deepEqual(
            [shm.shmmax, shm.shmall, shm.shmmni, shm.msgmnb, shm.shm_rmid_forced],
            [16 * 1024 ** 2, 4096, 32, 16384, 1],
          );
          assert.equal(shm.big, -22, "shmget(256 MiB) must fail with EINVAL");
          assert.equal(shm.left_after_child, 0, "segments outlived the process that made them");
        },
      );

      await t.step(
        "Seccomp 2 in the worker; io_uring_setup and unshare(CLONE_NEWUSER) fail with EPERM",
        async () => {
          const probe = await stepJson(env, SECCOMP_PROBE);
          assert.deepEqual(probe, { seccomp: "2", io_uring_setup: "EPERM", unshare_user: "EPERM" });
        },
      );

      await t.step("the server itself runs under the filter too", async () => {
        const { stdout } = await engine.exec.run(server.id, [
          "grep",
          "^Seccomp:",
          "/proc/1/status",
        ]);
        assert.match(stdout, /Seccomp:\s+2/);
      });
    } finally {
      await removeContainersOf(engine, labels);
    }
  },
);

dockerTest("hostile images: labels, volumes and envtorch.* labels", async (t) => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  const tag = (name: string) => `envtorch-test-${name}:${labels[TEST_LABEL]}`;
  const tags: string[] = [];
  const image = async (name: string, dockerfile: string) => {
    tags.push(
      await buildTestImage(engine, tag(name), `FROM ${ECHO_IMAGE}\n${dockerfile}\n`, labels),
    );
    return tag(name);
  };
  await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
  try {
    await t.step("a label asking for 977 TiB of memory starts nothing", async () => {
      const greedy = await image("memory", `LABEL envtorch.memory="1000000g"`);
      await assert.rejects(
        docker.start(greedy, { labels, transport: "unix" }),
        /asks for memory "1000000g" \(label envtorch\.memory\): more than the .* an image may ask for/,
      );
      assert.deepEqual(await containersOf(engine, labels), []);
    });

    await t.step("a /tmp of size 0 (an unlimited tmpfs) starts nothing", async () => {
      const unlimited = await image("tmp", `LABEL envtorch.tmp-size="0"`);
      await assert.rejects(
        docker.start(unlimited, { labels, transport: "unix" }),
        /asks for \/tmp size "0" \(label envtorch\.tmp-size\): .*0 would mean no limit/,
      );
      assert.deepEqual(await containersOf(engine, labels), []);
    });

    await t.step(
      "an image may ask for more shared memory within the ceiling, read back",
      async () => {
        const shm = await image("shm", `LABEL envtorch.shm-total="32m"`);
        await using server = await docker.start(shm, { labels, transport: "unix" });
        const hc = (await server.inspect()).HostConfig;
        assert.equal(hc.Sysctls?.["kernel.shmmax"], String(32 * 1024 ** 2));
        assert.equal(hc.Sysctls?.["kernel.shmall"], String(32 * 1024 ** 2 / 4096));
        const { stdout } = await engine.exec.run(server.id, ["cat", "/proc/sys/kernel/shmmax"]);
        assert.equal(stdout.trim(), String(32 * 1024 ** 2));
        const greedy = await image("shm-greedy", `LABEL envtorch.shm-total="8g"`);
        await assert.rejects(
          docker.start(greedy, { labels, transport: "unix" }),
          /asks for shared memory "8g" \(label envtorch\.shm-total\): more than the 256 MiB/,
        );
      },
    );

    await t.step("an image VOLUME becomes a sized tmpfs, not a writable volume", async () => {
      const withVolume = await image("volume", `VOLUME /data`);
      await using server = await docker.start(withVolume, { labels, transport: "unix" });
      const info = await server.inspect();
      assert.deepEqual(info.Mounts?.filter((m) => m.Type !== "bind"), []);
      assert.equal(info.HostConfig.Tmpfs?.["/data"], "rw,noexec,nosuid,nodev,size=64m");
      const fill = await engine.exec.run(server.id, [
        "sh",
        "-c",
        "head -c 100000000 /dev/zero > /data/fill; echo rc=$?; grep ' /data ' /proc/mounts",
      ]);
      assert.match(fill.stderr, /No space left on device/);
      assert.match(fill.stdout, /^tmpfs \/data tmpfs rw,nosuid,nodev,noexec,.*size=65536k/m);
      await using env = new EchoEnv({ baseUrl: server.baseUrl });
      assert.equal((await env.reset()).observation.echoed_message, "Echo environment ready!");
    });

    await t.step(
      "an image's envtorch.socket-dir, expires and owner labels are blanked; the reaper removes no folder they name",
      async () => {
        const victim = await Deno.makeTempDir({ prefix: "envtorch-docker-" });
        await Deno.writeTextFile(`${victim}/precious.txt`, "keep me");
        try {
          const planting = await image(
            "labels",
            `LABEL envtorch.socket-dir="${victim}" envtorch.expires="2999-01-01T00:00:00Z" envtorch.owner.pid="1" envtorch.forward="127.0.0.1:1"`,
          );
          for (const network of ["none", "bridge"] as const) {
            // With a network, the engine publishes the port and the provider makes no socket folder:
            // the image's label was the only one, as in the red team's attack.
            const server = await docker.start(planting, {
              labels,
              transport: "tcp",
              network,
              ttlS: 1,
              // A server bound to 0.0.0.0 (the published port) wants a token; /health needs none.
              env: { ENVTORCH_TOKEN: crypto.randomUUID() + crypto.randomUUID() },
            });
            const own = (await server.inspect()).Config.Labels ?? {};
            assert.notEqual(own[LABELS.socketDir], victim);
            if (network === "bridge") assert.equal(own[LABELS.socketDir], "");
            assert.notEqual(own[LABELS.expires], "2999-01-01T00:00:00Z");
            assert.equal(own[LABELS.ownerPid], String(Deno.pid));
            assert.notEqual(own[LABELS.forward], "127.0.0.1:1");
            for (const [key, value] of Object.entries(own)) {
              if (key.startsWith("envtorch.") && !(key in labels)) {
                assert.ok(
                  value === "" || Object.values(LABELS).includes(key as never),
                  `image label ${key}=${value} reached the container`,
                );
              }
            }
            // Reap as if 5 s had passed (ttlS 1), only this run's containers.
            const reaped = await reapContainers(engine, {
              now: new Date(Date.now() + 5000),
              labels: [`${TEST_LABEL}=${labels[TEST_LABEL]}`],
            });
            assert.ok(reaped.some((c) => c.id === server.id), "the expired container was reaped");
            await server.stop();
          }
          assert.equal(await Deno.readTextFile(`${victim}/precious.txt`), "keep me");
        } finally {
          await Deno.remove(victim, { recursive: true }).catch(() => {});
        }
      },
    );
  } finally {
    await removeContainersOf(engine, labels);
    for (const t of tags) await engine.images.remove(t, { force: true }).catch(() => {});
  }
});
