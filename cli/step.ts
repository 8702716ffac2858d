/**
 * `envtorch step <url | env>`: one episode from the command line: a reset,
 * then each `--action` in order, printing what came back.
 *
 * @module
 */
import { GenericEnvClient, type GenericObservation } from "../client/client.ts";
import { ValidationError } from "../protocol/errors.ts";
import type { StepResult } from "../protocol/models.ts";
import { type Command, intFlag, onePositional, parseFlags } from "./common.ts";
import { Output } from "./output.ts";
import { renderRefusal } from "./render.ts";
import { quote } from "../protocol/quote.ts";
import { actionSchema, deriveAction, jsonObjectFlag, openTarget, transportFlag } from "./target.ts";

const usage = `Usage: envtorch step <url | env> [--action JSON]... [options]

Resets the env, sends each --action in order, and prints every observation
with its reward and done flag. Stops early when the episode is done. An
action the server refuses is explained: which field, what was wrong, what
the action schema expects.

<url> is http://host:port or unix:/path.sock; <env> is a bundled env, started
in a child process for the episode and stopped after.

Options:
  --action JSON    an action; repeat for more steps (default: the env's
                   exampleAction, or for a URL the smallest action its
                   /schema accepts)
  --reset JSON     reset options, e.g. '{"episode_id":"try-1"}'
  --seed N         the reset's seed
  --state          print the state after the last step
  --transport T    websocket (default) or http
  --record FILE    record the episode to FILE (JSONL), for envtorch replay
  --json           one JSON object per line on stdout
  --token TOKEN    token for a server that asks for one (default: $ENVTORCH_TOKEN)
  -h, --help       show this help

Exit codes: 0 ok, 1 the server refused a call or cannot be reached, 2 usage error.`;

export const stepCommand: Command = {
  name: "step",
  summary: "reset an env and send actions from the command line",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      action: { type: "string", multiple: true },
      reset: { type: "string" },
      seed: { type: "string" },
      state: { type: "boolean" },
      transport: { type: "string" },
      record: { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
    });
    onePositional(positionals, "URL or env", "step");
    const spec = positionals[0]!;
    let actions = (values.action ?? []).map((a) => jsonObjectFlag("action", a));
    const reset = values.reset !== undefined ? jsonObjectFlag("reset", values.reset) : {};
    const seed = intFlag("seed", values.seed, 0, Number.MAX_SAFE_INTEGER);
    if (seed !== undefined) reset.seed = seed;
    const transport = transportFlag(values.transport);
    const out = new Output({ json: values.json });
    await using target = await openTarget(spec);
    if (actions.length === 0) {
      actions = [
        target.manifest?.exampleAction ?? await deriveAction(target.baseUrl, values.token),
      ];
    }
    await using env = new GenericEnvClient({
      baseUrl: target.baseUrl,
      transport,
      recordTo: values.record,
      token: values.token,
    });
    const first = await env.reset(reset);
    print(out, "reset", 0, first);
    for (const [i, action] of actions.entries()) {
      let result: StepResult<GenericObservation>;
      try {
        result = await env.step(action);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        const schema = await actionSchema(target.baseUrl, values.token);
        out.note(renderRefusal(error, {
          what: `action ${i + 1} ${quote(action)}`,
          actionSchema: schema,
        }));
        out.json({
          call: "step",
          step: i + 1,
          error: {
            code: error.code,
            status: error.status,
            message: error.message,
            errors: error.errors,
          },
        });
        return 1;
      }
      print(out, "step", i + 1, result);
      if (result.done && i < actions.length - 1) {
        out.note(
          `The episode ended at step ${i + 1}; ${actions.length - i - 1} action(s) not sent`,
        );
        break;
      }
    }
    if (values.state) {
      const state = await env.state();
      out.line(`state   ${JSON.stringify(state)}`);
      out.json({ call: "state", state });
    }
    await env.close();
    if (values.record) out.note(`Recorded to ${values.record}`);
    return 0;
  },
};

function print(
  out: Output,
  call: "reset" | "step",
  step: number,
  r: StepResult<GenericObservation>,
) {
  const { reward: _reward, done: _done, metadata, ...rest } = r.observation;
  const observation = { ...rest, metadata };
  const label = call === "reset" ? "reset" : `step ${step}`;
  out.line(
    `${label.padEnd(7)} reward ${String(r.reward).padEnd(6)} done ${String(r.done).padEnd(5)}  ${
      JSON.stringify(observation)
    }`,
  );
  out.json({ call, step, observation, reward: r.reward, done: r.done });
}
