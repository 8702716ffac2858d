/**
 * Builds envtorch's images through the Engine API: `envtorch-base:latest`
 * from Dockerfile.base, then each env's image from its `envs/<env>/Dockerfile`.
 *
 * The base build context holds the project (minus `.dockerignore`) under
 * `app/` and a Deno cache of the npm dependencies, filled on the host, under
 * `deno-dir/`, so the build steps and the containers need no network. Env
 * builds get `app/` only.
 *
 * @module
 */
import type { EnvManifest } from "../../protocol/manifest.ts";
import { type ContextSource, createBuildContext } from "./build_context.ts";
import type { DockerEngine } from "./engine.ts";
import { DockerError } from "./engine_errors.ts";
import type { ProgressMessage } from "./json_progress.ts";

/** The tag of the base image env images build FROM. */
export const BASE_IMAGE = "envtorch-base:latest";

/** The project folder (where deno.json and Dockerfile.base are). */
export const PROJECT_ROOT: URL = new URL("../../", import.meta.url);

/** Options of {@link buildImages}. */
export interface BuildImagesOptions {
  /** Envs whose images to build (each needs a Dockerfile); the base image is always built first. */
  envs: EnvManifest[];
  /**
   * The project folder.
   * @default the folder this module belongs to
   */
  root?: URL;
  /** Ignore the engine's build cache. */
  noCache?: boolean;
  /** Called with each progress message of each build. */
  onProgress?: (image: string, message: ProgressMessage) => void;
  /** Called when a build step starts (`image`) or ends (`image`, id and seconds). */
  onImage?: (event: { image: string; id?: string; seconds?: number }) => void;
  /** Aborts the builds. */
  signal?: AbortSignal;
}

/** One image that was built. */
export interface BuiltImage {
  /** Its tag. */
  image: string;
  /** Its id. */
  id: string;
  /** Seconds the build took. */
  seconds: number;
}

function rootPath(root: URL): string {
  if (root.protocol !== "file:") {
    throw new DockerError(
      `Cannot build images from ${root.href}: the project must be a local folder`,
    );
  }
  return root.pathname.replace(/\/$/, "");
}

/**
 * The folder of the Deno cache put into the base image: outside the project
 * (so no tool that walks the project sees the npm packages' own files).
 * `$ENVTORCH_CACHE_DIR/docker-deno-dir`, else `$XDG_CACHE_HOME/envtorch/...`,
 * else `~/.cache/envtorch/...`.
 */
export function denoCacheDir(): string {
  const base = Deno.env.get("ENVTORCH_CACHE_DIR") ??
    `${
      Deno.env.get("XDG_CACHE_HOME") ??
        `${Deno.env.get("HOME") ?? Deno.env.get("TMPDIR") ?? "/tmp"}/.cache`
    }/envtorch`;
  return `${base}/docker-deno-dir`;
}

/**
 * Fills a Deno cache for the project's npm dependencies on the host (the
 * npm registry is reachable here, not from a build step) and returns its folder.
 */
export async function fillDenoCache(
  root: URL = PROJECT_ROOT,
  signal?: AbortSignal,
): Promise<string> {
  const dir = denoCacheDir();
  const deno = Deno.execPath().includes("deno") && !import.meta.url.includes("/deno-compile-")
    ? Deno.execPath()
    : "deno";
  const output = await new Deno.Command(deno, {
    args: ["cache", "--quiet", "main.ts"],
    cwd: rootPath(root),
    env: { DENO_DIR: dir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  if (!output.success) {
    throw new DockerError(
      `Cannot fill the Deno cache for the image: deno cache main.ts failed\n${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
  return dir;
}

/** The build context of the base image. */
export function baseContext(root: URL, denoDir: string): ContextSource[] {
  return [
    { type: "dir", hostPath: rootPath(root), target: "app" },
    { type: "dir", hostPath: `${denoDir}/npm`, target: "deno-dir/npm", ignore: undefined },
  ];
}

function relativeDockerfile(root: URL, dockerfile: URL): string {
  const base = rootPath(root);
  if (!dockerfile.pathname.startsWith(`${base}/`)) {
    throw new DockerError(`Dockerfile ${dockerfile.pathname} is outside the project ${base}`);
  }
  return dockerfile.pathname.slice(base.length + 1);
}

/**
 * Builds the base image, then each env's image. Unchanged sources hit the
 * engine's build cache, so a rebuild is quick.
 *
 * @example
 * ```ts ignore
 * import { DockerEngine } from "./engine.ts";
 * import { buildImages } from "./image_builder.ts";
 * import { getEnv } from "../../envs/registry.ts";
 * await using engine = new DockerEngine();
 * await buildImages(engine, { envs: [await getEnv("echo")] });
 * ```
 */
export async function buildImages(
  engine: DockerEngine,
  options: BuildImagesOptions,
): Promise<BuiltImage[]> {
  const root = options.root ?? PROJECT_ROOT;
  for (const env of options.envs) {
    if (!env.dockerfile) throw new DockerError(`Env ${env.name} has no Dockerfile to build`);
    try {
      await Deno.stat(env.dockerfile);
    } catch {
      throw new DockerError(
        `Env ${env.name} names a Dockerfile that does not exist: ${env.dockerfile.pathname}`,
      );
    }
  }
  const built: BuiltImage[] = [];
  const one = async (image: string, dockerfile: string, sources: ContextSource[]) => {
    options.onImage?.({ image });
    const started = performance.now();
    const result = await engine.images.build(createBuildContext(sources), {
      tags: [image],
      dockerfile,
      noCache: options.noCache,
      signal: options.signal,
      onProgress: (m) => options.onProgress?.(image, m),
    });
    const seconds = (performance.now() - started) / 1000;
    built.push({ image, id: result.id, seconds });
    options.onImage?.({ image, id: result.id, seconds });
  };
  // Images these tags named before: removed once replaced, so rebuilds leave no dangling images.
  const previous: string[] = [];
  for (const image of [BASE_IMAGE, ...options.envs.map((e) => e.image)]) {
    const old = await engine.images.inspect(image, { signal: options.signal }).catch(() =>
      undefined
    );
    if (old) previous.push(old.Id);
  }
  const denoDir = await fillDenoCache(root, options.signal);
  await one(BASE_IMAGE, "app/Dockerfile.base", baseContext(root, denoDir));
  for (const env of options.envs) {
    await one(env.image, `app/${relativeDockerfile(root, env.dockerfile!)}`, [
      { type: "dir", hostPath: rootPath(root), target: "app" },
    ]);
  }
  const current = new Set(built.map((b) => b.id));
  for (const id of previous.reverse()) {
    if (current.has(id)) continue;
    // In use by a container or another image: the engine refuses, and it stays.
    await engine.images.remove(id, { signal: options.signal }).catch(() => {});
  }
  return built;
}
