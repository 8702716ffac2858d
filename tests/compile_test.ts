/**
 * The single executable: `deno task compile` builds `dist/envtorch`, which
 * alone serves a bundled env and acts as a client. `deno compile` downloads
 * a `denort` runtime; on a machine without internet it cannot, and these
 * tests skip with that reason (everything the binary does is also tested
 * through `deno run main.ts` in cli_test.ts).
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { ROOT, runCli, startCli } from "./helpers/cli.ts";

const BINARY = `${ROOT}dist/envtorch`;

async function compile(): Promise<string | undefined> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "compile"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`deno task compile failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  if (stdout.startsWith("SKIPPED:")) return stdout.slice("SKIPPED: ".length).trim();
  await Deno.stat(BINARY);
  return undefined;
}

const skipReason = await compile();
if (skipReason) console.warn(`SKIP compiled-binary tests: ${skipReason}`);
const ignore = skipReason !== undefined;

Deno.test({
  name: "the compiled envtorch prints its version and lists the bundled envs",
  ignore,
  async fn() {
    const version = await runCli(["--version"], { cmd: [BINARY] });
    assert.equal(version.stdout.trim(), `envtorch ${denoJson.version}`);
    const list = await runCli(["list"], { cmd: [BINARY] });
    assert.match(list.stdout, /^echo\s+echo-env:latest/m);
  },
});

Deno.test({
  name: "the compiled envtorch serves echo and drives it as a client",
  ignore,
  async fn() {
    await using server = await startCli(["serve", "echo", "--port", "0"], { cmd: [BINARY] });
    const base = server.firstLine.match(/on (http:\S+)/)![1]!;
    const step = await fetch(`${base}/reset`, { method: "POST" }).then(() =>
      fetch(`${base}/step`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action: { message: "Hello, World!" } }),
      })
    );
    assert.equal((await step.json()).reward, 1.3);
    const bench = await runCli(["bench", base, "--steps", "10", "--action", '{"message":"x"}'], {
      cmd: [BINARY],
    });
    assert.equal(bench.code, 0, bench.stderr);
  },
});
