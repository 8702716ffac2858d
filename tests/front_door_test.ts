/**
 * The server's front door against a real server on 127.0.0.1: foreign
 * Origins and Hosts, non-JSON bodies and missing tokens are refused with a
 * clear `{detail, code}`; WebSocket connections are capped and silent ones
 * closed; `envtorch serve` refuses a public address without a token.
 */
import assert from "node:assert/strict";
import {
  AccessError,
  type AppOptions,
  createApp,
  EchoEnv,
  EchoEnvironment,
  echoModels,
  serve,
} from "../mod.ts";
import { eventually } from "./helpers/eventually.ts";
import { runEnvtorch } from "./helpers/cli_run.ts";

const TOKEN = "front-door-test-token-0123456789";

function start(options: AppOptions = {}) {
  const app = createApp(() => new EchoEnvironment(), echoModels, options);
  const server = serve(app, { port: 0 });
  const port = Number(new URL(server.baseUrl).port);
  return { app, server, port, baseUrl: server.baseUrl };
}

/** Sends raw HTTP (so any Host can be sent) and returns the status and body. */
async function raw(
  port: number,
  head: string,
  body = "",
): Promise<{ status: number; text: string; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const length = body ? `Content-Length: ${new TextEncoder().encode(body).length}\r\n` : "";
    await conn.write(new TextEncoder().encode(`${head}${length}Connection: close\r\n\r\n${body}`));
    let text = "";
    const buf = new Uint8Array(65536);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      // An upgrade stays open: stop after its head.
      if (text.startsWith("HTTP/1.1 101") && text.includes("\r\n\r\n")) break;
    }
    const [h = "", b = ""] = text.split("\r\n\r\n");
    return { status: Number(h.split(" ")[1]), text: b, head: h };
  } finally {
    conn.close();
  }
}

function upgrade(extra = "", host = "127.0.0.1") {
  return `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}`;
}

function code(text: string): string | undefined {
  const body = JSON.parse(text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1));
  assert.equal(typeof body.detail, "string", "the refusal says why");
  return body.code;
}

