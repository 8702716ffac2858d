/**
 * `envtorch list`: the bundled envs.
 *
 * @module
 */
import { listEnvs } from "../envs/registry.ts";
import { type Command, noPositionals, parseFlags } from "./common.ts";

const usage = `Usage: envtorch list [--json]

Lists the bundled envs, one per line under a header: name, image, whether
sessions may run concurrently in one server (CONCURRENT yes/no), and a
description.

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
    const rows = [
      ["NAME", "IMAGE", "CONCURRENT", "DESCRIPTION"],
      ...envs.map((m) => [m.name, m.image, m.concurrentSessions ? "yes" : "no", m.description]),
    ];
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) {
      console.log(row.map((cell, i) => i < 3 ? cell.padEnd(widths[i]!) : cell).join("  "));
    }
    return 0;
  },
};
