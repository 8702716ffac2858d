/**
 * `envtorch mcp <env>` over stdio, driven by the official MCP SDK client.
 */
import assert from "node:assert/strict";
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function connect(env: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "-A", MAIN, "mcp", env],
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
