/**
 * The MCP checks: the env's tools as OpenEnv serves them, as step actions
 * (`list_tools`, `call_tool`), as WebSocket `mcp` messages and at `POST
 * /mcp` (JSON-RPC 2.0). A tool call whose observation carries an `error` is
 * a failed call. An env with no tools gets one skip, not a line per check.
 *
 * @module
 */
import { isObjectSchema, isPlainObject, type JsonSchema } from "../json_schema.ts";
import type { SocketEvent } from "../probe.ts";
import { sampleFromSchema } from "../schema_samples.ts";
import type { Context } from "./context.ts";
import { errorText, expectObject, expectStatus, fail, type Json, short, skip } from "./helpers.ts";

/** A tool as `list_tools` describes it. */
export interface ToolInfo {
  /** Tool name. */
  name: string;
  /** What it does. */
  description: string;
  /** JSON Schema of its arguments. */
  input_schema: unknown;
}

const NO_SUCH_TOOL = "envtorch_validate_no_such_tool";

/**
 * The env's tools, from a `list_tools` step on a fresh WebSocket session
 * (remembered after the first call). An env that refuses the action has none.
 */
export async function listTools(ctx: Context): Promise<ToolInfo[]> {
  if (ctx.tools) return ctx.tools;
  const { socket, event } = await ctx.openSession({ type: "step", data: { type: "list_tools" } });
  await socket.close();
  const observation = observationOf(event);
  const tools = observation?.tools;
  if (!Array.isArray(tools)) {
    ctx.noToolsReason = observation
      ? `list_tools answered an observation without a tools list: ${
        short(JSON.stringify(observation), 80)
      }`
      : `list_tools was refused: ${errorText(event)}`;
    return ctx.tools = [];
  }
  return ctx.tools = tools.filter(isPlainObject).map((t) => ({
    name: String(t.name),
    description: String(t.description ?? ""),
    input_schema: t.input_schema,
  }));
}

/** Runs the MCP checks. */
export async function mcpChecks(ctx: Context): Promise<void> {
  let tools: ToolInfo[] = [];
  await ctx.check(
    "mcp.list_tools",
    "list_tools lists the env's tools with a name, description and input schema",
    async () => {
      tools = await listTools(ctx);
      if (!tools.length) {
        skip(`the env offers no MCP tools (${ctx.noToolsReason}): MCP not checked`);
      }
      const { socket, event } = await ctx.openSession({
        type: "step",
        data: { type: "list_tools" },
      });
      await socket.close();
      const raw = observationOf(event)?.tools as unknown[];
      const problems = raw.flatMap((t, i) => {
        if (!isPlainObject(t)) return [`tools[${i}] is not an object`];
        const p: string[] = [];
        if (typeof t.name !== "string" || !t.name) p.push(`tools[${i}].name is not a string`);
        if (typeof t.description !== "string") p.push(`tools[${i}].description is not a string`);
        if (!isObjectSchema(t.input_schema)) {
          p.push(`tools[${i}].input_schema is not a JSON Schema of an object`);
        }
        return p;
      });
      if (problems.length) fail(problems.join("; "));
      return tools.map((t) => t.name).join(", ");
    },
  );
  if (!tools.length) return;
  const tool = tools[0]!;
  const args = sampleFromSchema(tool.input_schema as JsonSchema);
  const goodArgs = args.ok && isPlainObject(args.value) ? args.value : undefined;

  await ctx.check(
    "mcp.call_tool",
    "call_tool runs a tool and gives its result with no error",
    async () => {
      if (!goodArgs) skip(`cannot derive arguments for ${tool.name}: ${!args.ok && args.reason}`);
      const observation = await callTool(ctx, tool.name, goodArgs!, { toolErrorOk: false });
      if (observation.tool_name !== tool.name) {
        fail(`the observation names tool ${JSON.stringify(observation.tool_name)}`);
      }
      if (!isPlainObject(observation.result)) {
        fail(`the observation has no result object: ${short(JSON.stringify(observation), 100)}`);
      }
      return `${tool.name}(${short(JSON.stringify(goodArgs), 60)})`;
    },
  );
  await ctx.check(
    "mcp.unknown_tool",
    "calling a tool that does not exist gives an observation with error tool_not_found",
    async () => {
      const observation = await callTool(ctx, NO_SUCH_TOOL, {}, { toolErrorOk: true });
      const error = observation.error;
      if (!isPlainObject(error) || error.error_type !== "tool_not_found") {
        fail(
          `expected error.error_type "tool_not_found", got ${
            short(JSON.stringify(error ?? null), 100)
          }`,
        );
      }
      if (observation.result !== null && observation.result !== undefined) {
        fail("a failed call has a result; expected null");
      }
      return short(String((error as Json).message ?? ""), 60);
    },
  );
  await ctx.check(
    "mcp.ws_jsonrpc",
    'WebSocket {"type":"mcp"} messages answer JSON-RPC tools/list and tools/call',
    async () => {
      const { socket, event } = await ctx.openSession(rpcMessage(1, "tools/list"));
      try {
        const list = rpcResult(event, 1, "tools/list");
        if (!Array.isArray(list.tools)) fail(`tools/list gave no tools list`);
        if (goodArgs) {
          const call = rpcResult(
            await socket.request(
              rpcMessage(2, "tools/call", { name: tool.name, arguments: goodArgs }),
            ),
            2,
            "tools/call",
          );
          if (call.isError === true || call.is_error === true) {
            fail(
              `tools/call of ${tool.name} reports an error: ${short(JSON.stringify(call), 100)}`,
            );
          }
        }
        const unknown = await socket.request(rpcMessage(3, "envtorch/validate-no-such-method"));
        const error = rpcError(unknown, 3);
        if (error.code !== -32601) {
          fail(`an unknown method gave JSON-RPC error ${error.code}, expected -32601`);
        }
        return `${(list.tools as unknown[]).length} tools`;
      } finally {
        await socket.close();
      }
    },
  );
  await ctx.check(
    "mcp.http_jsonrpc",
    "POST /mcp answers JSON-RPC tools/list and refuses an unknown method with -32601",
    async () => {
      const list = await ctx.probe.http("/mcp", {
        method: "POST",
        body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} },
      });
      expectStatus(list, 200, "POST /mcp tools/list");
      const body = expectObject(list, "POST /mcp tools/list");
      if (!isPlainObject(body.result) || !Array.isArray(body.result.tools)) {
        fail(`tools/list gave ${short(list.text)}`);
      }
      const unknown = await ctx.probe.http("/mcp", {
        method: "POST",
        body: { jsonrpc: "2.0", id: 2, method: "envtorch/validate-no-such-method", params: {} },
      });
      const error = isPlainObject(unknown.json) ? unknown.json.error : undefined;
      if (!isPlainObject(error) || error.code !== -32601) {
        fail(`an unknown method gave ${short(unknown.text)}, expected JSON-RPC error -32601`);
      }
      return "";
    },
  );
}

