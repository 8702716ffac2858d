/**
 * The `envtorch` CLI as a user runs it: help, version, list, serve over TCP
 * and a unix socket, bad flags and exit codes.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { httpClientFor, parseBaseUrl } from "../client/transport.ts";
import { runCli, startCli } from "./helpers/cli.ts";

Deno.test("envtorch --help lists the commands and exits 0", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: envtorch <command>/);
  assert.match(stdout, /serve\s+host a bundled env/);
  assert.match(stdout, /list\s+list the bundled envs/);
});

Deno.test("envtorch with no command prints help on stderr and exits 2", async () => {
  const { code, stderr } = await runCli([]);
  assert.equal(code, 2);
  assert.match(stderr, /Usage: envtorch/);
});

Deno.test("envtorch --version reads deno.json", async () => {
  for (const flag of ["--version", "-V"]) {
    const { code, stdout } = await runCli([flag]);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), `envtorch ${denoJson.version}`);
  }
});

Deno.test("an unknown command exits 2 and names it", async () => {
  const { code, stderr } = await runCli(["lauch"]);
  assert.equal(code, 2);
  assert.match(stderr, /unknown command "lauch"/);
});

Deno.test("envtorch list shows the echo env, as text and JSON", async () => {
  const text = await runCli(["list"]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^NAME\s+IMAGE\s+CONCURRENT\s+DESCRIPTION$/m);
  assert.match(text.stdout, /^echo\s+echo-env:latest\s+yes\s+Echoes each message back/m);
  // Columns line up: each column starts at the same offset on every line.
  const lines = text.stdout.trimEnd().split("\n");
  const header = lines[0]!;
  for (const column of ["IMAGE", "CONCURRENT", "DESCRIPTION"]) {
    const at = header.indexOf(column);
    for (const line of lines.slice(1)) {
      assert.equal(line.slice(at - 2, at), "  ", `${column} column of ${JSON.stringify(line)}`);
      assert.notEqual(line[at], " ", `${column} column of ${JSON.stringify(line)}`);
    }
  }
  const json = await runCli(["list", "--json"]);
  const envs = JSON.parse(json.stdout);
  const echo = envs.find((e: { name: string }) => e.name === "echo");
  assert.deepEqual(echo, {
    name: "echo",
    description: "Echoes each message back; reward is 0.1 per character",
    image: "echo-env:latest",
    concurrent_sessions: true,
  });
});

Deno.test("serve: usage errors exit 2 with a clear message and the usage", async (t) => {
  const cases: [string[], RegExp][] = [
    [["serve"], /Missing the env to serve/],
    [["serve", "nope"], /Unknown env "nope": known envs are .*echo/],
    [["serve", "echo", "--port", "abc"], /--port must be an integer from 0 to 65535, got "abc"/],
    [["serve", "echo", "--port", "70000"], /--port must be an integer/],
    [["serve", "echo", "--bogus"], /Unknown option '--bogus'/],
    [["serve", "echo", "--port", "1", "--socket", "/tmp/x.sock"], /--port or --socket, not both/],
    [["serve", "echo", "--max-sessions", "0"], /--max-sessions must be an integer from 1/],
    [["serve", "echo", "--idle-timeout", "soon"], /--idle-timeout must be a number/],
    [["serve", "echo", "extra"], /Expected one env/],
    [["list", "extra"], /Unexpected argument extra/],
  ];
  const withEnv: [string[], Record<string, string>, RegExp][] = [
    [
      ["serve", "echo"],
      { PORT: "abc" },
      /^envtorch serve: \$PORT must be an integer from 0 to 65535, got "abc"$/m,
    ],
  ];
  for (const [args, env, pattern] of withEnv) {
    await t.step(
      `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")} ${args.join(" ")}`,
      async () => {
        const { code, stderr } = await runCli(args, { env });
        assert.equal(code, 2, stderr);
        assert.match(stderr, pattern);
        assert.doesNotMatch(stderr, /--port/);
      },
    );
  }
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, pattern);
      assert.match(stderr, new RegExp(`^Run 'envtorch ${args[0]} --help' for its usage\\.$`, "m"));
      assert.doesNotMatch(stderr, /Usage:/, "the error, not the whole help");
    });
  }
});

Deno.test("serve --help exits 0 with the options", async () => {
  const { code, stdout } = await runCli(["serve", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /--max-sessions N/);
});

Deno.test("serve echo over TCP answers curl-style requests with docs/protocol.md's shapes", async () => {
  await using server = await startCli(["serve", "echo", "--port", "0"]);
  const match = server.firstLine.match(/serving echo on (http:\/\/127\.0\.0\.1:\d+)/);
  assert.ok(match, server.firstLine);
  const base = match[1]!;
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: "healthy" });
  const json = { "content-type": "application/json" };
  const reset = await fetch(`${base}/reset`, { method: "POST", headers: json, body: "{}" });
  assert.deepEqual(await reset.json(), {
    observation: { echoed_message: "Echo environment ready!", message_length: 0, metadata: {} },
    reward: 0,
    done: false,
  });
  const step = await fetch(`${base}/step`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ action: { message: "Hello, World!" } }),
  });
  const body = await step.json();
  assert.equal(body.reward, 1.3);
  assert.equal(body.observation.echoed_message, "Hello, World!");
  const state = await (await fetch(`${base}/state`)).json();
  assert.equal(state.step_count, 1);
  server.child.kill("SIGTERM");
  assert.equal((await server.child.status).code, 0, "SIGTERM is a clean shutdown");
});

Deno.test("serve echo on a unix socket, removed on shutdown", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/echo.sock`;
  try {
    await using server = await startCli(["serve", "echo", "--socket", path]);
    assert.equal(server.firstLine, `envtorch: serving echo on unix:${path}`);
    const client = httpClientFor(parseBaseUrl(`unix:${path}`));
    const res = await fetch("http://localhost/health", { client });
    assert.deepEqual(await res.json(), { status: "healthy" });
    client?.close();
    server.child.kill("SIGINT");
    assert.equal((await server.child.status).code, 0);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve honours PORT and ENVTORCH_SOCKET from the environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/env.sock`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "main.ts", "serve", "echo"],
      cwd: new URL("../", import.meta.url).pathname,
      env: { ENVTORCH_SOCKET: path },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    assert.match(value ?? "", new RegExp(`serving echo on unix:${path}`));
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve takes the path of a manifest module as well as a name", async () => {
  await using server = await startCli(["serve", "envs/echo/manifest.ts", "--port", "0"]);
  const base = server.firstLine.match(/serving echo on (http:\S+)/)?.[1];
  assert.ok(base, server.firstLine);
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: "healthy" });
});

Deno.test("serve with a manifest path that does not load fails clearly (exit 1)", async () => {
  const missing = await runCli(["serve", "envs/nope/manifest.ts"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot load the env manifest file:\/\/.*envs\/nope\/manifest.ts/);
  const notAManifest = await runCli(["serve", "protocol/models.ts"]);
  assert.equal(notAManifest.code, 1);
  assert.match(notAManifest.stderr, /must export a manifest made with defineEnv/);
});
