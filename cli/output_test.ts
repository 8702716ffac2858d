import assert from "node:assert/strict";
import { Output } from "./output.ts";

/** Runs a few Output calls in a child process and returns what it printed. */
async function run(options: string, env: Record<string, string> = {}) {
  const code = `
    import { Output } from "${new URL("./output.ts", import.meta.url).href}";
    const out = new Output(${options});
    const task = out.task("work", { total: 2 });
    task.update("first", 1);
    out.line("a result");
    task.update("second", 2);
    task.done("finished");
    out.json({ done: true });
  `;
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { stdout: decode(result.stdout), stderr: decode(result.stderr) };
}

Deno.test("Output: not a terminal, human mode: results on stdout, no progress", async () => {
  const { stdout, stderr } = await run("{}");
  assert.equal(stdout, "a result\n");
  assert.equal(stderr, "finished\n");
});

Deno.test("Output: progress when forced, cleared before each line", async () => {
  const { stdout, stderr } = await run("{}", { ENVTORCH_PROGRESS: "1" });
  assert.equal(stdout, "a result\n");
  const clear = "\r\x1b[2K";
  const lines = stderr.split(clear);
  assert.match(lines[1]!, /^work \[1\/2\] first \(\d+\.\d s\)$/);
  assert.match(lines[3]!, /^work \[2\/2\] second \(\d+\.\d s\)$/);
  assert.equal(lines.at(-1), "finished\n");
});

Deno.test("Output: JSON mode prints only JSON, even with progress forced", async () => {
  const { stdout, stderr } = await run("{ json: true }", { ENVTORCH_PROGRESS: "1" });
  assert.equal(stdout, '{"done":true}\n');
  assert.equal(stderr, "");
});

Deno.test("Output: tags, plain and coloured", () => {
  const plain = new Output({ color: false, progress: false });
  assert.deepEqual([plain.tag("ok"), plain.tag("fail"), plain.tag("skip")], [
    "ok  ",
    "FAIL",
    "skip",
  ]);
  const color = new Output({ color: true, progress: false });
  assert.equal(color.tag("fail"), "\x1b[31mFAIL\x1b[0m");
});
