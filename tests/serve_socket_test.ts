/**
 * `serve --socket PATH` never takes over a live server's socket, replaces a
 * stale one, and on exit removes only the socket it created.
 */
import assert from "node:assert/strict";
import { runCli, startCli } from "./helpers/cli.ts";

async function health(path: string): Promise<unknown> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  try {
    return await (await fetch("http://localhost/health", { client })).json();
  } finally {
    client.close();
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-sock-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a second serve --socket on a live server's path exits 1 and leaves the first alone", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/env.sock`;
    await using first = await startCli(["serve", "echo", "--socket", path]);
    assert.equal(first.firstLine, `envtorch: serving echo on unix:${path}`);
    const second = await runCli(["serve", "echo", "--socket", path]);
    assert.equal(second.code, 1, second.stderr);
    assert.equal(
      second.stderr.trim(),
      `envtorch serve: A server is already listening on ${path}: stop it or choose another --socket`,
    );
    assert.deepEqual(await health(path), { status: "healthy" }, "the first still answers");
  });
});

Deno.test("serve --socket replaces a stale socket nothing answers on", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/env.sock`;
    // A socket file whose server is gone: bound, then the process exits without unlinking.
    const made = await new Deno.Command("python3", {
      args: ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`],
    }).output();
    assert.ok(made.success);
    assert.ok((await Deno.lstat(path)).isSocket);
    await using server = await startCli(["serve", "echo", "--socket", path]);
    assert.equal(server.firstLine, `envtorch: serving echo on unix:${path}`);
    assert.deepEqual(await health(path), { status: "healthy" });
  });
});

Deno.test("serve --socket refuses a path that is a regular file and keeps the file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/notes.txt`;
    await Deno.writeTextFile(path, "keep me");
    const { code, stderr } = await runCli(["serve", "echo", "--socket", path]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /exists and is not a socket/);
    assert.equal(await Deno.readTextFile(path), "keep me");
  });
});

Deno.test("on exit, serve removes only the socket it created, not a later server's", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/env.sock`;
    const first = await startCli(["serve", "echo", "--socket", path]);
    // Someone removes the first server's socket and a second server takes the path.
    await Deno.remove(path);
    await using second = await startCli(["serve", "echo", "--socket", path]);
    assert.equal(second.firstLine, `envtorch: serving echo on unix:${path}`);
    first.child.kill("SIGTERM");
    assert.equal((await first.child.status).code, 0);
    await first.rest;
    assert.deepEqual(await health(path), { status: "healthy" }, "the second's socket is intact");
  });
});
