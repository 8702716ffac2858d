/**
 * The README's main command, `deno task demo`, run as a user runs it: it
 * prints the echoed message and reward 1.3, with no Docker.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";

Deno.test("deno task demo prints the echoed message and reward 1.3", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "demo"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(
    stdout,
    "reset: Echo environment ready!\nechoed: Hello, World!\nreward: 1.3\nsteps: 1\n",
  );
});

Deno.test("the demo leaves no child process or socket folder behind", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "demo"],
      cwd: ROOT,
      env: { TMPDIR: tmp },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(out.code, 0);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], "the socket folder is removed");
    assert.deepEqual(await processesMentioning(tmp), [], "the server process has exited");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(text)) found.push(`${entry.name}: ${cmdline.replaceAll("\0", " ")}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
