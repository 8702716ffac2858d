import assert from "node:assert/strict";
import { TcpForwarder } from "./tcp_forwarder.ts";

Deno.test("the TCP forwarder carries HTTP and WebSocket to a unix socket", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-forwarder-" });
  const socketPath = `${dir}/env.sock`;
  const server = Deno.serve({ path: socketPath, transport: "unix", onListen: () => {} }, (req) => {
    if (req.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`echo ${e.data}`);
      return response;
    }
    return new Response(`${req.method} ${new URL(req.url).pathname}`);
  });
  try {
    await using forwarder = TcpForwarder.listen({ socketPath });
    assert.equal(forwarder.hostname, "127.0.0.1");
    const base = `http://127.0.0.1:${forwarder.port}`;

    await t.step("HTTP requests, one after another and at once", async () => {
      assert.equal(await (await fetch(`${base}/health`)).text(), "GET /health");
      const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetch(`${base}/n${i}`).then((r) => r.text())),
      );
      assert.deepEqual(many, Array.from({ length: 20 }, (_, i) => `GET /n${i}`));
    });

    await t.step("a WebSocket", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${forwarder.port}/ws`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const reply = new Promise<string>((resolve) => ws.onmessage = (e) => resolve(e.data));
      ws.send("hi");
      assert.equal(await reply, "echo hi");
      const closed = new Promise((resolve) => ws.onclose = resolve);
      ws.close();
      await closed;
    });

    await t.step("close() ends open connections and the port", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${forwarder.port}/ws`);
      await new Promise((resolve) => ws.onopen = resolve);
      const closed = new Promise((resolve) => ws.onclose = resolve);
      await forwarder.close();
      await closed;
      await assert.rejects(fetch(`${base}/health`));
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the TCP forwarder listens on loopback only", () => {
  assert.throws(
    () => TcpForwarder.listen({ socketPath: "/nonexistent.sock", hostname: "0.0.0.0" }),
    /loopback only, not 0\.0\.0\.0/,
  );
});

Deno.test("a connection while the socket is missing is closed, and the next one works", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-forwarder-" });
  const socketPath = `${dir}/env.sock`;
  await using forwarder = TcpForwarder.listen({ socketPath });
  await assert.rejects(fetch(`http://127.0.0.1:${forwarder.port}/`));
  const server = Deno.serve(
    { path: socketPath, transport: "unix", onListen: () => {} },
    () => new Response("up"),
  );
  try {
    assert.equal(await (await fetch(`http://127.0.0.1:${forwarder.port}/`)).text(), "up");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
