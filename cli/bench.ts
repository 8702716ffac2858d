/**
 * `envtorch bench <url|env>`: many sessions stepping as fast as they can
 * against a server, with throughput and latency percentiles.
 *
 * @module
 */
import { runLoad } from "../tools/load.ts";
import { getEnv } from "../envs/registry.ts";
import { startProcess } from "../providers/process.ts";
import { type Command, intFlag, onePositional, parseFlags, UsageError } from "./common.ts";
import { deriveAction } from "./target.ts";

const usage = `Usage: envtorch bench <url | env> [options]

Opens N sessions against a server and steps each as fast as it can (resetting
whenever an episode ends); prints steps per second, episodes ended and step
latency (p50, p90, p99). Given an env name, starts
it in a child process first. For the full comparison against a bare-Deno
floor, see bench/ (deno task bench).

Options:
  --sessions N      concurrent sessions (default 1)
  --steps N         steps per session (default 2000)
  --action JSON     the action each step sends (default: the env's example action,
                    or for a URL the smallest action its /schema accepts)
  --transport T     websocket | http (default websocket)
  --json            one JSON object on stdout
  --token TOKEN     token for a server that asks for one (default: $ENVTORCH_TOKEN)
  -h, --help        show this help`;

export const benchCommand: Command = {
  name: "bench",
  summary: "measure step throughput and latency against a server",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      sessions: { type: "string" },
      steps: { type: "string" },
      action: { type: "string" },
      transport: { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
    });
    const target = onePositional(positionals, "URL or env", "bench");
    const sessions = intFlag("sessions", values.sessions, 1, 100_000) ?? 1;
    const steps = intFlag("steps", values.steps, 1, 10_000_000) ?? 2000;
    const transport = values.transport ?? "websocket";
    if (transport !== "websocket" && transport !== "http") {
      throw new UsageError(
        `--transport must be websocket or http, got ${JSON.stringify(transport)}`,
      );
    }
    const isUrl = /^(https?|wss?|unix):/.test(target);
    let action: Record<string, unknown> | undefined;
    if (values.action !== undefined) {
      try {
        action = JSON.parse(values.action);
      } catch (error) {
        throw new UsageError(`--action is not valid JSON: ${(error as Error).message}`);
      }
      if (action === null || typeof action !== "object" || Array.isArray(action)) {
        throw new UsageError("--action must be a JSON object");
      }
    }
    const manifest = isUrl ? undefined : await getEnv(target);
    action ??= manifest ? manifest.exampleAction : await deriveAction(target, values.token);
    if (!action) throw new UsageError(`Env ${target} has no exampleAction: give --action JSON`);
    const server = manifest
      ? await startProcess(manifest.name, { maxSessions: Math.max(64, sessions) })
      : undefined;
    try {
      const progress = !values.json && Deno.stderr.isTerminal()
        ? (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(`\r${text}\x1b[K`))
        : undefined;
      const result = await runLoad({
        baseUrl: server?.baseUrl ?? target,
        sessions,
        stepsPerSession: steps,
        action,
        transport,
        onProgress: progress,
        token: values.token,
      });
      if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
      if (values.json) {
        console.log(JSON.stringify(result));
      } else {
        const l = result.latency;
        const failures = Object.entries(result.failures).map(([k, v]) => `${k} x${v}`).join(", ");
        console.log(
          `${result.completed}/${sessions} sessions completed, ${result.steps} steps in ${
            (result.wallMs / 1000).toFixed(2)
          } s, ${result.episodes} episodes ended\n` +
            `${result.stepsPerSecond.toFixed(0)} steps/s; latency ms p50 ${l.p50.toFixed(3)}, p90 ${
              l.p90.toFixed(3)
            }, p99 ${l.p99.toFixed(3)}, max ${l.max.toFixed(3)}` +
            (failures ? `\nfailures: ${failures}` : ""),
        );
      }
      return result.completed === sessions ? 0 : 1;
    } finally {
      await server?.close();
    }
  },
};
