/**
 * `envtorch repl` on a real terminal (a pseudo-terminal from util-linux's
 * `script`): arrow keys edit the line, up recalls history, and `quit` exits 0.
 */
import assert from "node:assert/strict";
import { CLI } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";

/** Shell-quotes one argument. */
const sh = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

Deno.test("repl on a terminal: line editing, history, and exit 0 after quit", async () => {
  const command = [...CLI, "repl", "echo"].map(sh).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    env: { NO_COLOR: "1", TERM: "xterm" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) output += chunk;
  })();
  const stderr = new Response(child.stderr).text();
  const keys = child.stdin.getWriter();
  const type = (text: string) => keys.write(new TextEncoder().encode(text));
  const observations = () => output.split('"observation"').length - 1;
  try {
    await eventually("the prompt", () => output.includes("envtorch> "), 30_000);
    // "rest", Left arrow, "e": edited in place into "reset".
    await type("rest\x1b[De\r");
    await eventually("the reset's observation", () => observations() === 1, 10_000);
    // Up arrow recalls "reset"; Enter runs it again.
    await type("\x1b[A\r");
    await eventually("the recalled reset's observation", () => observations() === 2, 10_000);
    await type("quit\r");
    const status = await child.status;
    await reading;
    assert.equal(status.code, 0, output + (await stderr));
    assert.doesNotMatch(output, /Unknown command|error:/);
  } finally {
    await keys.close().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await reading.catch(() => {});
    await stderr.catch(() => {});
  }
});
