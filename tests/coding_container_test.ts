/**
 * The coding env in its real deployment: the `coding-env` image started by
 * `CodingEnv.fromDockerImage` (root server with only SETUID, SETGID and
 * KILL, read-only root, tmpfs /tmp, NetworkMode none, the unix-socket
 * transport). Checks the hardening read back from the engine and seen from
 * inside; runs every Python hostile input of docs/security.md (the table the host
 * suite runs too, plus the network and the full tmpfs) against the
 * container, each followed by: the next step works, /health answers, no
 * process of the worker uid is left but the fresh worker, and the
 * container's processes and pid count are back to their baseline (read
 * inside the container through the exec API); then 8 concurrent episodes,
 * and a container killed mid-step.
 */
import assert from "node:assert/strict";
import { ConnectionError } from "../protocol/errors.ts";
import { CodingEnv } from "../envs/coding/mod.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import {
  CODING_IMAGE,
  containersOf,
  dockerTest,
  ensureCodingImage,
  removeContainersOf,
  runLabel,
} from "./docker_helpers.ts";
import {
  assertEightEpisodesIsolated,
  assertHealthy,
  CodingEpisode,
  type CodingPlace,
  hostileCases,
} from "./helpers/coding_cases.ts";

const GIB = 1024 ** 3;
const SECRET = "do-not-leak-from-the-container";
/** The image's worker uids (ENVTORCH_CODING_UIDS in envs/coding/Dockerfile). */
const UIDS = { first: 62600, last: 62663 };
/** The capabilities the server keeps, as a CapEff mask: KILL (5), SETGID (6), SETUID (7). */
const SERVER_CAPS = "00000000000000e0";

/** One process inside the container, from its /proc/PID/status. */
interface ProcRow {
  pid: number;
  name: string;
  state: string;
  uid: number;
  threads: number;
  capEff: string;
  capBnd: string;
  noNewPrivs: string;
}

/** What the container runs, read by a Python script the exec API starts inside it. */
interface Snapshot {
  /** Every process but the script itself. */
  rows: ProcRow[];
  /** The container cgroup's pids.current (tasks: processes and threads, the script included). */
  pidsCurrent: number;
}

const PS_SCRIPT = `
import json, os
rows = []
for pid in os.listdir('/proc'):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    try:
        with open(f'/proc/{pid}/status') as f:
            fields = dict(line.split(':', 1) for line in f.read().splitlines() if ':' in line)
    except OSError:
        continue
    get = lambda k: fields.get(k, '').strip()
    rows.append({'pid': int(pid), 'name': get('Name'), 'state': get('State')[:1],
                 'uid': int(get('Uid').split()[0]), 'threads': int(get('Threads') or 0),
                 'capEff': get('CapEff'), 'capBnd': get('CapBnd'), 'noNewPrivs': get('NoNewPrivs')})
with open('/sys/fs/cgroup/pids/pids.current') as f:
    current = int(f.read())
print(json.dumps({'rows': rows, 'pidsCurrent': current}))
`;

async function snapshot(engine: DockerEngine, id: string): Promise<Snapshot> {
  const { exitCode, stdout, stderr } = await engine.exec.run(id, [
    "/usr/bin/python3",
    "-I",
    "-c",
    PS_SCRIPT,
  ]);
  assert.equal(exitCode, 0, `ps inside the container failed: ${stderr}`);
  return JSON.parse(stdout);
}

function describe(rows: ProcRow[]): string {
  return rows.map((r) => `${r.pid} ${r.name} uid ${r.uid} ${r.state} ${r.threads}t`).join(", ");
}

/** The tasks (processes and threads) of everything but the Deno server, whose thread pool varies. */
function workload(s: Snapshot): { processes: number; tasks: number } {
  const server = s.rows.filter((r) => r.name === "deno").reduce((n, r) => n + r.threads, 0);
  return { processes: s.rows.length, tasks: s.pidsCurrent - server };
}

