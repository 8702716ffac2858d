/**
 * `envtorch serve <env>`: hosts a bundled env over HTTP and WebSocket.
 *
 * @module
 */
import { createApp, serve } from "../server/app.ts";
import { getEnv, isManifestSpecifier, loadManifest } from "../envs/registry.ts";
import {
  type Command,
  intFlag,
  numberFlag,
  onePositional,
  parseFlags,
  UsageError,
} from "./common.ts";

const usage =
  `Usage: envtorch serve <env | path/to/manifest.ts> [--port N | --socket PATH] [options]

Hosts an env: HTTP routes and the WebSocket /ws session of PROTOCOL.md. The env
is a bundled env's name (envtorch list) or the path or URL of a module that
exports a manifest made with defineEnv.

Options:
  --port N             TCP port (default: $PORT or 8000; 0 picks a free one)
  --host HOST          interface to bind (default: $ENVTORCH_HOST or 127.0.0.1; images set 0.0.0.0)
  --socket PATH        listen on a unix socket instead (default: $ENVTORCH_SOCKET)
  --max-sessions N     sessions at once, HTTP and WebSocket together (default 64)
  --idle-timeout S     close a session after S seconds without a call (default 300, 0: never)
  --admission-wait S   when full, let a new session wait S seconds for a slot (default 0: refuse)
  --max-body-bytes N   largest request body or WebSocket message (default 1048576)
  -h, --help           show this help`;

export const serveCommand: Command = {
  name: "serve",
  summary: "host a bundled env over HTTP and WebSocket",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      port: { type: "string" },
      host: { type: "string" },
      socket: { type: "string" },
      "max-sessions": { type: "string" },
      "idle-timeout": { type: "string" },
      "admission-wait": { type: "string" },
      "max-body-bytes": { type: "string" },
      "exit-on-stdin-eof": { type: "boolean" },
    });
    onePositional(positionals, "env", "serve");
    const socket = values.socket ??
      (values.port === undefined ? Deno.env.get("ENVTORCH_SOCKET") : undefined);
    if (values.socket !== undefined && values.port !== undefined) {
      throw new UsageError("Use --port or --socket, not both");
    }
    if (socket !== undefined && values.host !== undefined) {
      throw new UsageError("--host applies to TCP only, not to --socket");
    }
    const port =
      intFlag("port", values.port ?? (socket ? undefined : Deno.env.get("PORT")), 0, 65535) ?? 8000;
    const maxSessions = intFlag("max-sessions", values["max-sessions"], 1, 1_000_000);
    const idleTimeoutS = numberFlag("idle-timeout", values["idle-timeout"]);
    const admissionWaitS = numberFlag("admission-wait", values["admission-wait"]);
    const maxBytes = intFlag("max-body-bytes", values["max-body-bytes"], 1024, 1 << 30);
    const target = positionals[0]!;
    const manifest = isManifestSpecifier(target)
      ? await loadManifest(target)
      : await getEnv(target);
    const app = createApp(manifest.create, manifest.models, {
      maxSessions,
      idleTimeoutS,
      admissionWaitS,
      concurrentSessions: manifest.concurrentSessions,
      maxBodyBytes: maxBytes,
      maxMessageBytes: maxBytes,
    });
    const hostname = values.host ?? Deno.env.get("ENVTORCH_HOST") ?? undefined;
    const server = socket ? serve(app, { socket }) : serve(app, { port, hostname });
    console.log(`envtorch: serving ${manifest.name} on ${server.baseUrl}`);
    const stop = () => void server.shutdown();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    if (values["exit-on-stdin-eof"]) {
      (async () => {
        const buf = new Uint8Array(256);
        try {
          while ((await Deno.stdin.read(buf)) !== null) { /* keep reading until EOF */ }
        } catch {
          // A broken pipe is an EOF too.
        }
        stop();
      })();
    }
    await server.finished;
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    return 0;
  },
};
