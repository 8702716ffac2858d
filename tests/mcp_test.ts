/**
 * MCP tools over the env server (OpenEnv's shapes): `list_tools` /
 * `call_tool` step actions, the `/ws` `mcp` message, `POST /mcp` with
 * `openenv/session/*`, WebSocket `/mcp`; plus the OpenEnv-compatible HTTP
 * details (405, 422 detail lists, /openapi.json, /docs) and the implicit HTTP
 * session that holds no slot.
 */
import assert from "node:assert/strict";
import { EchoEnvironment, echoModels } from "../envs/echo/mod.ts";
import { startTarget } from "./helpers/targets.ts";
import { GenericEnvClient } from "../client/client.ts";
import { ToolCallError } from "../protocol/tools.ts";
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
import { StreamableHTTPClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/streamableHttp.js";

const echo = () => new EchoEnvironment();
const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});
const rpc = (method: string, params: Record<string, unknown> = {}, id: number | string = 1) => ({
  jsonrpc: "2.0",
  id,
  method,
  params,
});

/** A WebSocket to `path` that yields parsed messages in order. */
async function socket(baseUrl: string, path: string) {
  const ws = new WebSocket(baseUrl.replace("http", "ws") + path);
  const queue: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  ws.onmessage = (e) => {
    const v = JSON.parse(e.data);
    const w = waiters.shift();
    if (w) w(v);
    else queue.push(v);
  };
  const closed = new Promise<void>((r) => (ws.onclose = () => r()));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`Cannot open ${path}`));
  });
  return {
    send: (v: unknown) => ws.send(JSON.stringify(v)),
    sendText: (text: string) => ws.send(text),
    next: <T = Record<string, unknown>>(): Promise<T> =>
      queue.length
        ? Promise.resolve(queue.shift() as T)
        : new Promise((r) => waiters.push(r as (v: unknown) => void)),
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

Deno.test("list_tools and call_tool step actions answer with OpenEnv's observations", async () => {
  await using target = await startTarget("tcp", echo, echoModels);
  // list_tools works before reset.
  const list = await (await target.http("/step", post({ action: { type: "list_tools" } }))).json();
  assert.deepEqual(list.observation.tools.map((t: { name: string }) => t.name), [
    "echo_message",
    "echo_with_length",
  ]);
  assert.deepEqual(list.observation.tools[0].input_schema.required, ["message"]);
  await (await target.http("/reset", post({}))).body?.cancel();

  const call = await target.http(
    "/step",
    post({
      action: { type: "call_tool", tool_name: "echo_with_length", arguments: { message: "hey" } },
    }),
  );
  const called = await call.json();
  assert.equal(called.observation.tool_name, "echo_with_length");
  assert.equal(called.observation.error, null);
  assert.deepEqual(called.observation.result.data, { message: "hey", length: 3 });
  assert.deepEqual(called.observation.result.structured_content, { message: "hey", length: 3 });
  assert.equal(called.observation.result.is_error, false);
  assert.equal(called.reward, 0.3);

  for (
    const [action, errorType] of [
      [{ type: "call_tool", tool_name: "nope", arguments: {} }, "tool_not_found"],
      [{ type: "call_tool", tool_name: "echo_message", arguments: { x: 1 } }, "invalid_args"],
    ] as const
  ) {
    const res = await (await target.http("/step", post({ action }))).json();
    assert.equal(res.observation.result, null);
    assert.equal(res.observation.error.error_type, errorType);
  }
  // A malformed tool action is a 422 like any bad action.
  const bad = await target.http("/step", post({ action: { type: "call_tool" } }));
  assert.equal(bad.status, 422);
  assert.deepEqual((await bad.json()).detail[0].loc, ["body", "action", "tool_name"]);
  // Plain echo actions still work beside the tools; both count as steps.
  const plain = await (await target.http("/step", post({ action: { message: "hi" } }))).json();
  assert.equal(plain.observation.echoed_message, "hi");
  assert.equal((await (await target.http("/state")).json()).step_count, 2);
});

Deno.test("the /ws mcp message runs JSON-RPC tools/list and tools/call in the socket's session", async () => {
  await using target = await startTarget("tcp", echo, echoModels);
  const ws = await socket(target.baseUrl!, "/ws");
  ws.send({ type: "reset", data: { episode_id: "ep-mcp" } });
  await ws.next();
  ws.send({ type: "mcp", data: rpc("tools/list", {}, 1) });
  const list = await ws.next<{ type: string; data: { result: { tools: { name: string }[] } } }>();
  assert.equal(list.type, "mcp");
  assert.deepEqual(list.data.result.tools.map((t) => t.name), ["echo_message", "echo_with_length"]);
  ws.send({
    type: "mcp",
    data: rpc("tools/call", { name: "echo_message", arguments: { message: "yo" } }, "a"),
  });
  const call = await ws.next<{ data: { id: string; result: { data: string } } }>();
  assert.equal(call.data.id, "a");
  assert.equal(call.data.result.data, "yo");
  ws.send({ type: "state" });
  const state = await ws.next<{ data: { episode_id: string; step_count: number } }>();
  assert.deepEqual([state.data.episode_id, state.data.step_count], ["ep-mcp", 1]);
  ws.send({ type: "mcp", data: { method: "tools/list" } });
  const invalid = await ws.next<{ data: { error: { code: number } } }>();
  assert.equal(invalid.data.error.code, -32600);
  ws.send({ type: "mcp", data: rpc("resources/list") });
  assert.equal((await ws.next<{ data: { error: { code: number } } }>()).data.error.code, -32601);
  await ws.close();
});

Deno.test("POST /mcp: stateless calls, openenv/session/create and close, JSON-RPC errors", async () => {
  await using target = await startTarget("tcp", echo, echoModels, { maxSessions: 2 });
  const call = async (body: unknown) => {
    const res = await target.http("/mcp", post(body));
    assert.equal(res.status, 200);
    return await res.json();
  };
  const list = await call(rpc("tools/list"));
  assert.deepEqual(list.result.tools[1].inputSchema.properties, { message: { type: "string" } });
  const stateless = await call(
    rpc("tools/call", { name: "echo_message", arguments: { message: "x" } }),
  );
  assert.equal(stateless.result.data, "x");

  const created = await call(rpc("openenv/session/create"));
  const id = created.result.session_id;
  assert.match(id, /^[0-9a-f-]{36}$/);
  for (const message of ["a", "b"]) {
    const r = await call(
      rpc("tools/call", { name: "echo_message", arguments: { message }, session_id: id }),
    );
    assert.equal(r.result.data, message);
  }
  // The MCP session is an HTTP session too: its state shows the two calls.
  const state = await target.http("/state", { headers: { "envtorch-session": id } });
  assert.equal(state.status, 404, "an MCP session is not an HTTP header session");
  await state.body?.cancel();
  assert.equal(target.app.sessions.get(id)?.kind, "mcp");

  const closed = await call(rpc("openenv/session/close", { session_id: id }));
  assert.deepEqual(closed.result, { session_id: id, closed: true });
  const gone = await call(
    rpc("tools/call", { name: "echo_message", arguments: { message: "c" }, session_id: id }),
  );
  assert.equal(gone.error.code, -32602);
  assert.match(gone.error.message, /Unknown session_id/);

  const unknownTool = await call(rpc("tools/call", { name: "nope" }));
  assert.equal(unknownTool.error.code, -32602);
  assert.equal(unknownTool.error.data.error_type, "tool_not_found");
  assert.equal((await call(rpc("tools/call", {}))).error.code, -32602);
  assert.equal((await call(rpc("bogus"))).error.code, -32601);
  assert.equal((await call(rpc("openenv/session/close"))).error.code, -32602);
  assert.equal((await call({ jsonrpc: "1.0", method: "tools/list" })).error.code, -32600);
  assert.equal(
    (await call({ jsonrpc: "2.0", method: "tools/list", params: [1] })).error.code,
    -32602,
  );
  const parse = await call("{not json");
  assert.deepEqual(parse, {
    jsonrpc: "2.0",
    id: null,
    error: { code: -32700, message: "Parse error", data: null },
  });

  // Sessions made over /mcp count against the cap and say so.
  await call(rpc("openenv/session/create"));
  await call(rpc("openenv/session/create"));
  const full = await call(rpc("openenv/session/create"));
  assert.equal(full.error.code, -32000);
  assert.deepEqual(full.error.data, { active_sessions: 2, max_sessions: 2 });
  // A stateless call holds a slot while it runs, so a full server refuses it too.
  const stateless2 = await call(
    rpc("tools/call", { name: "echo_message", arguments: { message: "x" } }),
  );
  assert.equal(stateless2.error.code, -32000);
});

Deno.test("WebSocket /mcp serves JSON-RPC in its own session", async () => {
  await using target = await startTarget("tcp", echo, echoModels);
  const ws = await socket(target.baseUrl!, "/mcp");
  ws.send(rpc("openenv/session/create", {}, 1));
  const own = await ws.next<{ result: { session_id: string } }>();
  assert.equal(target.app.sessions.get(own.result.session_id)?.kind, "ws");
  ws.send(rpc("tools/call", { name: "echo_with_length", arguments: { message: "four" } }, 2));
  assert.deepEqual((await ws.next<{ result: { data: unknown } }>()).result.data, {
    message: "four",
    length: 4,
  });
  ws.send(rpc("openenv/session/close", { session_id: own.result.session_id }, 3));
  assert.equal((await ws.next<{ error: { code: number } }>()).error.code, -32600);
  ws.sendText("{oops");
  assert.equal((await ws.next<{ error: { code: number } }>()).error.code, -32700);
  await ws.close();
});

Deno.test("the implicit HTTP session holds no slot: --max-sessions 1, POST /reset, a WebSocket still gets in", async () => {
  await using target = await startTarget("tcp", echo, echoModels, { maxSessions: 1 });
  const reset = await target.http("/reset", post({}));
  assert.equal(reset.status, 200);
  await reset.body?.cancel();
  const ws = await socket(target.baseUrl!, "/ws");
  ws.send({ type: "reset", data: {} });
  assert.equal((await ws.next()).type, "observation");
  // The cap still holds for everyone else.
  const second = await socket(target.baseUrl!, "/ws");
  const refused = await second.next<{ type: string; data: { code: string } }>();
  assert.deepEqual([refused.type, refused.data.code], ["error", "CAPACITY_REACHED"]);
  await second.close();
  // And the implicit session keeps its episode.
  const step = await target.http("/step", post({ action: { message: "still here" } }));
  assert.equal((await step.json()).observation.echoed_message, "still here");
  await ws.close();
});

Deno.test("OpenEnv's HTTP details: null seed and episode_id, 405, /openapi.json and /docs", async () => {
  await using target = await startTarget("tcp", echo, echoModels);
  const reset = await target.http("/reset", post({ seed: null, episode_id: null, trace_id: "t" }));
  assert.equal(reset.status, 200);
  assert.equal((await reset.json()).reward, 0);
  const wrong = await target.http("/step");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST");
  assert.deepEqual(await wrong.json(), { detail: "Method Not Allowed" });
  const doc = await (await target.http("/openapi.json")).json();
  assert.equal(doc.openapi, "3.1.0");
  assert.deepEqual(doc.components.schemas.Action.required, ["message"]);
  assert.ok(doc.paths["/mcp"].post);
  const docs = await target.http("/docs");
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /SwaggerUI/);
});