/** The coding container as the hostile cases see it. */
class ContainerPlace implements CodingPlace {
  readonly where = "container";
  readonly secret = SECRET;
  readonly outsidePaths = [
    "/envtorch-probe",
    "/etc/envtorch-probe",
    "/opt/envtorch/app/envtorch-probe",
    "/root/envtorch-probe",
    "/var/tmp/envtorch-probe",
    "/run/lock/envtorch-probe",
    "/run/envtorch/envtorch-probe",
    "/dev/envtorch-probe",
  ];
  readonly writeRefused = /PermissionError|OSError: \[Errno 30\] Read-only file system/;
  serverPid = -1;
  #engine: DockerEngine;
  #id: string;
  #baseline?: { processes: number; tasks: number };

  constructor(engine: DockerEngine, id: string) {
    this.#engine = engine;
    this.#id = id;
  }

  snapshot(): Promise<Snapshot> {
    return snapshot(this.#engine, this.#id);
  }

  /**
   * Finds the server and records what runs now as the baseline, once it
   * holds still (a spare worker may be starting in the background).
   */
  async setBaseline(): Promise<void> {
    let s = await this.snapshot();
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const again = await this.snapshot();
      const [a, b] = [workload(s), workload(again)];
      s = again;
      if (a.processes === b.processes && a.tasks === b.tasks) break;
    }
    const servers = s.rows.filter((r) => r.name === "deno");
    assert.equal(servers.length, 1, `one server: ${describe(s.rows)}`);
    this.serverPid = servers[0]!.pid;
    this.#baseline = workload(s);
  }

  async processesOf(uid: number): Promise<string[]> {
    const s = await this.snapshot();
    return s.rows.filter((r) => r.uid === uid && r.state !== "Z").map((r) => `${r.pid} ${r.name}`);
  }

