/**
 * Coding episodes end to end: the `coding-env` container (unix socket, every
 * isolation property on) beside OpenEnv 0.2.3's coding env from the
 * `openenv-ref:latest` image (a published 127.0.0.1 port: it has no other
 * transport), both started through our Docker Engine client and driven by
 * the same WebSocket client (`GenericEnvClient`). An episode is a reset and
 * four small steps: `x = 41`; `print(x + 1)`; a function over `range(1000)`;
 * `import math`.
 *
 * Paths, in alternating rounds so that drift on the machine hits them alike:
 * - OpenEnv, one session (its coding server allows one per container);
 * - envtorch, one session;
 * - envtorch, 16 sessions at once on one container.
 * Reports reset and step p50/p99, episodes/s, errors, the CPU each episode
 * cost (the server's container, from its cgroup, and the clients: both
 * share this machine's cores), the ratios the targets name, and the memory
 * of idle coding sessions (RSS, PSS and USS of their workers, read from the
 * host's /proc), just after the rounds (a worker and a spare each) and once
 * their spares have been stopped for idleness (a worker each).
 *
 * Needs: docker, `coding-env` (`deno task images`) and `openenv-ref:latest`.
 *
 * Run: deno run -A bench/coding_episodes.ts [--quick] [--json] [--image coding-env:latest] [--cpus N]
 *
 * @module
 */
import { GenericEnvClient } from "../client/client.ts";
import { CodingEnv } from "../envs/coding/mod.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { percentile } from "./_rounds.ts";

const args = Deno.args;
const quick = args.includes("--quick");
const json = args.includes("--json");
const argValue = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const IMAGE = argValue("--image") ?? Deno.env.get("ENVTORCH_TEST_CODING_IMAGE") ??
  "coding-env:latest";
const OPENENV_IMAGE = "openenv-ref:latest";
// The image asks for every core (envtorch.cpus=all); --cpus N overrides it.
const CPUS_ARG = argValue("--cpus");
const CPUS = CPUS_ARG === undefined ? "all (image label)" : Number(CPUS_ARG);
const ROUNDS = quick ? 2 : 4;
const EPISODES_1 = quick ? 40 : 100;
const EPISODES_16 = quick ? 4 : 10;
const SESSIONS = 16;
const WARMUP = quick ? 10 : 20;
/** Seconds to wait, after the first idle reading, for the idle sessions' spares to stop. */
const IDLE_WAIT_S = 6;

const STEPS = [
  "x = 41",
  "print(x + 1)",
  "def squares(n):\n    return sum(i * i for i in range(n))\nsquares(1000)",
  "import math",
];

interface Samples {
  resets: number[];
  steps: number[];
  episodes: number;
  wallMs: number;
  errors: string[];
  /** CPU ms the server's container used in the rounds (null if its cgroup is unreadable). */
  serverCpuMs: number | null;
  /** CPU ms this process (the clients) used in the rounds. */
  clientCpuMs: number;
}

function emptySamples(): Samples {
  return {
    resets: [],
    steps: [],
    episodes: 0,
    wallMs: 0,
    errors: [],
    serverCpuMs: 0,
    clientCpuMs: 0,
  };
}

/** CPU ms a container has used so far, from its cgroup (v2 or v1), or null if unreadable. */
function containerCpuMs(id: string): number | null {
  const tries: [string, (text: string) => number][] = [
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, usageUsec],
    [`/sys/fs/cgroup/docker/${id}/cpu.stat`, usageUsec],
    [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, (t) => Number(t) / 1e6],
    [`/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`, (t) => Number(t) / 1e6],
  ];
  for (const [path, parse] of tries) {
    try {
      const ms = parse(Deno.readTextFileSync(path));
      if (Number.isFinite(ms)) return ms;
    } catch {
      // Not this layout.
    }
  }
  return null;
}

function usageUsec(text: string): number {
  return Number(text.match(/^usage_usec (\d+)/m)?.[1]) / 1000;
}

/** CPU ms this process has used so far (user + system, every thread). */
function ownCpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS;
}

/** USER_HZ: the unit of /proc/PID/stat's times, 100 on every Linux ABI in use. */
const CLOCK_TICKS = 100;

/** Runs `n` episodes on one client, timing each reset and step; errors are counted, not thrown. */
async function episodes(client: GenericEnvClient, n: number, into: Samples): Promise<void> {
  for (let i = 0; i < n; i++) {
    try {
      let t = performance.now();
      await client.reset();
      into.resets.push(performance.now() - t);
      for (const code of STEPS) {
        t = performance.now();
        const result = await client.step({ code });
        into.steps.push(performance.now() - t);
        const exit = (result.observation as { exit_code?: unknown }).exit_code;
        if (exit !== 0) into.errors.push(`exit code ${exit} for ${JSON.stringify(code)}`);
      }
      into.episodes++;
    } catch (error) {
      into.errors.push(String(error));
    }
  }
}

/**
 * Runs `perSession` episodes on each client at once against the container
 * `server`; adds the wall time and the CPU both sides used.
 */
