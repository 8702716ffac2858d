import assert from "node:assert/strict";
import { httpClientFor, parseBaseUrl } from "./transport.ts";

Deno.test("parseBaseUrl maps every accepted scheme", () => {
  assert.deepEqual(parseBaseUrl("http://127.0.0.1:8000"), {
    httpBase: "http://127.0.0.1:8000",
    wsBase: "ws://127.0.0.1:8000",
  });
  assert.deepEqual(parseBaseUrl("wss://envs.example.com/echo/"), {
    httpBase: "https://envs.example.com/echo",
    wsBase: "wss://envs.example.com/echo",
  });
  assert.deepEqual(parseBaseUrl("unix:/run/envtorch/env.sock"), {
    httpBase: "http://localhost",
    wsBase: "ws://localhost",
    socketPath: "/run/envtorch/env.sock",
  });
  assert.equal(parseBaseUrl("unix:///tmp/a.sock").socketPath, "/tmp/a.sock");
});

Deno.test("parseBaseUrl refuses what it cannot reach", () => {
  assert.throws(() => parseBaseUrl("127.0.0.1:8000"), /Invalid base URL/);
  assert.throws(() => parseBaseUrl("file:///etc/passwd"), /unsupported scheme file:/);
  assert.throws(() => parseBaseUrl("unix:env.sock"), /unix:\/absolute\/path.sock/);
});

Deno.test("httpClientFor gives a unix-socket client for unix: URLs only", async () => {
  assert.equal(httpClientFor(parseBaseUrl("http://127.0.0.1:8000")), undefined);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/env.sock`;
  const server = Deno.serve({ path, transport: "unix", onListen() {} }, () => new Response("hi"));
  try {
    using client = httpClientFor(parseBaseUrl(`unix:${path}`))!;
    const res = await fetch("http://localhost/health", { client });
    assert.equal(await res.text(), "hi");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
