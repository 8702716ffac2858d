/**
 * `envtorch build [env|all]`: builds the base image and env images through
 * the Engine API.
 *
 * @module
 */
import { listEnvs, UnknownEnvError } from "../envs/registry.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { buildImages } from "../providers/docker/image_builder.ts";
import { progressText } from "../providers/docker/json_progress.ts";
import { type Command, parseFlags, UsageError } from "./common.ts";

const usage = `Usage: envtorch build [env|all] [--no-cache] [--json]

Builds envtorch-base:latest from Dockerfile.base, then the image of each env
that has a Dockerfile (envs/<env>/Dockerfile), through the Docker Engine API.
The build context carries the project and a Deno cache of its npm
dependencies filled here, so builds and containers need no network. Without
an argument, or with 'all', every env is built.

On a machine with no container registry, first create the FROM images with
'deno run -A scripts/prepare_base_images.ts' (or run 'deno task images').

Progress is printed as it comes on a terminal; otherwise only a line per image.

Options:
  --no-cache   ignore the engine's build cache
  --json       one JSON object per line: progress and each built image
  -h, --help   show this help`;

export const buildCommand: Command = {
  name: "build",
  summary: "build the base image and env images",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      "no-cache": { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 1) {
      throw new UsageError(`Expected one env or all, got ${positionals.join(" ")}`);
    }
    const target = positionals[0] ?? "all";
    const all = await listEnvs();
    const buildable = all.filter((m) => m.dockerfile);
    let envs = buildable;
    if (target !== "all") {
      const manifest = all.find((m) => m.name === target);
      if (!manifest) throw new UnknownEnvError(target, all.map((m) => m.name));
      if (!manifest.dockerfile) throw new UsageError(`Env ${target} has no Dockerfile to build`);
      envs = [manifest];
    }
    const json = values.json ?? false;
    const live = !json && Deno.stdout.isTerminal();
    await using engine = new DockerEngine();
    const built = await buildImages(engine, {
      envs,
      noCache: values["no-cache"],
      onImage: ({ image, id, seconds }) => {
        if (json) {
          if (id) console.log(JSON.stringify({ event: "built", image, id, seconds }));
          else console.log(JSON.stringify({ event: "building", image }));
        } else if (id) {
          console.log(
            `built ${image} (${id.replace(/^sha256:/, "").slice(0, 12)}) in ${
              seconds!.toFixed(1)
            } s`,
          );
        } else if (live) {
          console.log(`building ${image}`);
        }
      },
      onProgress: (image, message) => {
        const text = progressText(message);
        if (!text) return;
        if (json) console.log(JSON.stringify({ event: "progress", image, text }));
        else if (live) console.log(`  ${text}`);
      },
    });
    if (!json && !built.length) console.log("Nothing to build");
    return 0;
  },
};
