/**
 * `envtorch validate <url | env>`: the conformance suite of tools/validate/
 * against a running server or a bundled env, as a report.
 *
 * @module
 */
import { type CheckResult, validateServer } from "../tools/validate/mod.ts";
import { type Command, intFlag, numberFlag, onePositional, parseFlags } from "./common.ts";
import { Output } from "./output.ts";
import { jsonObjectFlag, openTarget } from "./target.ts";

const usage = `Usage: envtorch validate <url | env> [options]

Checks that a server speaks the wire protocol (docs/protocol.md): /health,
/metadata, /schema, reset/step/state over HTTP and over the /ws WebSocket,
the error codes (INVALID_JSON, UNKNOWN_TYPE, VALIDATION_ERROR, HTTP 422 for a
bad action), that every observation and state matches the published
/schema, the JSON types of every answer, session isolation, close twice,
step before reset, a seeded episode played twice, and the env's MCP tools
(list_tools, call_tool, JSON-RPC over /ws and POST /mcp) when it has some.
It tells an envtorch server from an OpenEnv one first: the envtorch
extensions (envtorch-session header, DELETE /session) are required of an
envtorch server and not checked on an OpenEnv server, which passes too. A
full server gets one plain failure.

<url> is http://host:port or unix:/path.sock; <env> is a bundled env, started
in a child process for the run and stopped after. Validation resets
sessions: use a server nobody else is using.

One line per check: ok, FAIL or skip, with why. Progress shows on a terminal.

Options:
  --action JSON     an action the env accepts (default: the env's exampleAction,
                    else one derived from the action schema)
  --deterministic   require a seeded episode played twice with the same
                    actions to give the same observations (default: only for
                    envs that declare it)
  --seed N          seed of the determinism check (default 42)
  --timeout S       seconds each request may take (default 30)
  --json            one JSON report on stdout, no progress
  --token TOKEN     token for a server that asks for one (default: $ENVTORCH_TOKEN)
  -h, --help        show this help

Exit codes: 0 no check failed (skips allowed), 1 a check failed or the server
cannot be reached, 2 usage error.`;

export const validateCommand: Command = {
  name: "validate",
  summary: "check that a server (URL or env) speaks the protocol",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      action: { type: "string" },
      deterministic: { type: "boolean" },
      seed: { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
    });
    onePositional(positionals, "URL or env", "validate");
    const action = values.action !== undefined
      ? jsonObjectFlag("action", values.action)
      : undefined;
    const seed = intFlag("seed", values.seed, 0, Number.MAX_SAFE_INTEGER);
    const timeoutS = numberFlag("timeout", values.timeout, 0.1);
    const out = new Output({ json: values.json });
    const progress = out.task("validate");
    progress.update(`starting ${positionals[0]}`);
    await using target = await openTarget(positionals[0]!);
    const manifest = target.manifest;
    const chosen = action ?? manifest?.exampleAction;
    const source = action
      ? "--action"
      : manifest?.exampleAction
      ? `the ${manifest.name} manifest's exampleAction`
      : undefined;
    out.line(
      `envtorch validate: ${target.label}${
        target.started ? ` (started on ${target.baseUrl})` : ""
      }`,
    );
    let done = 0;
    const report = await validateServer(target.baseUrl, {
      action: chosen,
      actionSource: source,
      token: values.token,
      deterministic: values.deterministic || manifest?.deterministic === true,
      seed,
      timeoutS,
      onStart: (id) => progress.update(`check ${done + 1}: ${id}`),
      onCheck: (check) => {
        done++;
        out.line(formatCheck(out, check));
      },
    });
    progress.done();
    if (out.isJson) {
      out.json({ ...report, env: manifest?.name ?? null });
    } else {
      const { ok, fail, skip } = report.counts;
      out.line(
        `${report.checks.length} checks: ${ok} ok, ${fail} failed, ${skip} skipped${
          report.server === "envtorch"
            ? ""
            : " (an OpenEnv-style server: envtorch extensions not checked)"
        }`,
      );
    }
    return report.ok ? 0 : 1;
  },
};

function formatCheck(out: Output, check: CheckResult): string {
  const detail = check.detail ? `: ${check.detail}` : "";
  return `${out.tag(check.status)}  ${check.id.padEnd(24)} ${check.title}${detail}`;
}
