/**
 * The first checks of the suite: `/health`, `/metadata`, `/schema`, what
 * kind of server it is, whether a session can be opened at all, and the
 * action the step checks will send.
 *
 * @module
 */
import { checkSchema, isObjectSchema, isPlainObject, type JsonSchema } from "../json_schema.ts";
import { invalidFromSchema, sampleFromSchema } from "../schema_samples.ts";
import { SESSION_HEADER } from "../../protocol/models.ts";
import type { Context } from "./context.ts";
import {
  errorText,
  expectObject,
  expectStatus,
  fail,
  fieldType,
  isCapacity,
  type Json,
  short,
  skip,
} from "./helpers.ts";
import { listTools } from "./mcp.ts";

/** The error codes envtorch puts in its error bodies. */
const ENVTORCH_CODES = new Set([
  "INVALID_JSON",
  "UNKNOWN_TYPE",
  "VALIDATION_ERROR",
  "EXECUTION_ERROR",
  "CAPACITY_REACHED",
  "FACTORY_ERROR",
  "SESSION_ERROR",
]);

/** `GET /health` answers `{"status":"healthy"}`. */
export async function health(ctx: Context): Promise<string> {
  const res = await ctx.probe.http("/health");
  expectStatus(res, 200, "GET /health");
  const body = expectObject(res, "GET /health");
  if (body.status !== "healthy") {
    fail(`GET /health answered ${short(res.text)}, expected {"status":"healthy"}`);
  }
  return "";
}

/** Whether anything answers HTTP at all. */
export async function reachable(ctx: Context): Promise<boolean> {
  try {
    await ctx.probe.http("/health");
    return true;
  } catch {
    return false;
  }
}

/** `GET /metadata` names and describes the env. */
export async function metadata(ctx: Context): Promise<string> {
  const res = await ctx.probe.http("/metadata");
  expectStatus(res, 200, "GET /metadata");
  const body = expectObject(res, "GET /metadata");
  const problems = [
    ...fieldType(body, "name", ["string"], true),
    ...fieldType(body, "description", ["string"], true),
    ...["version", "readme_content", "author", "documentation_url"].flatMap((k) =>
      fieldType(body, k, ["string", "null"], false)
    ),
  ];
  if (problems.length) fail(`GET /metadata: ${problems.join("; ")}`);
  return `${body.name}: ${short(String(body.description), 60)}`;
}

/** `GET /schema` gives JSON Schemas of action, observation and state. */
export async function schema(ctx: Context): Promise<string> {
  const res = await ctx.probe.http("/schema");
  expectStatus(res, 200, "GET /schema");
  const body = expectObject(res, "GET /schema");
  const bad = ["action", "observation", "state"].filter((k) => !isObjectSchema(body[k]));
  if (bad.length) {
    fail(
      `GET /schema: ${
        bad.map((k) => `${k} is ${k in body ? "not a JSON Schema of an object" : "missing"}`)
          .join("; ")
      }`,
    );
  }
  ctx.schemas = {
    action: body.action as JsonSchema,
    observation: body.observation as JsonSchema,
    state: body.state as JsonSchema,
  };
  return "";
}

/**
 * Tells an envtorch server from an OpenEnv one by what does not depend on
 * the env working: envtorch answers a malformed session id with 400 and an
 * error `code`, puts a `code` in its 422 bodies and serves `/metrics` with
 * `envtorch_` metrics. OpenEnv ignores the header, sends FastAPI's bare
 * `detail` and has no `/metrics`.
 */
export async function serverKind(ctx: Context): Promise<string> {
  const evidence: string[] = [];
  const state = await ctx.probe.http("/state", { headers: { [SESSION_HEADER]: "../not-an-id" } });
  const stateBody = isPlainObject(state.json) ? state.json : {};
  if (state.status === 400 && ENVTORCH_CODES.has(String(stateBody.code))) {
    evidence.push(`a malformed ${SESSION_HEADER} is refused with ${stateBody.code}`);
  }
  const step = await ctx.probe.http("/step", { method: "POST", body: {} });
  const stepBody = isPlainObject(step.json) ? step.json : {};
  if (step.status >= 400 && ENVTORCH_CODES.has(String(stepBody.code))) {
    evidence.push(`errors carry a code (${stepBody.code})`);
  }
  const metrics = await ctx.probe.http("/metrics");
  if (metrics.status === 200 && /^envtorch_\w+/m.test(metrics.text)) {
    evidence.push("GET /metrics serves envtorch_* metrics");
  }
  if (evidence.length) {
    ctx.kind = "envtorch";
    ctx.kindEvidence = evidence.join("; ");
    return `envtorch server: ${ctx.kindEvidence}`;
  }
  ctx.kind = "openenv";
  ctx.kindEvidence = "no envtorch error codes, session header or metrics";
  return `OpenEnv-style server (${ctx.kindEvidence}): the envtorch extensions are not checked`;
}

