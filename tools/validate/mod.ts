/**
 * The conformance suite `envtorch validate` runs against any server that
 * speaks the wire protocol, envtorch's or OpenEnv's: every HTTP route and
 * WebSocket message of docs/protocol.md, the error codes, `/schema` validity
 * and the JSON types of every answer, session isolation, close twice, step
 * before reset, a seeded episode played twice, and the MCP tools when the
 * env has them. It first tells an envtorch server from an OpenEnv one (by
 * what does not depend on the env working), and checks the envtorch
 * extensions (`envtorch-session`, `DELETE /session`) on envtorch servers.
 *
 * The suite needs one action the env accepts to step it: the caller's
 * (`action`), else one derived from the action schema `/schema` publishes
 * (for an MCP env, a call of a tool it lists). With none, the step-based
 * checks are skipped with the reason.
 *
 * Validation resets sessions: run it against a server nobody else is using.
 *
 * The check groups live beside this module: basics.ts (health, metadata,
 * schema, server kind, capacity, action), websocket.ts, determinism.ts,
 * http.ts, mcp.ts and schemas.ts.
 *
 * @module
 */
import { Probe } from "../probe.ts";
import {
  capacity,
  chooseAction,
  health,
  metadata,
  reachable,
  schema,
  serverKind,
} from "./basics.ts";
import { Context } from "./context.ts";
import { fail } from "./helpers.ts";
import { httpChecks } from "./http.ts";
import { mcpChecks } from "./mcp.ts";
import { matchAll } from "./schemas.ts";
import type { ValidateOptions, ValidationReport } from "./types.ts";
import { websocketChecks } from "./websocket.ts";

export type {
  CheckResult,
  CheckStatus,
  ServerKind,
  ValidateOptions,
  ValidationReport,
} from "./types.ts";

/**
 * Runs the suite against the server at `baseUrl` (`http://host:port` or
 * `unix:/path.sock`) and returns one result per check.
 *
 * @example
 * ```ts
 * import { createApp, EchoEnvironment, echoModels, serve } from "../../mod.ts";
 * import { validateServer } from "./mod.ts";
 * await using server = serve(createApp(() => new EchoEnvironment(), echoModels), { port: 0 });
 * const report = await validateServer(server.baseUrl, { action: { message: "hi" } });
 * console.log(report.ok, report.server, report.counts); // true envtorch { ok: …, fail: 0, skip: … }
 * ```
 */
export async function validateServer(
  baseUrl: string,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  await using probe = new Probe(baseUrl, {
    timeoutS: options.timeoutS,
    signal: options.signal,
    token: options.token,
  });
  const ctx = new Context(probe, options);
  await run(ctx);
  const counts = { ok: 0, fail: 0, skip: 0 };
  for (const c of ctx.results) counts[c.status]++;
  return {
    target: baseUrl,
    ok: counts.fail === 0,
    counts,
    checks: ctx.results,
    server: ctx.kind,
    extensions: ctx.envtorch,
    action: ctx.action,
    tools: (ctx.tools ?? []).map((t) => t.name),
  };
}

async function run(ctx: Context): Promise<void> {
  const healthy = await ctx.check(
    "http.health",
    'GET /health answers {"status":"healthy"}',
    () => health(ctx),
  );
  if (!healthy && !(await reachable(ctx))) {
    await ctx.check(
      "server",
      "the server answers",
      () => fail(`${ctx.probe.baseUrl} does not answer; the other checks cannot run`),
    );
    return;
  }
  await ctx.check("server.kind", "what kind of server this is", () => serverKind(ctx));
  const open = await ctx.check(
    "server.capacity",
    "a new session can be opened",
    () => capacity(ctx),
  );
  if (!open) return;
  await ctx.check(
    "http.metadata",
    "GET /metadata names and describes the env",
    () => metadata(ctx),
  );
  await ctx.check(
    "http.schema",
    "GET /schema gives JSON Schemas of action, observation, state",
    () => schema(ctx),
  );
  await ctx.check("action", "an action to step the env with", () => chooseAction(ctx));
  await websocketChecks(ctx);
  await httpChecks(ctx);
  await mcpChecks(ctx);
  await ctx.check(
    "schema.observations",
    "every observation matches the published observation schema",
    () => matchAll(ctx, "observation"),
  );
  await ctx.check(
    "schema.states",
    "every state matches the published state schema",
    () => matchAll(ctx, "state"),
  );
}
