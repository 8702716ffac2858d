/**
 * `envtorch ps`: the containers envtorch manages.
 *
 * @module
 */
import { DockerEngine } from "../providers/docker/engine.ts";
import { listManagedContainers } from "../providers/docker/managed_containers.ts";
import { printable } from "../providers/docker/printable.ts";
import { type Command, noPositionals, parseFlags } from "./common.ts";
import { checkProvider, psOnKubernetes, wantsKubernetes } from "./k8s.ts";

const usage = `Usage: envtorch ps [--json] [--provider k8s [--namespace N] [--context C]]

Lists the containers envtorch manages (label envtorch.managed=true), running
or not: name, image, state, URL, the owning process and whether it still
runs, and when the container expires. 'envtorch clean' removes those whose
owner is gone or whose expiry passed.

Options:
  --json       one JSON array on stdout
  --provider P docker (default) or k8s: the Pods envtorch manages in a
               namespace (--namespace, default the context's; --context)
  -h, --help   show this help`;

export const psCommand: Command = {
  name: "ps",
  summary: "list the containers envtorch manages",
  usage,
  async run(args) {
    if (wantsKubernetes(args)) return await psOnKubernetes(args);
    const { values, positionals } = parseFlags(args, {
      json: { type: "boolean" },
      provider: { type: "string" },
    });
    noPositionals(positionals);
    checkProvider(values.provider);
    await using engine = new DockerEngine();
    const containers = await listManagedContainers(engine);
    if (values.json) {
      console.log(JSON.stringify(containers.map((c) => ({
        id: c.id,
        name: c.name,
        image: c.image,
        state: c.state,
        status: c.status,
        url: c.url ?? null,
        session: c.session ?? null,
        owner_pid: c.ownerPid ?? null,
        owner: c.owner,
        created: c.created.toISOString(),
        expires: c.expires?.toISOString() ?? null,
      }))));
      return 0;
    }
    if (!containers.length) {
      console.log("No envtorch containers");
      return 0;
    }
    const rows = [
      ["NAME", "IMAGE", "STATE", "URL", "OWNER", "EXPIRES"],
      // Names, images and states come from the engine: no terminal escapes get through.
      ...containers.map((c) =>
        [
          c.name,
          c.image,
          c.status,
          c.url ?? "-",
          `${c.ownerPid ?? "?"} (${c.owner})`,
          c.expires?.toISOString().replace(/\.\d+Z$/, "Z") ?? "-",
        ].map((cell) => printable(cell, { singleLine: true }))
      ),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) {
      console.log(
        row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  "),
      );
    }
    return 0;
  },
};
