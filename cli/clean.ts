/**
 * `envtorch clean`: reaps managed containers whose owner is gone or whose
 * expiry passed (or, with `--all`, every managed container).
 *
 * @module
 */
import { DockerEngine } from "../providers/docker/engine.ts";
import { DockerNotFoundError } from "../providers/docker/engine_errors.ts";
import {
  listManagedContainers,
  reapContainers,
  type ReapedContainer,
} from "../providers/docker/managed_containers.ts";
import { printable } from "../providers/docker/printable.ts";
import { type Command, noPositionals, parseFlags } from "./common.ts";
import { checkProvider, cleanOnKubernetes, wantsKubernetes } from "./k8s.ts";

const usage =
  `Usage: envtorch clean [--all] [--dry-run] [--json] [--provider k8s [--namespace N] [--context C]]

Removes the containers envtorch manages whose owning process is gone or
whose expiry passed, with their socket folders. Containers of running
owners are left alone unless --all is given.

Options:
  --all        remove every envtorch container, even those of running owners
  --dry-run    only list what would be removed
  --json       one JSON array of the removed containers on stdout
  --provider P docker (default) or k8s: delete the Pods (of --namespace,
               default the context's) whose owner is gone or that expired
  -h, --help   show this help`;

export const cleanCommand: Command = {
  name: "clean",
  summary: "remove orphaned and expired envtorch containers",
  usage,
  async run(args) {
    if (wantsKubernetes(args)) return await cleanOnKubernetes(args);
    const { values, positionals } = parseFlags(args, {
      provider: { type: "string" },
      all: { type: "boolean" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    });
    noPositionals(positionals);
    checkProvider(values.provider);
    const dryRun = values["dry-run"] ?? false;
    await using engine = new DockerEngine();
    let removed: (ReapedContainer | (Omit<ReapedContainer, "reason"> & { reason: "all" }))[];
    if (values.all) {
      removed = [];
      for (const c of await listManagedContainers(engine)) {
        const entry: Omit<ReapedContainer, "reason"> & { reason: "all" } = { ...c, reason: "all" };
        if (!dryRun) {
          try {
            await engine.containers.remove(c.id, { force: true, volumes: true });
            const dir = c.socketDir;
            if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
          } catch (error) {
            if (!(error instanceof DockerNotFoundError)) entry.error = (error as Error).message;
          }
        }
        removed.push(entry);
      }
    } else {
      removed = await reapContainers(engine, { dryRun });
    }
    const failed = removed.filter((c) => c.error);
    if (values.json) {
      console.log(JSON.stringify(removed.map((c) => ({
        id: c.id,
        name: c.name,
        image: c.image,
        reason: c.reason,
        removed: !dryRun && !c.error,
        error: c.error ?? null,
      }))));
    } else if (!removed.length) {
      console.log("Nothing to clean");
    } else {
      const verb = dryRun ? "would remove" : "removed";
      for (const c of removed) {
        // Names, images and errors come from the engine: no terminal escapes get through.
        const line = c.error
          ? `failed to remove ${c.name}: ${c.error}`
          : `${verb} ${c.name} (${c.image}): ${
            c.reason === "owner-gone"
              ? `owner ${c.ownerPid} is gone`
              : c.reason === "expired"
              ? "expired"
              : "--all"
          }`;
        console.log(printable(line, { singleLine: true }));
      }
    }
    return failed.length ? 1 : 0;
  },
};