Deno.test("front door: foreign Origins are refused on /ws and POST, others pass", async (t) => {
  const { server, port, baseUrl } = start({ allowedOrigins: ["https://notebook.example"] });
  await using _ = server;

  await t.step("POST /step with a foreign Origin is 403 ORIGIN_NOT_ALLOWED", async () => {
    const res = await fetch(`${baseUrl}/step`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ action: { message: "hi" } }),
    });
    assert.equal(res.status, 403);
    const body = await res.json();
    assert.equal(body.code, "ORIGIN_NOT_ALLOWED");
    assert.match(body.detail, /Origin "https:\/\/evil.example" is not allowed/);
  });

  await t.step("POST /reset and DELETE /session with a foreign Origin are 403", async () => {
    for (const [method, path] of [["POST", "/reset"], ["DELETE", "/session"]]) {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { "content-type": "application/json", origin: "null" },
        body: method === "POST" ? "{}" : undefined,
      });
      assert.equal(res.status, 403, `${method} ${path}`);
      await res.body?.cancel();
    }
  });

  await t.step("a WebSocket upgrade with a foreign Origin is 403 and never upgraded", async () => {
    const res = await raw(port, upgrade("Origin: https://evil.example\r\n"));
    assert.equal(res.status, 403);
    assert.equal(code(res.text), "ORIGIN_NOT_ALLOWED");
  });

  await t.step("no Origin (a non-browser client) works over WebSocket and HTTP", async () => {
    for (const transport of ["websocket", "http"] as const) {
      await using env = new EchoEnv({ baseUrl, transport, token: "" });
      await env.reset();
      const r = await env.step({ message: "plain client" });
      assert.equal(r.observation.echoed_message, "plain client");
    }
  });

  await t.step("an allowed Origin works on POST and /ws", async () => {
    const res = await fetch(`${baseUrl}/reset`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://notebook.example" },
      body: "{}",
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const ws = await raw(port, upgrade("Origin: https://notebook.example\r\n"));
    assert.equal(ws.status, 101);
  });

  await t.step("a GET with a foreign Origin is not refused (it changes nothing)", async () => {
    const res = await fetch(`${baseUrl}/schema`, { headers: { origin: "https://evil.example" } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("front door: a Host that is not this server's is 421 (DNS rebinding)", async (t) => {
  const { server, port } = start();
  await using _ = server;

  await t.step("a rebinding Host is refused on every route but /health", async () => {
    for (const path of ["/metadata", "/schema", "/state"]) {
      const res = await raw(port, `GET ${path} HTTP/1.1\r\nHost: attacker.example:8000\r\n`);
      assert.equal(res.status, 421, path);
      assert.equal(code(res.text), "HOST_NOT_ALLOWED");
    }
    const ws = await raw(port, upgrade("", "attacker.example"));
    assert.equal(ws.status, 421);
    const health = await raw(port, "GET /health HTTP/1.1\r\nHost: attacker.example\r\n");
    assert.equal(health.status, 200);
  });

  await t.step("localhost, 127.0.0.1 and [::1] with any port are served", async () => {
    for (const host of ["localhost", "localhost:1234", "127.0.0.1:9", "[::1]:8000", "LOCALHOST"]) {
      const res = await raw(port, `GET /schema HTTP/1.1\r\nHost: ${host}\r\n`);
      assert.equal(res.status, 200, host);
    }
  });

  await t.step("allowedHosts adds a name", async () => {
    const other = start({ allowedHosts: ["env.internal"] });
    await using _ = other.server;
    const res = await raw(other.port, "GET /schema HTTP/1.1\r\nHost: env.internal:8000\r\n");
    assert.equal(res.status, 200);
    const no = await raw(other.port, "GET /schema HTTP/1.1\r\nHost: attacker.example\r\n");
    assert.equal(no.status, 421);
  });

  await t.step("a unix socket server answers to any Host", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const app = createApp(() => new EchoEnvironment(), echoModels);
      await using _ = serve(app, { socket: `${dir}/env.sock` });
      const client = Deno.createHttpClient({
        proxy: { transport: "unix", path: `${dir}/env.sock` },
      });
      try {
        const res = await fetch("http://some-name.example/schema", { client });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      } finally {
        client.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("front door: a POST body must be application/json (415 otherwise)", async (t) => {
  const { server, baseUrl } = start();
  await using _ = server;
  const post = (headers: Record<string, string>, body: BodyInit | undefined) =>
    fetch(`${baseUrl}/reset`, { method: "POST", headers, body });

  await t.step("text/plain is 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    // A string body: fetch sends text/plain, as an HTML form-less CSRF would.
    const res = await post({}, "{}");
    assert.equal(res.status, 415);
    const body = await res.json();
    assert.equal(body.code, "UNSUPPORTED_MEDIA_TYPE");
    assert.match(body.detail, /Content-Type must be application\/json, got "text\/plain/);
  });

  await t.step("form encoding and a non-UTF-8 charset are 415", async () => {
    for (const type of ["application/x-www-form-urlencoded", "application/json; charset=latin1"]) {
      const res = await post({ "content-type": type }, "{}");
      assert.equal(res.status, 415, type);
      await res.body?.cancel();
    }
  });

  await t.step("application/json, with or without charset, and an empty POST pass", async () => {
    for (
      const type of ["application/json", "application/json; charset=utf-8", "Application/JSON"]
    ) {
      const res = await post({ "content-type": type }, "{}");
      assert.equal(res.status, 200, type);
      await res.body?.cancel();
    }
    const empty = await post({}, undefined);
    assert.equal(empty.status, 200);
    await empty.body?.cancel();
  });
});

Deno.test("front door: a token is required and checked, on HTTP and WebSocket", async (t) => {
  const { server, port, baseUrl } = start({ token: TOKEN });
  await using _ = server;

  await t.step("no token and a wrong token are 401 UNAUTHORIZED", async () => {
    const none = await fetch(`${baseUrl}/state`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), "Bearer");
    const body = await none.json();
    assert.equal(body.code, "UNAUTHORIZED");
    assert.match(body.detail, /needs a token/);
    const wrong = await fetch(`${baseUrl}/state`, {
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    assert.equal(wrong.status, 401);
    assert.match((await wrong.json()).detail, /Wrong token/);
    const ws = await raw(port, upgrade());
    assert.equal(ws.status, 401);
    const wsWrong = await raw(port, upgrade("Authorization: Bearer nope\r\n"));
    assert.equal(wsWrong.status, 401);
  });

  await t.step("the right token works; /health needs none", async () => {
    const ok = await fetch(`${baseUrl}/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const ws = await raw(port, upgrade(`Authorization: Bearer ${TOKEN}\r\n`));
    assert.equal(ws.status, 101);
    const health = await fetch(`${baseUrl}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  });

  await t.step("the client sends ClientOptions.token over WebSocket and HTTP", async () => {
    for (const transport of ["websocket", "http"] as const) {
      await using env = new EchoEnv({ baseUrl, transport, token: TOKEN });
      await env.reset();
      assert.equal(
        (await env.step({ message: "authorized" })).observation.echoed_message,
        "authorized",
      );
    }
  });

  await t.step("a client with the wrong token gets a clear error", async () => {
    await using http = new EchoEnv({ baseUrl, transport: "http", token: "not-the-token" });
    await assert.rejects(http.reset(), (e) => e instanceof AccessError && e.status === 401);
    await using ws = new EchoEnv({ baseUrl, token: "not-the-token" });
    await assert.rejects(ws.reset(), /Cannot connect|401/);
  });

  await t.step("the client takes ENVTORCH_TOKEN by default", async () => {
    const before = Deno.env.get("ENVTORCH_TOKEN");
    Deno.env.set("ENVTORCH_TOKEN", TOKEN);
    try {
      await using env = new EchoEnv({ baseUrl });
      await env.reset();
      assert.equal(
        (await env.step({ message: "from env" })).observation.echoed_message,
        "from env",
      );
    } finally {
      if (before === undefined) Deno.env.delete("ENVTORCH_TOKEN");
      else Deno.env.set("ENVTORCH_TOKEN", before);
    }
  });

  await t.step("envtorch step and validate pick up --token and ENVTORCH_TOKEN", async () => {
    const args = ["step", baseUrl, "--action", '{"message":"cli"}', "--json"];
    const refused = await runEnvtorch(args);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr + refused.stdout, /token/i);
    const flag = await runEnvtorch([...args, "--token", TOKEN]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stdout, /"echoed_message":"cli"/);
    const env = await runEnvtorch(args, { env: { ENVTORCH_TOKEN: TOKEN } });
    assert.equal(env.code, 0, env.stderr);
    const validate = await runEnvtorch(["validate", baseUrl, "--json"], {
      env: { ENVTORCH_TOKEN: TOKEN },
    });
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
  });
});

Deno.test("envtorch serve refuses a non-loopback address without a token (exit 2)", async () => {
  // Refused before listening: no traffic goes anywhere but the child's stderr.
  const noToken = await runEnvtorch(["serve", "echo", "--host", "0.0.0.0", "--port", "0"], {
    env: { ENVTORCH_TOKEN: "" },
  });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /Refusing to serve on 0\.0\.0\.0 without a token/);
  const viaEnv = await runEnvtorch(["serve", "echo", "--port", "0"], {
    env: { ENVTORCH_HOST: "0.0.0.0", ENVTORCH_TOKEN: "" },
  });
  assert.equal(viaEnv.code, 2);
  const short = await runEnvtorch(["serve", "echo", "--port", "0", "--token", "short"]);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /at least 16 characters/);
  const help = await runEnvtorch(["serve", "--help"]);
  for (const flag of ["--token", "--allow-origin", "--allow-host", "--max-connections"]) {
    assert.match(help.stdout, new RegExp(flag));
  }
});

/** Opens a raw WebSocket (handshake done) on a fresh TCP connection. */
async function openRawWs(port: number, extra = ""): Promise<Deno.TcpConn | number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(`${upgrade(extra)}\r\n`));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
  const status = Number(head.split(" ")[1]);
  if (status === 101) return conn;
  conn.close();
  return status;
}

/** Reads until a close frame (opcode 8) comes; resolves to its code, or null at EOF/timeout. */
async function closeCode(conn: Deno.TcpConn, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let bytes = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return null;
      const joined = new Uint8Array(bytes.length + n);
      joined.set(bytes);
      joined.set(buf.subarray(0, n), bytes.length);
      bytes = joined;
      // Frames from the server are unmasked; skip to a close frame.
      let at = 0;
      while (at + 2 <= bytes.length) {
        const op = bytes[at]! & 0x0f;
        let len = bytes[at + 1]! & 0x7f;
        let start = at + 2;
        if (len === 126) {
          len = (bytes[at + 2]! << 8) | bytes[at + 3]!;
          start = at + 4;
        }
        if (start + len > bytes.length) break;
        if (op === 8) return (bytes[start]! << 8) | bytes[start + 1]!;
        at = start + len;
      }
    }
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("front door: WebSocket connections are capped, silent ones closed", async (t) => {
  await t.step("the connection past the per-peer cap is refused with 503", async () => {
    const { server, port } = start({ maxConnectionsPerPeer: 2, firstMessageTimeoutS: 0 });
    await using _ = server;
    const a = await openRawWs(port);
    const b = await openRawWs(port);
    assert.ok(typeof a !== "number" && typeof b !== "number");
    const third = await raw(port, upgrade());
    assert.equal(third.status, 503);
    assert.equal(code(third.text), "CAPACITY_REACHED");
    assert.match(third.text, /2 of 2 WebSocket connections allowed per peer/);
    a.close();
    // The slot is free once the connection is gone.
    await eventually("a per-peer slot to be free again", async () => {
      const again = await openRawWs(port);
      if (typeof again === "number") return false;
      again.close();
      return true;
    });
    b.close();
  });

  await t.step("the connection past the total cap is refused with 503", async () => {
    const { server, port } = start({ maxConnections: 1, firstMessageTimeoutS: 0 });
    await using _ = server;
    const a = await openRawWs(port);
    assert.ok(typeof a !== "number");
    const second = await raw(port, upgrade());
    assert.equal(second.status, 503);
    assert.match(second.text, /1 of 1 WebSocket connections open/);
    a.close();
  });

  await t.step("a silent connection is closed (1008) and its session slot freed", async () => {
    const { app, server, port, baseUrl } = start({ maxSessions: 1, firstMessageTimeoutS: 0.5 });
    await using _ = server;
    const silent = await openRawWs(port);
    assert.ok(typeof silent !== "number");
    await eventually("the silent connection's session", () => app.sessions.countByKind().ws === 1);
    const started = Date.now();
    assert.equal(await closeCode(silent, 5000), 1008);
    assert.ok(Date.now() - started < 4000);
    silent.close();
    // The only session slot is free again: a real client gets it.
    await eventually(
      "the session slot to be freed",
      () => (app.sessions.countByKind().ws ?? 0) === 0,
    );
    // A warm client that connects and waits past the deadline before its reset stays open.
    await using env = new EchoEnv({ baseUrl, token: "" });
    await env.connect();
    await new Promise((r) => setTimeout(r, 1000));
    await env.reset();
    assert.equal(
      (await env.step({ message: "past the deadline" })).observation.echoed_message,
      "past the deadline",
    );
  });
});

/** Resident memory of a process, in bytes (Linux). */
async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
}

Deno.test({
  name: "front door: unfinished 60 MiB frames cannot grow the server past the connection cap",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const MiB = 1 << 20;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        new URL("../main.ts", import.meta.url).pathname,
        "serve",
        "echo",
        "--port",
        "0",
        "--max-connections-per-peer",
        "2",
        "--first-message-timeout",
        "2",
      ],
      env: { ENVTORCH_TOKEN: "" },
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const first = (await lines.read()).value ?? "";
      const port = Number(first.match(/127\.0\.0\.1:(\d+)/)?.[1]);
      assert.ok(port > 0, first);
      const before = await rssOf(child.pid);
      const conns: Deno.TcpConn[] = [];
      const refused: number[] = [];
      const chunk = new Uint8Array(MiB);
      for (let i = 0; i < 6; i++) {
        const conn = await openRawWs(port);
        if (typeof conn === "number") {
          refused.push(conn);
          continue;
        }
        conns.push(conn);
        // A masked text frame that claims 60 MiB, then 16 MiB of it.
        const header = new Uint8Array(14);
        header[0] = 0x81;
        header[1] = 0x80 | 127;
        new DataView(header.buffer).setBigUint64(2, BigInt(60 * MiB));
        await conn.write(header);
        for (let sent = 0; sent < 16 * MiB; sent += MiB) await conn.write(chunk);
      }
      assert.equal(conns.length, 2, "two connections per peer are let in");
      assert.deepEqual(refused, [503, 503, 503, 503], "the rest are refused before the upgrade");
      await new Promise((r) => setTimeout(r, 300));
      const grown = (await rssOf(child.pid)) - before;
      // Two connections may buffer 2 x 16 MiB; six would have buffered 96 MiB.
      assert.ok(grown < 64 * MiB, `server RSS grew by ${(grown / MiB).toFixed(0)} MiB`);
      // Past the first-message deadline each stalled connection is told to close.
      for (const conn of conns) assert.equal(await closeCode(conn, 6000), 1008);
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed by closeCode's timer.
        }
      }
      // The server still serves.
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      child.kill("SIGTERM");
      await lines.cancel().catch(() => {});
      await child.status;
    }
  },
});