  /** The container's processes, and its pid count less the server's threads, are back to the baseline. */
  async afterCase(): Promise<void> {
    const want = this.#baseline!;
    const deadline = performance.now() + 5000;
    while (true) {
      const s = await this.snapshot();
      const got = workload(s);
      if (got.processes === want.processes && got.tasks === want.tasks) return;
      if (performance.now() > deadline) {
        assert.fail(
          `container not back to its baseline (${want.processes} processes, ${want.tasks} tasks ` +
            `besides the server): ${got.processes} processes, ${got.tasks} tasks: ${
              describe(s.rows)
            }`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function socketDirOf(baseUrl: string): string {
  return baseUrl.replace(/^unix:/, "").replace(/\/sock\/env\.sock$/, "");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

dockerTest("coding container: hardening, behaviour and every hostile input", async (t) => {
  await using engine = new DockerEngine();
  await ensureCodingImage(engine);
  const labels = runLabel();
  let env: CodingEnv | undefined;
  try {
    env = await CodingEnv.fromDockerImage(CODING_IMAGE, {
      docker: { labels, reapOnStart: false, env: { ENVTORCH_TEST_SECRET: SECRET } },
    });
    const baseUrl = env.baseUrl;
    const [id] = await containersOf(engine, labels);
    assert.ok(id, "the container carries the run's label");
    const place = new ContainerPlace(engine, id);

    await t.step("the HostConfig read back adds exactly SETUID, SETGID and KILL", async () => {
      const info = await engine.containers.inspect(id);
      const hc = info.HostConfig;
      assert.deepEqual([...(hc.CapAdd ?? [])].sort(), ["KILL", "SETGID", "SETUID"]);
      assert.deepEqual(hc.CapDrop, ["ALL"]);
      assert.ok(hc.SecurityOpt?.includes("no-new-privileges"));
      assert.ok(!hc.SecurityOpt?.some((o) => o.includes("unconfined")));
      assert.equal(hc.ReadonlyRootfs, true);
      assert.deepEqual(hc.Tmpfs, { "/tmp": "rw,noexec,nosuid,nodev,size=512m" });
      assert.equal(hc.Memory, 2 * GIB);
      assert.equal(hc.MemorySwap, 2 * GIB);
      // envtorch.cpus=all: the sessions of one container may use every core of the host.
      assert.equal(hc.NanoCpus, navigator.hardwareConcurrency * 1e9);
      assert.equal(hc.PidsLimit, 800);
      const ulimits = Object.fromEntries((hc.Ulimits ?? []).map((u) => [u.Name, [u.Soft, u.Hard]]));
      assert.deepEqual(ulimits, { nofile: [1024, 1024], core: [0, 0] });
      assert.equal(hc.Init, true);
      assert.equal(hc.NetworkMode, "none");
      assert.deepEqual(hc.PortBindings ?? {}, {});
      assert.equal(hc.Privileged, false);
      assert.equal(hc.Binds?.length, 1);
      assert.match(hc.Binds![0]!, /\/envtorch-docker-[^/]+\/sock:\/run\/envtorch:rw$/);
      assert.equal(info.Config.User, "0:0");
      assert.ok(info.Config.Env?.includes(`ENVTORCH_CODING_UIDS=${UIDS.first}-${UIDS.last}`));
      // Only the server (root) can enter the socket folder: no worker can replace the socket.
      const folder = await Deno.stat(`${socketDirOf(baseUrl)}/sock`);
      assert.deepEqual([folder.uid, (folder.mode ?? 0) & 0o777], [0, 0o700]);
    });

    await t.step("a smoke episode: print, persistence, reset clears state and files", async () => {
      await using ep = await CodingEpisode.open(baseUrl, place);
      assert.equal((await ep.step("print('Hello, World!')")).stdout, "Hello, World!\n");
      await ep.step("import math\nr = 2\nopen('notes.txt', 'w').write('kept')");
      const area = await ep.step("print(round(math.pi * r ** 2, 3), open('notes.txt').read())");
      assert.equal(area.stdout, "12.566 kept\n");
      const error = await ep.step("1 / 0");
      assert.deepEqual([error.exit_code, error.stderr.trim().split("\n").at(-1)], [
        1,
        "ZeroDivisionError: division by zero",
      ]);
      const first = ep.workDir;
      await ep.reset();
      assert.notEqual(ep.workDir, first);
      const fresh = await ep.step("import os\nprint(os.listdir('.'))\nr");
      assert.equal(fresh.stdout, "[]\n");
      assert.match(fresh.stderr, /NameError: name 'r' is not defined/);
      const task = await ep.reset({ task: { prompt: "double", tests: ["assert double(4) == 8"] } });
      assert.equal(task.metadata.prompt, "double");
      const solved = await ep.env.step({ code: "def double(n):\n    return 2 * n" });
      assert.deepEqual([solved.reward, solved.done], [1, true]);
    });

    await t.step("over HTTP, a session keeps its interpreter between requests", async () => {
      await using ep = await CodingEpisode.open(baseUrl, place, "http");
      await ep.step("x = 20");
      assert.equal((await ep.step("x + 1")).stdout, "21\n");
    });

    await t.step(
      "the server keeps only SETUID, SETGID and KILL; the worker has no capability and NoNewPrivs 1",
      async () => {
        const s = await place.snapshot();
        const server = s.rows.find((r) => r.name === "deno");
        assert.ok(server, describe(s.rows));
        assert.deepEqual([server.uid, server.capEff, server.noNewPrivs], [0, SERVER_CAPS, "1"]);
        for (const r of s.rows) {
          assert.equal(r.capBnd, SERVER_CAPS, `${r.pid} ${r.name} CapBnd`);
          assert.equal(r.noNewPrivs, "1", `${r.pid} ${r.name} NoNewPrivs`);
        }
        await using ep = await CodingEpisode.open(baseUrl, place);
        const status = await ep.step(
          "import re\ntext = open('/proc/self/status').read()\n" +
            "print({k: v.strip() for k, v in re.findall(r'^(Cap\\w+|NoNewPrivs|Uid|Gid|Groups|Seccomp):(.*)$', text, re.M)})",
        );
        const fields = JSON.parse(status.stdout.replaceAll("'", '"'));
        assert.deepEqual(
          [fields.CapInh, fields.CapPrm, fields.CapEff, fields.CapAmb],
          ["0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"],
        );
        assert.equal(fields.NoNewPrivs, "1");
        const uids = (fields.Uid as string).split(/\s+/).map(Number);
        assert.ok(
          uids.every((u) => u === uids[0] && u >= UIDS.first && u <= UIDS.last),
          fields.Uid,
        );
        assert.equal(fields.Groups, "");
        const isolation = ep.isolation!;
        assert.deepEqual(
          {
            uid_dropped: isolation.uid_dropped,
            network_blocked: isolation.network_blocked,
            disk_bounded: isolation.disk_bounded,
            disk_bytes: isolation.disk_bytes,
            processes_bounded: isolation.processes_bounded,
            pids_limit: isolation.pids_limit,
            nproc: isolation.rlimits.nproc,
            no_new_privs: isolation.no_new_privs,
            oom_score_adj: isolation.oom_score_adj,
          },
          {
            uid_dropped: true,
            network_blocked: true,
            disk_bounded: true,
            disk_bytes: 512 * 1024 ** 2,
            processes_bounded: true,
            pids_limit: 800,
            nproc: 16,
            no_new_privs: true,
            oom_score_adj: 1000,
          },
        );
      },
    );

    await t.step("every Python hostile input ends safely", async (t) => {
      await using ep = await CodingEpisode.open(baseUrl, place);
      await place.setBaseline();
      for (const hostile of hostileCases) {
        await t.step(hostile.name, () => hostile.run(ep));
      }
    });

    await t.step("8 concurrent episodes do not see each other's variables or files", async () => {
      const uids = await assertEightEpisodesIsolated(() => CodingEpisode.open(baseUrl, place));
      await assertHealthy(baseUrl);
      const deadline = performance.now() + 5000;
      for (const uid of uids) {
        while ((await place.processesOf(uid)).length) {
          assert.ok(performance.now() < deadline, `uid ${uid} still runs after close`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    });

    await env.close();
    assert.deepEqual(await containersOf(engine, labels), []);
    assert.equal(await exists(socketDirOf(baseUrl)), false);
  } finally {
    await env?.close();
    await removeContainersOf(engine, labels);
  }
});

dockerTest(
  "coding container at its own limits: PidsLimit stops a fork bomb, the OOM killer takes the worker, the server goes on",
  async (t) => {
    await using engine = new DockerEngine();
    await ensureCodingImage(engine);
    const labels = runLabel();
    let env: CodingEnv | undefined;
    try {
      // RLIMIT_NPROC off (an empty ENVTORCH_CODING_MAX_PROCESSES), so that only the container's
      // PidsLimit stops a bomb; and less memory than one worker's address-space limit.
      env = await CodingEnv.fromDockerImage(CODING_IMAGE, {
        docker: {
          labels,
          reapOnStart: false,
          pids: 96,
          memoryBytes: 384 * 1024 ** 2,
          env: { ENVTORCH_CODING_MAX_PROCESSES: "" },
        },
      });
      const baseUrl = env.baseUrl;
      const [id] = await containersOf(engine, labels);
      assert.ok(id);
      const place = new ContainerPlace(engine, id);
      await using ep = await CodingEpisode.open(baseUrl, place);
      await using bystander = await CodingEpisode.open(baseUrl, place);
      assert.equal(ep.isolation?.rlimits.nproc, undefined);
      assert.equal(ep.isolation?.pids_limit, 96);
      await place.setBaseline();

      await t.step(
        "forks stop at the PidsLimit; meanwhile /health and a running session answer, and a new session fails clearly",
        async () => {
          const code = [
            "import errno, os, time",
            "kids = []",
            "try:",
            "    while True:",
            "        pid = os.fork()",
            "        if pid == 0:",
            "            time.sleep(60)",
            "            os._exit(0)",
            "        kids.append(pid)",
            "except OSError as e:",
            "    print(len(kids), errno.errorcode[e.errno], flush=True)",
            "time.sleep(2)",
          ].join("\n");
          const holding = ep.step(code, 10);
          await new Promise((r) => setTimeout(r, 1000));
          await assertHealthy(baseUrl, 2000);
          assert.equal((await bystander.step("print(6 * 7)")).stdout, "42\n");
          await assert.rejects(
            CodingEpisode.open(baseUrl, place),
            /Cannot start the Python worker.*Resource temporarily unavailable/,
          );
          const obs = await holding;
          const [forked, error] = obs.stdout.trim().split(" ");
          assert.equal(error, "EAGAIN");
          // 96 pids, less the server's threads, tini, the zygote, two runners and a spare or two.
          assert.ok(Number(forked) > 60 && Number(forked) < 96, `${forked} forks`);
          assert.ok((obs.metadata.processes_killed as number) >= Number(forked));
          await ep.assertRecovered();
        },
      );

      await t.step(
        "an endless fork bomb at the PidsLimit is killed when its step times out",
        async () => {
          const obs = await ep.step(
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
            2,
          );
          assert.equal(obs.timed_out, true);
          assert.ok(obs.duration_ms < 5000, `the step took ${obs.duration_ms} ms`);
          await ep.assertRecovered();
          assert.equal((await bystander.step("print('after')")).stdout, "after\n");
        },
      );

      await t.step(
        "past the container's memory, the kernel kills the worker, not the server",
        async () => {
          await ep.step("kept = 1");
          const obs = await ep.step(
            "hoard = []\nwhile True:\n    hoard.append(bytearray(10 ** 7))",
            20,
          );
          assert.deepEqual([obs.exit_code, obs.state_lost], [-9, true]);
          const state = (await engine.containers.inspect(id)).State;
          assert.equal(state.Running, true);
          await assertHealthy(baseUrl);
          assert.match((await ep.step("kept")).stderr, /NameError/);
          await ep.assertRecovered();
          assert.equal((await bystander.step("print('alive')")).stdout, "alive\n");
        },
      );
    } finally {
      await env?.close();
      await removeContainersOf(engine, labels);
    }
  },
);

dockerTest(
  "coding container killed mid-step: the client gets a ConnectionError, not a hang, and nothing is left",
  async () => {
    await using engine = new DockerEngine();
    await ensureCodingImage(engine);
    const labels = runLabel();
    let env: CodingEnv | undefined;
    try {
      env = await CodingEnv.fromDockerImage(CODING_IMAGE, {
        docker: { labels, reapOnStart: false },
      });
      const dir = socketDirOf(env.baseUrl);
      const [id] = await containersOf(engine, labels);
      assert.ok(id);
      await env.reset();
      const started = performance.now();
      // Settles, with the error as its value, whenever the step fails.
      const sleeping = env.step({ code: "import time\ntime.sleep(5)\nprint('woke')" }).then(
        () => undefined,
        (error: unknown) => ({ error, at: performance.now() }),
      );
      await new Promise((r) => setTimeout(r, 500));
      await engine.containers.kill(id);
      const failed = await sleeping;
      assert.ok(failed?.error instanceof ConnectionError, `the step gave ${failed?.error}`);
      assert.match(failed.error.message, /lost/);
      const waited = failed.at - started;
      assert.ok(waited < 3000, `the step failed after ${waited} ms, not at once`);
      await assert.rejects(env.step({ code: "print(1)" }), ConnectionError);
      await env.close();
      assert.deepEqual(await containersOf(engine, labels), []);
      assert.equal(await exists(dir), false, `${dir} was left behind`);
    } finally {
      await env?.close();
      await removeContainersOf(engine, labels);
    }
  },
);