Deno.test("envtorch's client lists and calls tools over WebSocket and HTTP", async () => {
  await using target = await startTarget("tcp", echo, echoModels);
  for (const transport of ["websocket", "http"] as const) {
    await using env = new GenericEnvClient({ baseUrl: target.baseUrl!, transport });
    assert.deepEqual((await env.listTools()).map((t) => t.name), [
      "echo_message",
      "echo_with_length",
    ]);
    await env.reset();
    assert.equal(await env.callTool("echo_message", { message: "typed" }), "typed");
    assert.deepEqual(await env.callTool("echo_with_length", { message: "ab" }), {
      message: "ab",
      length: 2,
    });
    await assert.rejects(env.callTool("nope"), (e: unknown) => {
      assert.ok(e instanceof ToolCallError);
      assert.equal(e.errorType, "tool_not_found");
      return true;
    });
    assert.equal((await env.state()).step_count, 2);
  }
});

Deno.test("/mcp is behind the front door: token and Origin are checked as on every route", async () => {
  await using target = await startTarget("tcp", echo, echoModels, { token: "s3cret" });
  const body = rpc("tools/list");
  const refused = await target.http("/mcp", post(body));
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const ok = await target.http("/mcp", post(body, { authorization: "Bearer s3cret" }));
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).result.tools.length, 2);
  const foreign = await target.http(
    "/mcp",
    post(body, { authorization: "Bearer s3cret", origin: "https://evil.example" }),
  );
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
  const upgrade = await target.http("/mcp", {
    headers: {
      upgrade: "websocket",
      authorization: "Bearer s3cret",
      origin: "https://evil.example",
    },
  });
  assert.equal(upgrade.status, 403);
  await upgrade.body?.cancel();
});

