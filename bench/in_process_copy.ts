/**
 * What it costs the in-process transport to keep the env and the client
 * apart. The transport hands the server the request as JSON text and gives
 * the client a JSON copy of the reply, so neither side holds the other's
 * objects. Measured beside two alternatives in the same run: sharing the
 * reply (no copy: the env could change what the client holds) and a
 * `structuredClone` of it. Echo steps end to end through the typed client,
 * then the copy alone for an echo reply and for a 16 KB observation (a
 * coding step's stdout).
 *
 * Run: deno run -A bench/in_process_copy.ts
 *
 * @module
 */
import { alternate, timed } from "./_rounds.ts";
import { createApp } from "../server/app.ts";
import { openWireSession, type WireSession } from "../server/wire_session.ts";
import { EchoEnv, EchoEnvironment, echoModels } from "../envs/echo/mod.ts";
import type { CallOptions, ClientRequest, Transport, TransportReply } from "../client/transport.ts";
import { inProcess } from "../server/in_process.ts";
import { errorFromWire } from "../protocol/errors.ts";

type Copy = (reply: TransportReply) => TransportReply;

/** A bare in-process transport whose reply copy is `copy` (no deadline, no close). */
function variant(app: ReturnType<typeof createApp>, copy: Copy): Transport {
  let wire: Promise<WireSession> | undefined;
  return {
    alive: true,
    async request(request: ClientRequest, _options: CallOptions) {
      wire ??= openWireSession(app.sessions, app.limits.maxMessageBytes) as Promise<WireSession>;
      const { reply } = await (await wire).handle(JSON.stringify(request));
      if (reply!.type === "error") throw errorFromWire(reply!.data);
      return copy(reply as TransportReply);
    },
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

await using app = createApp(() => new EchoEnvironment(), echoModels, { maxSessions: 8 });
const clients = {
  "inProcess(app): JSON copy of the reply (what ships)": new EchoEnv({
    transport: inProcess(app),
  }),
  "reply shared, no copy (unsafe)": new EchoEnv({ transport: variant(app, (r) => r) }),
  "structuredClone of the reply": new EchoEnv({
    transport: variant(app, (r) => structuredClone(r)),
  }),
};
for (const c of Object.values(clients)) await c.reset();
const action = { message: "Hello, World!" };
const rows = await alternate(
  Object.entries(clients).map(([name, c]) => ({ name, round: timed(() => c.step(action)) })),
  { warmup: 2000, rounds: 10, perRound: 2000 },
);
const base = rows.find((r) => r.path.startsWith("reply shared"))!;
console.log("| in-process echo step | steps/s | p50 µs | p99 µs | x no-copy steps/s |");
console.log("|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.path} | ${r.steps_per_s.toFixed(0)} | ${(r.p50_ms * 1000).toFixed(1)} | ${
      (r.p99_ms * 1000).toFixed(1)
    } | ${(r.steps_per_s / base.steps_per_s).toFixed(2)} |`,
  );
}
for (const c of Object.values(clients)) await c.close();

const echoReply = {
  type: "observation",
  data: {
    observation: {
      echoed_message: "Hello, World!",
      message_length: 13,
      metadata: { original_message: "Hello, World!", step: 1 },
    },
    reward: 1.3,
    done: false,
  },
};
const codingReply = {
  type: "observation",
  data: {
    observation: {
      stdout: "x".repeat(16 * 1024),
      stderr: "",
      exit_code: 0,
      metadata: { duration_ms: 12.5, files: ["a.py", "b.txt"] },
    },
    reward: 1,
    done: false,
  },
};
function perCopyUs(copy: (v: unknown) => unknown, value: unknown): number {
  const n = 20000;
  for (let i = 0; i < 2000; i++) copy(value);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) copy(value);
  return ((performance.now() - t0) * 1000) / n;
}
const json = (v: unknown) => JSON.parse(JSON.stringify(v));
console.log("\n| copy of one reply | JSON round trip µs | structuredClone µs |");
console.log("|---|---|---|");
for (const [name, value] of [["echo", echoReply], ["16 KB stdout", codingReply]] as const) {
  console.log(
    `| ${name} | ${perCopyUs(json, value).toFixed(2)} | ${
      perCopyUs(structuredClone, value).toFixed(2)
    } |`,
  );
}
