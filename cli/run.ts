/**
 * `envtorch run <env|image>`: starts an env image as a hardened container,
 * prints where to reach it, and stops and removes it on Ctrl-C or SIGTERM.
 *
 * @module
 */
import { listEnvs } from "../envs/registry.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import type { HostConfig } from "../providers/docker/engine_types.ts";
import type { HardeningOptions } from "../providers/docker/hardening.ts";
import { printable } from "../providers/docker/printable.ts";
import {
  type Command,
  intFlag,
  numberFlag,
  onePositional,
  parseFlags,
  UsageError,
} from "./common.ts";
import { checkProvider, runOnKubernetes, wantsKubernetes } from "./k8s.ts";

const usage = `Usage: envtorch run <env|image> [--port N | --socket] [options]

Starts an env's image (made by 'envtorch build') or any env image as a
hardened container (no capabilities, read-only root, memory, CPU and pid
limits), prints its URL on stdout, and stops and removes it on Ctrl-C or
SIGTERM.

The URL is unix:PATH for a container on a unix socket (the default when
running as root on Linux), or http://127.0.0.1:PORT for a port on
127.0.0.1 that this process forwards to that socket. Either way the
container has no network at all unless --network bridge asks for one.

Options:
  --port N           publish the server on 127.0.0.1:N (0 picks a free port)
  --tcp              publish on a free port of 127.0.0.1
  --socket           serve on a unix socket with network none
  --memory SIZE      memory limit, e.g. 512m or 2g (default 1g; no swap)
  --cpus N           CPUs (default 1)
  --pids N           most processes and threads (default 128)
  --network MODE     none or bridge (default none, also with --port: this process
                     forwards the port to the container's unix socket, so the
                     container has no network; bridge gives it one)
  --env NAME=VALUE   environment variable for the server (repeatable)
  --timeout S        seconds to wait for /health (default 30)
  --json             print {"url","token","id","name","image"} as one JSON line
                     (token: with a port, the server asks for one; it is
                     $ENVTORCH_TOKEN when set, else a new one)
  --provider P       docker (default) or k8s: a Pod on the kubeconfig's cluster
                     (see 'envtorch run --provider k8s --help')
  -h, --help         show this help`;

/** Parses `512m`, `2g`, `1073741824` into bytes. */
export function parseSize(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = value.trim().toLowerCase().match(/^(\d+(?:\.\d+)?)([kmg]?)i?b?$/);
  if (!m) {
    throw new UsageError(`--${name} must be a size like 512m or 2g, got ${JSON.stringify(value)}`);
  }
  const scale = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2] as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * scale);
}