async function round(
  server: string,
  clients: GenericEnvClient[],
  perSession: number,
  into: Samples,
) {
  const cpu0 = containerCpuMs(server);
  const own0 = ownCpuMs();
  const started = performance.now();
  await Promise.all(clients.map((c) => episodes(c, perSession, into)));
  into.wallMs += performance.now() - started;
  into.clientCpuMs += ownCpuMs() - own0;
  const cpu1 = containerCpuMs(server);
  into.serverCpuMs = cpu0 === null || cpu1 === null || into.serverCpuMs === null
    ? null
    : into.serverCpuMs + cpu1 - cpu0;
}

function summary(name: string, s: Samples) {
  const resets = s.resets.slice().sort((a, b) => a - b);
  const steps = s.steps.slice().sort((a, b) => a - b);
  return {
    path: name,
    episodes: s.episodes,
    errors: s.errors.length,
    first_error: s.errors[0],
    reset_p50_ms: percentile(resets, 50),
    reset_p99_ms: percentile(resets, 99),
    step_p50_ms: percentile(steps, 50),
    step_p99_ms: percentile(steps, 99),
    episodes_per_s: s.episodes / (s.wallMs / 1000),
    server_cpu_ms_per_episode: s.serverCpuMs === null ? null : s.serverCpuMs / s.episodes,
    client_cpu_ms_per_episode: s.clientCpuMs / s.episodes,
  };
}

/** Starts OpenEnv's coding server on a free 127.0.0.1 port through the engine API. */
async function startOpenEnv(engine: DockerEngine, label: Record<string, string>) {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const { Id } = await engine.containers.create({
    Image: OPENENV_IMAGE,
    Cmd: ["openenv-serve", "coding", "--log-level", "warning"],
    Labels: label,
    ExposedPorts: { "8000/tcp": {} },
    HostConfig: {
      AutoRemove: true,
      // The same CPUs as envtorch gets: every core unless --cpus says otherwise.
      NanoCpus: Math.round((typeof CPUS === "number" ? CPUS : navigator.hardwareConcurrency) * 1e9),
      PortBindings: { "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: `${port}` }] },
    },
  });
  await engine.containers.start(Id);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 60_000;
  while (true) {
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // Not up yet.
    }
    if (performance.now() > deadline) throw new Error("OpenEnv's coding server never answered");
    await new Promise((r) => setTimeout(r, 200));
  }
  return { id: Id, baseUrl };
}

/**
 * RSS, PSS and USS (private pages) of each worker process (uid in the
 * coding range) of the container `id`, in bytes, read from the host's /proc
 * (the container's own root cannot read a worker's smaps: workers are not
 * dumpable).
 */
async function workerMemory(id: string) {
  const rows: { uid: number; rss: number; pss: number | null; uss: number | null }[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cgroup = await Deno.readTextFile(`/proc/${entry.name}/cgroup`);
      if (!cgroup.includes(id)) continue;
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      const uid = Number(status.match(/^Uid:\s+(\d+)/m)?.[1]);
      if (!(uid >= 62600 && uid <= 62663)) continue;
      const rss = Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1]) * 1024;
      let pss: number | null = null;
      let uss: number | null = null;
      try {
        const rollup = await Deno.readTextFile(`/proc/${entry.name}/smaps_rollup`);
        const kb = (key: string) =>
          Number(rollup.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1]);
        pss = kb("Pss") * 1024;
        uss = (kb("Private_Clean") + kb("Private_Dirty")) * 1024;
      } catch {
        // Not readable here.
      }
      rows.push({ uid, rss, pss, uss });
    } catch {
      // Gone, or not ours to read.
    }
  }
  return rows;
}

/** Memory of `sessions` idle sessions, from their worker processes, in MB. */
function memorySummary(memory: Awaited<ReturnType<typeof workerMemory>>, sessions: number) {
  const known = memory.length > 0 && memory.every((m) => m.pss !== null && m.uss !== null);
  const total = (k: "rss" | "pss" | "uss") => memory.reduce((a, m) => a + (m[k] ?? 0), 0);
  const mb = (bytes: number) => bytes / 2 ** 20;
  return {
    worker_processes: memory.length,
    sessions,
    rss_per_process_mb: mb(total("rss") / Math.max(1, memory.length)),
    rss_per_session_mb: mb(total("rss") / sessions),
    pss_per_session_mb: known ? mb(total("pss") / sessions) : null,
    uss_per_session_mb: known ? mb(total("uss") / sessions) : null,
  };
}

function describeMemory(m: ReturnType<typeof memorySummary>): string {
  return `${m.worker_processes} worker processes for ${m.sessions} sessions; RSS ${
    m.rss_per_process_mb.toFixed(1)
  } MB per process, ${m.rss_per_session_mb.toFixed(1)} MB per session` +
    (m.pss_per_session_mb === null
      ? " (PSS and USS unreadable here)"
      : `; per session PSS ${m.pss_per_session_mb.toFixed(1)} MB, USS (private) ${
        m.uss_per_session_mb!.toFixed(1)
      } MB`);
}

