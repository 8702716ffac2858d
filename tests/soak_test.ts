/**
 * Reliability at scale, on loopback and bounded in time: a soak of 256
 * sessions stepping continuously (60 s by default; ENVTORCH_SOAK_S to
 * change), and clients that vanish mid-step by the hundred.
 */
import assert from "node:assert/strict";
import { EchoEnv } from "../mod.ts";
import { delay } from "../protocol/deadline.ts";
import { KnobEnv, knobModels } from "./fixtures/test_env.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTarget } from "./helpers/targets.ts";
import { startCli } from "./helpers/cli.ts";

const SOAK_S = Number(Deno.env.get("ENVTORCH_SOAK_S") ?? 60);

function openFiles(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) / 1024;
}
async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return Number(line?.split(" ")[1]);
}

async function stepFor(
  clients: EchoEnv[],
  ms: number,
): Promise<{ steps: number; errors: string[] }> {
  const until = performance.now() + ms;
  let steps = 0;
  const errors: string[] = [];
  await Promise.all(clients.map(async (env, i) => {
    while (performance.now() < until) {
      try {
        const r = await env.step({ message: `session ${i} step ${steps}` });
        if (typeof r.reward !== "number") errors.push(`session ${i}: reward ${r.reward}`);
        steps++;
      } catch (error) {
        errors.push(`session ${i}: ${(error as Error).message}`);
        return;
      }
    }
  }));
  return { steps, errors };
}

Deno.test({
  name: `soak: 256 sessions stepping for ${SOAK_S} s, no errors, no growth in memory or open files`,
  sanitizeResources: false,
  async fn() {
    await using server = await startCli([
      "serve",
      "echo",
      "--port",
      "0",
      "--max-sessions",
      "300",
    ]);
    const base = server.firstLine.match(/on (http:\S+)/)![1]!;
    const pid = server.child.pid;
    const open = async () => {
      const clients = Array.from({ length: 256 }, () => new EchoEnv({ baseUrl: base }));
      await Promise.all(clients.map((c) => c.reset()));
      return clients;
    };
    // Warm up: the same load for a short while, then closed, sets the baseline.
    const warm = await open();
    await stepFor(warm, 3000);
    await Promise.all(warm.map((c) => c.close()));
    await eventually(
      "warm-up sessions closed",
      async () => (await metric(base, 'envtorch_sessions_active{transport="ws"}')) === 0,
    );
    await delay(500);
    const baseline = { fds: openFiles(pid), rss: rssMiB(pid) };

    const clients = await open();
    // Two halves: under constant load, memory may reach a plateau in the first
    // half; a leak keeps growing through the second.
    const first = await stepFor(clients, SOAK_S * 500);
    const half = rssMiB(pid);
    const second = await stepFor(clients, SOAK_S * 500);
    const end = rssMiB(pid);
    const steps = first.steps + second.steps;
    const errors = [...first.errors, ...second.errors];
    await Promise.all(clients.map((c) => c.close()));
    await eventually(
      "soak sessions closed",
      async () => (await metric(base, 'envtorch_sessions_active{transport="ws"}')) === 0,
    );
    await delay(500);
    const after = { fds: openFiles(pid), rss: rssMiB(pid) };
    console.log(
      `soak: ${steps} steps in ${SOAK_S} s (${(steps / SOAK_S).toFixed(0)}/s); RSS MiB: ` +
        `idle ${baseline.rss.toFixed(1)}, half-way ${half.toFixed(1)}, end ${end.toFixed(1)}, ` +
        `closed ${after.rss.toFixed(1)}; open files ${baseline.fds} -> ${after.fds}`,
    );
    assert.deepEqual(errors, []);
    assert.ok(steps > 256 * SOAK_S, "every session kept stepping");
    assert.equal(after.fds, baseline.fds, "open files are back to the baseline");
    assert.ok(
      end - half < 16,
      `no growth under steady load: ${half.toFixed(1)} -> ${end.toFixed(1)} MiB`,
    );
    assert.ok(
      after.rss <= end + 8,
      `no growth after the sessions closed: ${after.rss.toFixed(1)} MiB`,
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.doesNotMatch(metrics, /^envtorch_errors_total\{/m, "no error was ever sent");
  },
});

Deno.test("300 clients that vanish mid-step free every slot", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels, {
    maxSessions: 400,
  });
  const url = `${target.baseUrl!.replace("http", "ws")}/ws`;
  const script = `
    const n = Number(Deno.args[1]);
    let stepping = 0;
    for (let i = 0; i < n; i++) {
      const ws = new WebSocket(Deno.args[0]);
      ws.onopen = () => ws.send(JSON.stringify({ type: "reset" }));
      ws.onmessage = () => {
        ws.send(JSON.stringify({ type: "step", data: { sleep_ms: 60000 } }));
        if (++stepping === n) console.log("all stepping");
      };
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script, url, "300"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("all stepping")) text += (await reader.read()).value ?? "";
  await eventually("300 sessions are open", () => target.app.sessions.size === 300);
  await eventually(
    "every session is mid-step",
    () => target.app.sessions.list().filter((s) => s.pending > 0).length === 300,
  );
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  await eventually("every slot is freed", () => target.app.sessions.size === 0, 15_000);
  const health = await target.http("/health");
  assert.equal(health.status, 200);
  await health.body?.cancel();
});

Deno.test("clients closing their own sockets mid-step at scale free every slot", async () => {
  await using target = await startTarget("tcp", () => new KnobEnv(), knobModels, {
    maxSessions: 300,
  });
  const sockets = await Promise.all(Array.from({ length: 200 }, () => target.ws()));
  for (const ws of sockets) ws.send(JSON.stringify({ type: "reset" }));
  for (const ws of sockets) await ws.next();
  for (const ws of sockets) ws.send(JSON.stringify({ type: "step", data: { sleep_ms: 30000 } }));
  await eventually(
    "every session is mid-step",
    () => target.app.sessions.list().filter((s) => s.pending > 0).length === 200,
  );
  for (const ws of sockets) ws.close();
  await eventually("every slot is freed", () => target.app.sessions.size === 0, 10_000);
});