Deno.test("a standard MCP client (the SDK's Streamable HTTP transport) uses /mcp beside OpenEnv's dialect", async () => {
  await using target = await startTarget("tcp", echo, echoModels, { maxSessions: 2 });
  const client = new Client({ name: "envtorch-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${target.baseUrl}/mcp`));
  await client.connect(transport);
  const id = transport.sessionId!;
  assert.equal(target.app.sessions.get(id)?.kind, "mcp", "an envtorch session, under the cap");
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t: { name: string }) => t.name).sort(), [
    "echo_message",
    "echo_with_length",
    "reset",
    "state",
    "step",
  ]);
  const r = await client.callTool({ name: "echo_with_length", arguments: { message: "std" } });
  assert.deepEqual(r.structuredContent, { message: "std", length: 3 });
  const state = await client.callTool({ name: "state", arguments: {} });
  assert.equal((state.structuredContent as { step_count: number }).step_count, 1);
  // OpenEnv's dialect still answers on the same route meanwhile.
  const list = await (await target.http("/mcp", post(rpc("tools/list")))).json();
  assert.equal(list.result.tools.length, 2);
  // Ending the MCP session frees its slot.
  await transport.terminateSession();
  await client.close();
  assert.equal(target.app.sessions.get(id), undefined);
  const gone = await target.http("/mcp", post(rpc("tools/list"), { "mcp-session-id": id }));
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
});
