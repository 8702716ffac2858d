/**
 * The schema checks: every observation and state received during the run
 * matches what `/schema` publishes.
 *
 * @module
 */
import { checkSchema } from "../json_schema.ts";
import type { Context, Seen } from "./context.ts";
import { fail, skip } from "./helpers.ts";

/**
 * Checks each value seen against the published schema of `kind`. On an
 * OpenEnv server the reset observations are left out: OpenEnv publishes the
 * schema of its step observation (for an MCP env, CallToolObservation) while
 * its reset answers a base observation (the echo server's is `{}`), which is
 * valid there.
 */
export async function matchAll(ctx: Context, kind: "observation" | "state"): Promise<string> {
  await Promise.resolve();
  if (!ctx.schemas) skip("no usable /schema");
  const all: Seen[] = kind === "observation" ? ctx.observations : ctx.states;
  const seen = all.filter((s) => ctx.envtorch || s.call !== "reset");
  if (!seen.length) skip(`no ${kind} was received`);
  const schema = ctx.schemas![kind];
  for (const { where, value } of seen) {
    const issues = checkSchema(schema, value, { path: kind, maxIssues: 3 });
    if (issues.length) {
      fail(
        `the ${kind} from ${where} does not match /schema: ${
          issues.map((i) => `${i.path}: ${i.message}`).join("; ")
        }`,
      );
    }
  }
  const left = all.length - seen.length;
  return `${seen.length} checked${
    left ? ` (${left} reset observations: OpenEnv's base shape)` : ""
  }`;
}
