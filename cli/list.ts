/**
 * `envtorch list`: the bundled envs.
 *
 * @module
 */
import { listEnvs } from "../envs/registry.ts";
import { type Command, noPositionals, parseFlags } from "./common.ts";

const usage = `Usage: envtorch list [--json]

Lists the bundled envs: name, image, whether sessions may run concurrently, and a description.

Options:
  --json       one JSON array on stdout
  -h, --help   show this help`;

export const listCommand: Command = {
  name: "list",
  summary: "list the bundled envs",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } });
    noPositionals(positionals);
    const envs = await listEnvs();
    if (values.json) {
      console.log(JSON.stringify(envs.map((m) => ({
        name: m.name,
        description: m.description,
        image: m.image,
        concurrent_sessions: m.concurrentSessions,
      }))));
      return 0;
    }
    const width = Math.max(4, ...envs.map((m) => m.name.length));
    for (const m of envs) {
      console.log(`${m.name.padEnd(width)}  ${m.image.padEnd(20)}  ${m.description}`);
    }
    return 0;
  },
};
