/**
 * What errors quote is capped: a refused oversized or malformed input comes
 * back as a line a person can read, not as the input itself.
 */
import assert from "node:assert/strict";
import { EchoEnvironment, echoModels } from "../mod.ts";
import { errorFromHttp } from "../protocol/errors.ts";
import { runEnvtorch } from "./helpers/cli_run.ts";
import { startTarget } from "./helpers/targets.ts";

const LONGEST_LINE = 2500;

function longestLine(text: string): number {
  return Math.max(0, ...text.split("\n").map((l) => l.length));
}

Deno.test("repl: a refused 2 MB action is reported in a short line, and the session goes on", async () => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels);
  const big = JSON.stringify({ message: "x".repeat(2_000_000) });
  const { code, stdout, stderr } = await runEnvtorch(["repl", target.baseUrl!], {
    input: `reset\nstep ${big}\nstep {"message":"hi"}\nquit\n`,
  });
  assert.equal(code, 1, "a failed command makes the exit code 1");
  assert.match(stderr, /over the limit of 1048576 bytes/);
  assert.match(stderr, /more characters\)/, "the quoted action says it was cut");
  assert.ok(longestLine(stderr) < LONGEST_LINE, `longest stderr line: ${longestLine(stderr)}`);
  assert.match(stdout, /"echoed_message":"hi"/, "the session survived");
});

Deno.test("server: an error about a huge message type quotes a capped part of it", async () => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels);
  const ws = await target.ws();
  ws.send(JSON.stringify({ type: "t".repeat(900_000) }));
  const reply = await ws.next();
  assert.equal(reply.type, "error");
  assert.equal(reply.data.code, "UNKNOWN_TYPE");
  const message = String(reply.data.message);
  assert.match(message, /^Unknown message type "tttt/);
  assert.ok(message.length < LONGEST_LINE, `message of ${message.length} characters`);
  ws.close();
});

Deno.test("client: a peer's 422 that quotes the whole input becomes a short error", () => {
  // FastAPI's 422 detail carries the refused value itself in `input`.
  const error = errorFromHttp(422, {
    detail: [{
      loc: ["body", "action"],
      msg: "m".repeat(1_000_000),
      type: "x",
      input: "y".repeat(1_000_000),
    }],
  });
  assert.ok(error.message.length < LONGEST_LINE, `message of ${error.message.length} characters`);
  assert.ok(JSON.stringify(error.details).length < LONGEST_LINE);
  assert.equal("input" in (error.details.errors as object[])[0]!, false);
});
