/**
 * `envtorch mcp <env>` over stdio, driven by the official MCP SDK client.
 */
import assert from "node:assert/strict";
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function connect(env: string, vars: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "-A", MAIN, "mcp", env],
    env: { ...Deno.env.toObject(), ...vars },
    stderr: "pipe",
  });
  const client = new Client({ name: "envtorch-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

Deno.test("envtorch mcp echo: the SDK client lists and calls the echo tools over stdio", async () => {
  const client = await connect("echo");
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t: { name: string }) => t.name).sort(), [
      "echo_message",
      "echo_with_length",
      "reset",
      "state",
      "step",
    ]);
    const echo = tools.find((t: { name: string }) => t.name === "echo_message")!;
    assert.deepEqual(echo.inputSchema.required, ["message"]);

    const hi = await client.callTool({ name: "echo_message", arguments: { message: "hi" } });
    assert.deepEqual(hi.content, [{ type: "text", text: "hi" }]);
    assert.deepEqual(hi.structuredContent, { result: "hi" });

    const len = await client.callTool({
      name: "echo_with_length",
      arguments: { message: "Hello World!" },
    });
    assert.deepEqual(len.structuredContent, { message: "Hello World!", length: 12 });

    const bad = await client.callTool({ name: "echo_message", arguments: { nope: 1 } });
    assert.equal(bad.isError, true);
    assert.match(JSON.stringify(bad.content), /message/);

    // The episode tools drive the same env.
    const reset = await client.callTool({ name: "reset", arguments: { episode_id: "ep-7" } });
    assert.equal((reset.structuredContent as { reward: number }).reward, 0);
    const step = await client.callTool({
      name: "step",
      arguments: { action: { message: "abc" } },
    });
    const stepped = step.structuredContent as { observation: { echoed_message: string } };
    assert.equal(stepped.observation.echoed_message, "abc");
    const state = await client.callTool({ name: "state", arguments: {} });
    assert.deepEqual(state.structuredContent, { episode_id: "ep-7", step_count: 1, seed: null });

    const refused = await client.callTool({
      name: "step",
      arguments: { action: { text: "wrong field" } },
    });
    assert.equal(refused.isError, true);
    assert.match(JSON.stringify(refused.content), /Invalid action/);
  } finally {
    await client.close();
  }
});

const isRoot = Deno.uid() === 0;
const IN_CI = Deno.env.get("CI") === "true";

Deno.test({
  name: "envtorch mcp coding: run_python keeps the interpreter between calls" +
    (isRoot || IN_CI ? "" : " (skipped: the host coding env needs root)"),
  ignore: !isRoot && !IN_CI,
  async fn() {
    if (!isRoot) throw new Error("CI=true but not root: the host coding env needs root");
    // A worker uid range of this test's own (see coding_host_test.ts).
    const client = await connect("coding", { ENVTORCH_CODING_UIDS: "61420-61423" });
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t: { name: string }) => t.name === "run_python"));
      await client.callTool({ name: "run_python", arguments: { code: "x = 6 * 7" } });
      const r = await client.callTool({ name: "run_python", arguments: { code: "print(x)" } });
      const out = r.structuredContent as { stdout: string; exit_code: number; timed_out: boolean };
      assert.deepEqual([out.stdout, out.exit_code, out.timed_out], ["42\n", 0, false]);
      const err = await client.callTool({ name: "run_python", arguments: { code: "1/0" } });
      const failed = err.structuredContent as { exit_code: number; stderr: string };
      assert.equal(failed.exit_code, 1);
      assert.match(failed.stderr, /ZeroDivisionError/);
    } finally {
      await client.close();
    }
  },
});
