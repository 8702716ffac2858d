/**
 * `envtorch repl <url | env>`: drive one session from the terminal, or from
 * a script piped to stdin, one command per line.
 *
 * @module
 */
import { createInterface } from "node:readline";
import process from "node:process";
import { GenericEnvClient } from "../client/client.ts";
import { EnvTorchError, ValidationError } from "../protocol/errors.ts";
import { Probe } from "../tools/probe.ts";
import { type Command, onePositional, parseFlags, UsageError } from "./common.ts";
import { renderRefusal } from "./render.ts";
import { quote } from "../protocol/quote.ts";
import { actionSchema } from "./target.ts";
import { openTarget, transportFlag } from "./target.ts";

const commands = `Commands (one per line):
  reset [JSON]   start an episode, e.g. reset {"seed": 1}
  step JSON      send an action, e.g. step {"message": "hi"}
  state          print the state
  schema         print the action, observation and state schemas
  help           list the commands
  quit           end the session (so does the end of input)`;

const usage = `Usage: envtorch repl <url | env> [options]

Opens one session and reads commands from stdin, printing each answer as one
line of JSON on stdout ({"observation", "reward", "done"} for reset and step).
Errors go to stderr and the session goes on; a refused action is explained
(which field, what was wrong, what the action schema expects).

${commands}

<url> is http://host:port or unix:/path.sock; <env> is a bundled env, started
in a child process for the session and stopped after.

Options:
  --transport T    websocket (default) or http
  --record FILE    record the session to FILE (JSONL), for envtorch replay
  --token TOKEN    token for a server that asks for one (default: $ENVTORCH_TOKEN)
  -h, --help       show this help

Exit codes: 0 every command succeeded, 1 a command failed or the server cannot
be reached, 2 usage error.`;

export const replCommand: Command = {
  name: "repl",
  summary: "drive an env session with commands from stdin",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      transport: { type: "string" },
      record: { type: "string" },
      token: { type: "string" },
    });
    onePositional(positionals, "URL or env", "open");
    const transport = transportFlag(values.transport);
    await using target = await openTarget(positionals[0]!);
    await using env = new GenericEnvClient({
      baseUrl: target.baseUrl,
      transport,
      recordTo: values.record,
      token: values.token,
    });
    // Fail now, not at the first command, when the server cannot be reached.
    await env.connect();
    if (transport === "http") {
      await using probe = new Probe(target.baseUrl, { timeoutS: 10, token: values.token });
      await probe.http("/health");
    }
    const interactive = Deno.stdin.isTerminal();
    const pretty = Deno.stdout.isTerminal();
    const show = (value: unknown) => console.log(JSON.stringify(value, null, pretty ? 2 : 0));
    if (interactive) {
      console.error(`envtorch repl: ${target.label} (${target.baseUrl}); type help for commands`);
    }
    // node:readline gives a terminal line editing (arrows, Home/End, Ctrl-W...)
    // and history (up/down); on a pipe it only splits lines.
    const input = createInterface({
      input: process.stdin,
      output: interactive ? process.stdout : undefined,
      terminal: interactive,
      prompt: "envtorch> ",
      historySize: 1000,
      removeHistoryDuplicates: true,
      crlfDelay: Infinity,
    });
    // Ctrl-C or Ctrl-D at the prompt ends the session like quit.
    input.on("SIGINT", () => input.close());
    let failures = 0;
    const prompt = () => {
      if (interactive) input.prompt();
    };
    prompt();
    for await (const raw of input) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) {
        prompt();
        continue;
      }
      const [, word = "", rest = ""] = line.match(/^(\S+)\s*(.*)$/s) ?? [];
      if (word === "quit" || word === "exit") {
        input.close();
        break;
      }
      try {
        switch (word) {
          case "reset": {
            const r = await env.reset(rest ? parseObject(rest, "reset options") : {});
            show(wire(r));
            break;
          }
          case "step": {
            if (!rest) throw new UsageError('step needs an action, e.g. step {"message": "hi"}');
            const action = parseObject(rest, "action");
            try {
              show(wire(await env.step(action)));
            } catch (error) {
              if (!(error instanceof ValidationError)) throw error;
              throw new UsageError(
                renderRefusal(error, {
                  what: `action ${quote(action)}`,
                  actionSchema: await actionSchema(target.baseUrl, values.token),
                }),
              );
            }
            break;
          }
          case "state":
            show(await env.state());
            break;
          case "schema": {
            await using probe = new Probe(target.baseUrl, { timeoutS: 10 });
            const res = await probe.http("/schema");
            show(res.json ?? res.text);
            break;
          }
          case "help":
            console.log(commands);
            break;
          default:
            throw new UsageError(`Unknown command ${JSON.stringify(word)}; type help for commands`);
        }
      } catch (error) {
        failures++;
        const message = error instanceof EnvTorchError
          ? `${error.code}: ${error.message}`
          : (error as Error).message;
        console.error(`error: ${message}`);
        if (error instanceof EnvTorchError && error.code === "CONNECTION_ERROR") break;
      }
      prompt();
    }
    input.close();
    return failures ? 1 : 0;
  },
};

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`The ${what} is not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`The ${what} must be a JSON object, got ${text}`);
  }
  return value as Record<string, unknown>;
}

/** A step result as on the wire: reward and done beside the observation. */
function wire(r: { observation: Record<string, unknown>; reward: unknown; done: boolean }) {
  const { reward: _reward, done: _done, metadata, ...rest } = r.observation;
  return { observation: { ...rest, metadata }, reward: r.reward, done: r.done };
}
