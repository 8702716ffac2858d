/**
 * A hostile or broken Docker engine (what `DOCKER_HOST` may point at): a
 * fake engine, served by the test on a unix socket, answers with endless
 * bodies, a forged API version and names full of terminal escapes. The
 * client must stop reading at its caps, refuse the version, and `envtorch
 * ps` / `clean` must print no control character that came from the engine.
 * The fake is a fake because a real engine does not misbehave on demand.
 */
import assert from "node:assert/strict";
import { DockerEngine } from "../providers/docker/engine.ts";
import { waitForHealth } from "../providers/health.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const MIB = 1024 * 1024;

/** A body of `limit` bytes at most, counting what the reader actually pulled. */
function endless(
  limit: number,
  counter: { sent: number },
  fill = 0x5b,
): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(fill);
  return new ReadableStream({
    pull(controller) {
      if (counter.sent >= limit) return controller.close();
      counter.sent += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

interface FakeEngine extends AsyncDisposable {
  host: string;
  paths: string[];
}

async function fakeEngine(
  handler: (path: string, req: Request) => Response | undefined,
  options: { apiVersion?: string } = {},
): Promise<FakeEngine> {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-fake-engine-" });
  const path = `${dir}/docker.sock`;
  const paths: string[] = [];
  const server = Deno.serve({ path, transport: "unix", onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    paths.push(url.pathname + url.search);
    if (url.pathname === "/_ping") {
      return new Response("OK", { headers: { "api-version": options.apiVersion ?? "1.41" } });
    }
    return handler(url.pathname, req) ?? Response.json({ message: "not faked" }, { status: 404 });
  });
  return {
    host: `unix://${path}`,
    paths,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function cli(args: string[], dockerHost: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", CONFIG, MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DOCKER_HOST: dockerHost },
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

const EVIL_NAME = "/evil\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202etxt";
const summary = (labels: Record<string, string>) => ({
  Id: "f".repeat(64),
  Names: [EVIL_NAME],
  Image: "img\x1b[1A\rforged",
  State: "running",
  Status: "Up\x1b[K 1 minute",
  Created: 1_700_000_000,
  Labels: { "envtorch.managed": "true", ...labels },
  Ports: [],
  Mounts: [],
});

Deno.test("a hostile engine: a forged api-version is refused, no request path is rewritten", async () => {
  await using fake = await fakeEngine(() => Response.json([]), {
    apiVersion: "1.45/../../../evil?x=",
  });
  const ps = await cli(["ps"], fake.host);
  assert.equal(ps.code, 1, ps.stdout);
  assert.match(
    ps.stderr,
    /sent an invalid API version "1\.45\/\.\.\/\.\.\/\.\.\/evil\?x=": expected e\.g\. 1\.41/,
  );
  assert.deepEqual(fake.paths.filter((p) => p !== "/_ping"), []);
  assert.ok(!fake.paths.some((p) => p.includes("evil")));
});

Deno.test("a hostile engine: endless bodies are cut at the caps", async (t) => {
  const counter = { sent: 0 };
  await using fake = await fakeEngine((path) => {
    if (path === "/v1.41/containers/json") {
      return new Response(endless(256 * MIB, counter), {
        headers: { "content-type": "application/json" },
      });
    }
    if (path.endsWith("/logs")) return new Response(endless(256 * MIB, counter, 1));
    if (path.endsWith("/start")) return new Response(endless(256 * MIB, counter), { status: 500 });
  });

  await t.step("ps: an endless container list stops at 32 MiB with a clear error", async () => {
    counter.sent = 0;
    const ps = await cli(["ps"], fake.host);
    assert.equal(ps.code, 1);
    assert.match(ps.stderr, /sent more than 33554432 bytes: stopped reading/);
    assert.ok(counter.sent < 48 * MIB, `the engine got to send ${counter.sent} bytes`);
  });

  await using engine = new DockerEngine({ host: fake.host });
  await t.step("logs stop at 8 MiB", async () => {
    counter.sent = 0;
    await assert.rejects(engine.containers.logs("abc"), /sent more than 8388608 bytes/);
    assert.ok(counter.sent < 24 * MIB, `the engine got to send ${counter.sent} bytes`);
  });
  await t.step("an error body stops at 64 KiB", async () => {
    counter.sent = 0;
    await assert.rejects(engine.containers.start("abc"), /sent more than 65536 bytes/);
    assert.ok(counter.sent < 16 * MIB, `the engine got to send ${counter.sent} bytes`);
  });
});

Deno.test("a container whose /health never ends its body is read 64 KiB at most", async () => {
  const counter = { sent: 0 };
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(endless(512 * MIB, counter, 0x20)),
  );
  await assert.rejects(
    waitForHealth(`http://127.0.0.1:${server.addr.port}`, { timeoutS: 1, intervalS: 0.2 }),
    /never answered \/health after 1 s \(last: \/health sent more than 65536 bytes/,
  );
  assert.ok(counter.sent < 32 * MIB, `the container got to send ${counter.sent} bytes`);
});

Deno.test("ps and clean print no control character that came from the engine", async (t) => {
  await using fake = await fakeEngine((path) => {
    if (path === "/v1.41/containers/json") {
      return Response.json([
        summary({ "envtorch.expires": "2000-01-01T00:00:00Z" }),
      ]);
    }
    if (path.startsWith("/v1.41/containers/")) {
      return Response.json({ message: "cannot remove \x1b]0;owned\x07 now" }, { status: 500 });
    }
  });
  await t.step("ps", async () => {
    const ps = await cli(["ps"], fake.host);
    assert.equal(ps.code, 0, ps.stderr);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(ps.stdout, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    assert.match(ps.stdout, /evil\?\]0;pwned\?\?\[2J\?\[31mred\?txt/);
    assert.match(ps.stdout, /img\?\[1A\?forged/);
  });
  await t.step("ps --json escapes them as JSON does", async () => {
    const ps = await cli(["ps", "--json"], fake.host);
    assert.equal(ps.code, 0, ps.stderr);
    assert.ok(!ps.stdout.includes("\x1b"));
    assert.equal(JSON.parse(ps.stdout)[0].name, EVIL_NAME.slice(1));
  });
  await t.step("clean, with the engine's error message", async () => {
    const clean = await cli(["clean"], fake.host);
    assert.equal(clean.code, 1);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(clean.stdout + clean.stderr, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    assert.match(clean.stdout, /failed to remove evil\?\]0;pwned/);
    assert.match(clean.stdout, /cannot remove \?\]0;owned\? now/);
  });
});