await using engine = new DockerEngine();
for (const image of [IMAGE, OPENENV_IMAGE]) {
  if (!(await engine.images.exists(image))) {
    console.error(`No ${image}: build it first (deno task images; ../openenv-ref/build)`);
    Deno.exit(1);
  }
}
const label = { "envtorch.bench": `episodes-${Deno.pid}` };
const container = await CodingEnv.fromDockerImage(IMAGE, {
  docker: {
    labels: label,
    reapOnStart: false,
    ...(typeof CPUS === "number" ? { cpus: CPUS } : {}),
  },
});
const openenv = await startOpenEnv(engine, label);
const clients: GenericEnvClient[] = [];
try {
  const [coding] = (await engine.containers.list({
    all: true,
    labels: [`envtorch.bench=episodes-${Deno.pid}`],
  })).map((c) => c.Id).filter((id) => id !== openenv.id);
  const open = (baseUrl: string) => {
    const client = new GenericEnvClient({ baseUrl, transport: "websocket", timeoutS: 60 });
    clients.push(client);
    return client;
  };
  const oe = open(openenv.baseUrl);
  const one = open(container.baseUrl);
  const many = Array.from({ length: SESSIONS }, () => open(container.baseUrl));

  // Warm up every path (the first sessions start their zygote and spares).
  await episodes(oe, WARMUP, emptySamples());
  await episodes(one, WARMUP, emptySamples());
  await Promise.all(many.map((c) => episodes(c, 2, emptySamples())));

  const s = { oe: emptySamples(), one: emptySamples(), many: emptySamples() };
  for (let r = 0; r < ROUNDS; r++) {
    await round(openenv.id, [oe], EPISODES_1, s.oe);
    await round(coding!, [one], EPISODES_1, s.one);
    await round(coding!, many, EPISODES_16, s.many);
  }

  // Idle sessions. Just after the rounds, every one of the 17 has a worker and (with uids to
  // spare) a spare worker; once idle for longer than the spare's idle limit (5 s by default),
  // the spare is stopped and each holds its worker alone.
  const sessions = SESSIONS + 1;
  await new Promise((r) => setTimeout(r, 1000));
  const justAfter = memorySummary(coding ? await workerMemory(coding) : [], sessions);
  await new Promise((r) => setTimeout(r, IDLE_WAIT_S * 1000));
  const idleLong = memorySummary(coding ? await workerMemory(coding) : [], sessions);

  const rows = [
    summary("OpenEnv 0.2.3 coding, 1 session (TCP 127.0.0.1)", s.oe),
    summary("envtorch coding-env, 1 session (unix socket)", s.one),
    summary(`envtorch coding-env, ${SESSIONS} sessions (unix socket)`, s.many),
  ];
  const [rowOe, rowOne, rowMany] = rows;
  const ratios = {
    one_session_vs_openenv: rowOne!.episodes_per_s / rowOe!.episodes_per_s,
    sixteen_vs_one_session: rowMany!.episodes_per_s / rowOne!.episodes_per_s,
  };
  const idle = { after_1s: justAfter, [`after_${1 + IDLE_WAIT_S}s`]: idleLong };
  if (json) {
    console.log(JSON.stringify({ image: IMAGE, cpus: CPUS, rounds: ROUNDS, rows, ratios, idle }));
  } else {
    console.log(
      `Episode = reset + ${STEPS.length} steps; ${ROUNDS} alternating rounds; containers with ${CPUS} CPU(s); ${IMAGE}`,
    );
    console.log(
      "| path | episodes | errors | reset p50 | reset p99 | step p50 | step p99 | episodes/s | CPU ms/episode: server, client |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      const server = r.server_cpu_ms_per_episode;
      console.log(
        `| ${r.path} | ${r.episodes} | ${r.errors} | ${r.reset_p50_ms.toFixed(2)} ms | ${
          r.reset_p99_ms.toFixed(2)
        } ms | ${r.step_p50_ms.toFixed(3)} ms | ${r.step_p99_ms.toFixed(2)} ms | ${
          r.episodes_per_s.toFixed(1)
        } | ${server === null ? "n/a" : server.toFixed(2)}, ${
          r.client_cpu_ms_per_episode.toFixed(2)
        } |`,
      );
    }
    console.log(
      `envtorch 1 session / OpenEnv: ${ratios.one_session_vs_openenv.toFixed(2)}x; ` +
        `${SESSIONS} sessions / 1 session: ${ratios.sixteen_vs_one_session.toFixed(2)}x`,
    );
    console.log(`Idle sessions 1 s after the rounds: ${describeMemory(justAfter)}`);
    console.log(
      `Idle sessions ${1 + IDLE_WAIT_S} s after the rounds (spares stopped): ${
        describeMemory(idleLong)
      }`,
    );
    for (const r of rows) if (r.first_error) console.log(`${r.path}: ${r.first_error}`);
  }
} finally {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await container.close();
  await engine.containers.kill(openenv.id).catch(() => {});
}
