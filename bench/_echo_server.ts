/**
 * `envtorch serve echo` for benchmarks, plus one bench-only route:
 * `GET /__memory` runs V8's GC (the process is started with
 * `--v8-flags=--expose-gc`) and returns RSS and heap use, so memory per
 * session can be measured without GC noise.
 *
 * Run: deno run -A --v8-flags=--expose-gc bench/_echo_server.ts [--port N | --socket PATH]
 *
 * @module
 */
import { createApp } from "../server/app.ts";
import { manifest } from "../envs/echo/manifest.ts";
import { memoryResponse } from "./_memory.ts";

const app = createApp(manifest.create, manifest.models, { maxSessions: 10_000, idleTimeoutS: 0 });
const inner = app.fetch;
const handler = (req: Request, info?: unknown) => {
  if (req.url.endsWith("/__memory")) return memoryResponse();
  return inner(req, info as never);
};
const i = Deno.args.indexOf("--socket");
const p = Deno.args.indexOf("--port");
const server = i >= 0
  ? Deno.serve({ path: Deno.args[i + 1]!, transport: "unix", onListen() {} }, handler)
  : Deno.serve({
    port: p >= 0 ? Number(Deno.args[p + 1]) : 0,
    hostname: "127.0.0.1",
    onListen() {},
  }, handler);
app.sessions.metrics.startLagMonitor();
console.log(
  `serving echo on ${
    i >= 0 ? `unix:${Deno.args[i + 1]}` : `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`
  }`,
);
