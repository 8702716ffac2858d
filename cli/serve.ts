/**
 * `envtorch serve <env>`: hosts a bundled env over HTTP and WebSocket.
 *
 * @module
 */
import { createApp, serve } from "../server/app.ts";
import { claimSocketPath } from "../server/unix_socket.ts";
import { getEnv, isManifestSpecifier, loadManifest } from "../envs/registry.ts";
import { isLoopback } from "../server/front_door.ts";
import {
  type Command,
  envInt,
  intFlag,
  numberFlag,
  onePositional,
  parseFlags,
  UsageError,
} from "./common.ts";

const usage =
  `Usage: envtorch serve <env | path/to/manifest.ts> [--port N | --socket PATH] [options]

Hosts an env: HTTP routes and the WebSocket /ws session of docs/protocol.md. The env
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

Front door (see the README's server section):
  --token TOKEN        require Authorization: Bearer TOKEN on every request but
                       GET /health (default: $ENVTORCH_TOKEN); required, at least
                       16 characters, when --host is not a loopback address.
                       Prefer $ENVTORCH_TOKEN: arguments show in process lists
  --allow-origin URL   a browser origin allowed to open WebSockets and POST/DELETE,
                       e.g. https://notebook.example.com (repeatable; * allows any).
                       Requests without an Origin header are always allowed
  --allow-host NAME    a Host name to answer to besides the bound address,
                       localhost, 127.0.0.1 and ::1 (repeatable; * allows any)
  --max-connections N  WebSocket connections at once (default: twice --max-sessions,
                       at least 128)
  --max-connections-per-peer N
                       WebSocket connections at once from one address (default: half
                       of --max-connections)
  --first-message-timeout S
                       close a WebSocket that sends no complete message within S
                       seconds, freeing its session (default 10, 0: never)
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
      token: { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "allow-host": { type: "string", multiple: true },
      "max-connections": { type: "string" },
      "max-connections-per-peer": { type: "string" },
      "first-message-timeout": { type: "string" },
      "remove-socket-dir": { type: "boolean" },
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
    const port = socket !== undefined
      ? 8000
      : values.port !== undefined
      ? intFlag("port", values.port, 0, 65535)!
      : envInt("PORT", Deno.env.get("PORT"), 0, 65535) ?? 8000;
    const maxSessions = intFlag("max-sessions", values["max-sessions"], 1, 1_000_000);
    const idleTimeoutS = numberFlag("idle-timeout", values["idle-timeout"]);
    const admissionWaitS = numberFlag("admission-wait", values["admission-wait"]);
    const maxBytes = intFlag("max-body-bytes", values["max-body-bytes"], 1024, 1 << 30);
    const hostname = values.host ?? Deno.env.get("ENVTORCH_HOST") ?? undefined;
    const token = values.token ?? (Deno.env.get("ENVTORCH_TOKEN") || undefined);
    checkToken(token, socket ? undefined : hostname ?? "127.0.0.1");
    const maxConnections = intFlag("max-connections", values["max-connections"], 1, 1_000_000);
    const maxConnectionsPerPeer = intFlag(
      "max-connections-per-peer",
      values["max-connections-per-peer"],
      1,
      1_000_000,
    );
    const firstMessageTimeoutS = numberFlag(
      "first-message-timeout",
      values["first-message-timeout"],
    );
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
      token,
      allowedOrigins: values["allow-origin"],
      allowedHosts: values["allow-host"],
      maxConnections,
      maxConnectionsPerPeer,
      firstMessageTimeoutS,
    });
    // Never take over a socket a live server answers on; remove only a stale one.
    if (socket) await claimSocketPath(socket);
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
    await server.shutdown();
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    if (socket && values["remove-socket-dir"]) {
      // The process provider made this folder for the socket; whoever ends
      // first (it, or this server when its parent is gone) removes it.
      await Deno.remove(socketDir(socket)).catch(() => {});
    }
    return 0;
  },
};

/**
 * Refuses to serve beyond loopback without a token, and refuses tokens too
 * short to stand a guess. `hostname` is undefined for a unix socket.
 */
function checkToken(token: string | undefined, hostname: string | undefined): void {
  if (token !== undefined && token.length < 16) {
    throw new UsageError("--token (ENVTORCH_TOKEN) must be at least 16 characters");
  }
  if (token === undefined && hostname !== undefined && !isLoopback(hostname)) {
    throw new UsageError(
      `Refusing to serve on ${hostname} without a token: anyone who can reach that address ` +
        `could drive the env. Set ENVTORCH_TOKEN (or --token) to a secret of at least 16 ` +
        `characters, or bind a loopback address such as 127.0.0.1`,
    );
  }
}

function socketDir(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}