export const runCommand: Command = {
  name: "run",
  summary: "run an env image as a hardened container until Ctrl-C",
  usage,
  async run(args) {
    if (wantsKubernetes(args)) return await runOnKubernetes(args);
    const { values, positionals } = parseFlags(args, {
      provider: { type: "string" },
      port: { type: "string" },
      tcp: { type: "boolean" },
      socket: { type: "boolean" },
      memory: { type: "string" },
      cpus: { type: "string" },
      pids: { type: "string" },
      network: { type: "string" },
      env: { type: "string", multiple: true },
      timeout: { type: "string" },
      json: { type: "boolean" },
    });
    onePositional(positionals, "env or image", "run");
    checkProvider(values.provider);
    if (values.socket && (values.port !== undefined || values.tcp)) {
      throw new UsageError("Use --socket or --port/--tcp, not both");
    }
    const port = intFlag("port", values.port, 0, 65535);
    const pids = intFlag("pids", values.pids, 8, 1 << 22);
    const cpus = numberFlag("cpus", values.cpus, 0.01);
    const startupTimeoutS = numberFlag("timeout", values.timeout, 1);
    const memoryBytes = parseSize("memory", values.memory);
    if (values.network !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(values.network)) {
      throw new UsageError(`--network must be a network name like none or bridge`);
    }
    const env: Record<string, string> = {};
    for (const entry of values.env ?? []) {
      const eq = entry.indexOf("=");
      if (eq <= 0) throw new UsageError(`--env must be NAME=VALUE, got ${JSON.stringify(entry)}`);
      env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    // A server on a published port asks for a token: use ours, so our clients need nothing more.
    const ownToken = Deno.env.get("ENVTORCH_TOKEN");
    if (ownToken && env.ENVTORCH_TOKEN === undefined) env.ENVTORCH_TOKEN = ownToken;
    const target = positionals[0]!;
    const envs = await listEnvs();
    const manifest = envs.find((m) => m.name === target);
    const image = manifest?.image ?? target;

    await using engine = new DockerEngine();
    if (!manifest && !(await engine.images.exists(image))) {
      // A bare name is meant as an env (a usage error, exit 2); `name:tag` as an image.
      const Refusal = /[:/@]/.test(target) ? Error : UsageError;
      throw new Refusal(
        `No env or image named ${target}: known envs are ${
          envs.map((m) => m.name).join(", ")
        }, and the engine has no image ${image}`,
      );
    }
    // A long-lived process: reap orphans now and then, not only at start.
    await using provider = new LocalDockerProvider({ engine, reapIntervalS: 60 });
    const stop = new AbortController();
    const onSignal = () => stop.abort(new Error("Interrupted"));
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    try {
      const container = await provider.start(image, {
        transport: values.socket ? "unix" : port !== undefined || values.tcp ? "tcp" : "auto",
        port,
        memoryBytes,
        cpus,
        pids,
        network: values.network,
        env,
        startupTimeoutS,
        signal: stop.signal,
        labels: manifest ? { "envtorch.env": manifest.name } : undefined,
      }).catch((error) => {
        if (stop.signal.aborted) return undefined;
        throw error;
      });
      if (!container) {
        console.error("envtorch run: interrupted; nothing left running");
        return 130;
      }
      try {
        if (values.json) {
          console.log(
            JSON.stringify({
              url: container.baseUrl,
              ...(container.token ? { token: container.token } : {}),
              id: container.id,
              name: container.name,
              image,
              image_hardening: container.imageHardening,
            }),
          );
        } else {
          console.log(container.baseUrl);
          if (container.token && container.token !== ownToken) {
            console.error(
              `envtorch: the server asks for a token; for clients: export ENVTORCH_TOKEN=${container.token}`,
            );
          }
          console.error(
            `envtorch: ${image} runs as ${container.name} (${
              container.id.slice(0, 12)
            }); Ctrl-C stops and removes it`,
          );
          const asked = describeImageHardening(container.hostConfig, container.imageHardening);
          if (asked) console.error(`envtorch: the image's labels ask for ${asked}`);
        }
        const exited = engine.containers.wait(container.id, { signal: stop.signal })
          .then((r) => r.StatusCode, () => undefined);
        const code = await exited;
        if (code !== undefined && !stop.signal.aborted) {
          const logs = await container.logs({ tail: 30 }).then(printable).catch(() => "");
          console.error(
            `envtorch run: container ${container.name} exited with code ${code}${
              logs.trim() ? `\n--- last log lines ---\n${logs.trimEnd()}` : ""
            }`,
          );
          return 1;
        }
        console.error(`envtorch: stopping ${container.name}`);
        return 0;
      } finally {
        await container.stop();
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
    }
  },
};

/** What an image asked for through its labels, and what the container got, in words. */
function describeImageHardening(hc: HostConfig, asked: HardeningOptions): string {
  const parts: string[] = [];
  if (asked.capAdd?.length) {
    parts.push(`capabilities ${asked.capAdd.join(", ")} (added: ${(hc.CapAdd ?? []).join(", ")})`);
  }
  if (asked.memoryBytes !== undefined) {
    parts.push(`memory ${asked.memoryBytes} (set: ${hc.Memory})`);
  }
  if (asked.pids !== undefined) parts.push(`pids ${asked.pids} (set: ${hc.PidsLimit})`);
  if (asked.cpus !== undefined) parts.push(`cpus ${asked.cpus} (set: ${(hc.NanoCpus ?? 0) / 1e9})`);
  if (asked.ipc?.shmTotalBytes !== undefined) {
    parts.push(`shared memory ${asked.ipc.shmTotalBytes} (set: ${hc.Sysctls?.["kernel.shmmax"]})`);
  }
  if (asked.tmpSize !== undefined) parts.push(`/tmp ${asked.tmpSize} (set: ${hc.Tmpfs?.["/tmp"]})`);
  return parts.join("; ");
}