/** Resets a fresh WebSocket session and sends one `call_tool` step; the observation. */
async function callTool(
  ctx: Context,
  name: string,
  args: Json,
  options: { toolErrorOk: boolean },
): Promise<Json> {
  const { socket, event } = await ctx.openSession({ type: "reset", data: {} });
  try {
    ctx.expectObservation(event, "reset before call_tool", "reset");
    const reply = await socket.request({
      type: "step",
      data: { type: "call_tool", tool_name: name, arguments: args },
    });
    if (reply.kind !== "message" || !isPlainObject(reply.message)) {
      return fail(`call_tool ${name}: ${errorText(reply)}`);
    }
    if (reply.message.type !== "observation") {
      return fail(`call_tool ${name} answered ${errorText(reply)}, expected an observation`);
    }
    return ctx.checkStepResult(reply.message.data, `call_tool ${name}`, "step", {
      keep: false,
      toolErrorOk: options.toolErrorOk,
    });
  } finally {
    await socket.close();
  }
}

function observationOf(event: SocketEvent): Json | undefined {
  if (event.kind !== "message" || !isPlainObject(event.message)) return undefined;
  if (event.message.type !== "observation" || !isPlainObject(event.message.data)) return undefined;
  const observation = event.message.data.observation;
  return isPlainObject(observation) ? observation : undefined;
}

function rpcMessage(id: number, method: string, params: Json = {}) {
  return { type: "mcp", data: { jsonrpc: "2.0", id, method, params } };
}

function rpcReply(event: SocketEvent, id: number): Json {
  if (event.kind === "closed") return fail(`the connection closed (code ${event.code})`);
  const message = event.message;
  if (!isPlainObject(message) || message.type !== "mcp" || !isPlainObject(message.data)) {
    return fail(`expected an {"type":"mcp"} reply, got ${short(event.raw)}`);
  }
  const data = message.data;
  if (data.jsonrpc !== "2.0" || data.id !== id) {
    fail(
      `the JSON-RPC reply has jsonrpc ${data.jsonrpc} and id ${data.id}, expected 2.0 and ${id}`,
    );
  }
  return data;
}

function rpcResult(event: SocketEvent, id: number, method: string): Json {
  const data = rpcReply(event, id);
  if (!isPlainObject(data.result)) {
    return fail(`${method} gave no result: ${short(JSON.stringify(data), 100)}`);
  }
  return data.result;
}

function rpcError(event: SocketEvent, id: number): Json {
  const data = rpcReply(event, id);
  if (!isPlainObject(data.error)) {
    return fail(`expected a JSON-RPC error, got ${short(JSON.stringify(data), 100)}`);
  }
  return data.error;
}