/**
 * A session can be opened. A full server gets one plain failure instead of
 * a failure per check; the caller stops the run.
 */
export async function capacity(ctx: Context): Promise<string> {
  const { socket, event } = await ctx.openSession({ type: "state" });
  await socket.close();
  if (isCapacity(event)) {
    fail(
      `the server is full: every session slot is taken (${
        errorText(event)
      }), so no session check can run; free a session or raise the server's session limit, then validate again`,
    );
  }
  if (event.kind === "closed") {
    fail(
      `the server closed a new WebSocket connection at once (code ${event.code}${
        event.reason ? `: ${short(event.reason, 100)}` : ""
      })${event.code === 1013 ? ": it is full" : ""}`,
    );
  }
  return "";
}

/** Picks the action the step checks send: the caller's, else one derived. */
export async function chooseAction(ctx: Context): Promise<string> {
  const given = ctx.options.action;
  if (given) {
    ctx.action = { value: given, source: ctx.options.actionSource ?? "the given action" };
    if (ctx.schemas) {
      const issues = checkSchema(ctx.schemas.action, given);
      if (issues.length) {
        fail(
          `${ctx.action.source} ${short(JSON.stringify(given))} does not match the action schema: ${
            issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")
          }`,
        );
      }
    }
  } else if (!ctx.schemas) {
    ctx.noActionReason = "no action given and no usable /schema to derive one from";
    skip(`${ctx.noActionReason}; give one with --action JSON`);
  } else if (isToolCallSchema(ctx.schemas.action)) {
    // An MCP env (OpenEnv's echo): call a tool it lists, with arguments its schema accepts.
    const tools = await listTools(ctx);
    const tool = tools[0];
    const args = tool ? sampleFromSchema(tool.input_schema as JsonSchema) : undefined;
    if (!tool || !args?.ok || !isPlainObject(args.value)) {
      ctx.noActionReason = tool
        ? `cannot derive arguments for the tool ${tool.name}: ${
          args && !args.ok ? args.reason : "its input schema is not an object"
        }`
        : `the action schema calls tools, but the env lists none (${ctx.noToolsReason})`;
      return skip(`${ctx.noActionReason}; give one with --action JSON`);
    }
    ctx.action = {
      value: { type: "call_tool", tool_name: tool.name, arguments: args.value },
      source: `a call of the env's tool ${tool.name}`,
    };
  } else {
    const sample = sampleFromSchema(ctx.schemas.action);
    if (!sample.ok || !isPlainObject(sample.value)) {
      ctx.noActionReason = `cannot derive an action from the action schema: ${
        sample.ok ? "it is not an object" : sample.reason
      }`;
      return skip(`${ctx.noActionReason}; give one with --action JSON`);
    }
    ctx.action = { value: sample.value, source: "derived from the action schema" };
  }
  if (ctx.schemas) {
    const invalid = invalidFromSchema(ctx.schemas.action, ctx.action!.value);
    if (invalid.ok) ctx.invalid = invalid.value;
    else ctx.noInvalidReason = invalid.reason;
  } else {
    ctx.noInvalidReason = "no usable /schema";
  }
  return `${short(JSON.stringify(ctx.action!.value), 80)} (${ctx.action!.source})`;
}

/** The action to step with, or a skip saying why there is none. */
export function needAction(ctx: Context): Json {
  if (!ctx.action) skip(`no action to step with: ${ctx.noActionReason}`);
  return ctx.action!.value;
}

/** An action the schema refuses, or a skip saying why there is none. */
export function needInvalid(ctx: Context): { value: Json; change: string; field?: string } {
  needAction(ctx);
  if (!ctx.invalid) skip(`cannot make an invalid action: ${ctx.noInvalidReason}`);
  return ctx.invalid!;
}

/** Whether an action schema is OpenEnv's CallToolAction: a required `tool_name`. */
function isToolCallSchema(schema: JsonSchema): boolean {
  if (!isPlainObject(schema) || !isPlainObject(schema.properties)) return false;
  const required = Array.isArray(schema.required) ? schema.required : [];
  return "tool_name" in schema.properties && required.includes("tool_name");
}
