/**
 * Image resources of the Engine API: build from a tar context, import a
 * root filesystem tarball, inspect, list and remove.
 *
 * @module
 */
import type { DockerEngine } from "./engine.ts";
import { DockerError, DockerNotFoundError, ImageBuildError } from "./engine_errors.ts";
import type { ImageInspect, ImageSummary } from "./engine_types.ts";
import {
  JsonProgressDecoder,
  progressError,
  type ProgressMessage,
  progressText,
} from "./json_progress.ts";
import { path } from "./path.ts";
import { printable } from "./printable.ts";

/** Options of {@link ImageApi.build}. */
export interface BuildImageOptions {
  /** Tags to give the image, e.g. `["echo-env:latest"]`. */
  tags: string[];
  /**
   * Path of the Dockerfile inside the context.
   * @default "Dockerfile"
   */
  dockerfile?: string;
  /** `ARG` values. */
  buildArgs?: Record<string, string>;
  /** Labels to set on the image. */
  labels?: Record<string, string>;
  /**
   * Network for `RUN` steps, e.g. `none`.
   * @default the engine's default
   */
  networkMode?: string;
  /** Ignore the build cache. */
  noCache?: boolean;
  /** Called with each progress message as it arrives. */
  onProgress?: (message: ProgressMessage) => void;
  /** Aborts the build. */
  signal?: AbortSignal;
}

/** What a finished build gave. */
export interface BuildResult {
  /** The image id, `sha256:...`. */
  id: string;
  /** The build's output, one entry per line. */
  output: string[];
}

/** Options of {@link ImageApi.import}. */
export interface ImportImageOptions {
  /** Repository to tag the image with, e.g. `debian`. */
  repo: string;
  /**
   * Tag.
   * @default "latest"
   */
  tag?: string;
  /** Dockerfile instructions to apply, e.g. `CMD ["bash"]`. */
  changes?: string[];
  /** Commit message. */
  message?: string;
  /** Aborts the import. */
  signal?: AbortSignal;
}

/** Options of {@link ImageApi.list}. */
export interface ListImagesOptions {
  /** Label filters, `key` or `key=value`. */
  labels?: string[];
  /** A reference filter, e.g. `echo-env`. */
  reference?: string;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** Image calls of one engine. */
export class ImageApi {
  #engine: DockerEngine;

  /** Binds the calls to an engine. */
  constructor(engine: DockerEngine) {
    this.#engine = engine;
  }

  /**
   * `POST /build`: builds an image from a tar context, decoding the streamed
   * progress; a failed step raises {@link ImageBuildError} with the output.
   */
  async build(
    context: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer>,
    options: BuildImageOptions,
  ): Promise<BuildResult> {
    const tag = options.tags[0] ?? "image";
    const res = await this.#engine.request("POST", "/build", {
      query: {
        t: options.tags,
        dockerfile: options.dockerfile,
        buildargs: options.buildArgs ? JSON.stringify(options.buildArgs) : undefined,
        labels: options.labels ? JSON.stringify(options.labels) : undefined,
        networkmode: options.networkMode,
        nocache: options.noCache,
        rm: true,
        forcerm: true,
      },
      body: context,
      contentType: "application/x-tar",
      signal: options.signal,
    });
    const output: string[] = [];
    let id: string | undefined;
    let failure: string | undefined;
    for await (
      const message of (res.body ?? ReadableStream.from<Uint8Array>([])).pipeThrough(
        new JsonProgressDecoder(),
      )
    ) {
      options.onProgress?.(message);
      const text = progressText(message);
      if (text) output.push(...text.split("\n"));
      // Only the tail is ever shown: an engine that never stops talking costs no memory.
      if (output.length > 2000) output.splice(0, output.length - 1000);
      if (message.aux?.ID) id = message.aux.ID;
      const built = message.stream?.match(/^Successfully built ([0-9a-f]+)/);
      if (built && !id) id = built[1];
      failure ??= progressError(message);
    }
    if (failure) {
      throw new ImageBuildError(
        printable(
          `Cannot build ${tag}: ${failure.trim()}\n--- last build output ---\n${
            output.slice(-20).join("\n")
          }`,
        ),
        output.join("\n"),
        { request: "POST /build" },
      );
    }
    if (!id) {
      const inspected = await this.inspect(tag).catch(() => undefined);
      if (!inspected) {
        throw new ImageBuildError(
          `Cannot build ${tag}: the engine reported no image id`,
          output.join("\n"),
        );
      }
      id = inspected.Id;
    }
    return { id, output };
  }

  /**
   * `POST /images/create?fromSrc=-`: makes an image from a root filesystem
   * tarball. Resolves to the new image's id.
   */
  async import(
    source: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer>,
    options: ImportImageOptions,
  ): Promise<string> {
    const res = await this.#engine.request("POST", "/images/create", {
      query: {
        fromSrc: "-",
        repo: options.repo,
        tag: options.tag ?? "latest",
        changes: options.changes,
        message: options.message,
      },
      body: source,
      contentType: "application/x-tar",
      signal: options.signal,
    });
    let id: string | undefined;
    let failure: string | undefined;
    for await (
      const message of (res.body ?? ReadableStream.from<Uint8Array>([])).pipeThrough(
        new JsonProgressDecoder(),
      )
    ) {
      failure ??= progressError(message);
      if (message.status?.startsWith("sha256:")) id = message.status;
    }
    const ref = `${options.repo}:${options.tag ?? "latest"}`;
    if (failure) throw new DockerError(`Cannot import ${ref}: ${failure}`);
    return id ?? (await this.inspect(ref)).Id;
  }

  /** `GET /images/{name}/json`. */
  inspect(name: string, options: { signal?: AbortSignal } = {}): Promise<ImageInspect> {
    return this.#engine.json("GET", path`/images/${name}/json`, options);
  }

  /** Whether the engine has an image of that name. */
  async exists(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      await this.inspect(name, options);
      return true;
    } catch (error) {
      if (error instanceof DockerNotFoundError) return false;
      throw error;
    }
  }

  /** `GET /images/json`. */
  list(options: ListImagesOptions = {}): Promise<ImageSummary[]> {
    const filter: Record<string, string[]> = {};
    if (options.labels?.length) filter.label = options.labels;
    if (options.reference) filter.reference = [options.reference];
    return this.#engine.json("GET", "/images/json", {
      query: { filters: Object.keys(filter).length ? JSON.stringify(filter) : undefined },
      signal: options.signal,
    });
  }

  /** `DELETE /images/{name}`. */
  async remove(
    name: string,
    options: { force?: boolean; noPrune?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#engine.call("DELETE", path`/images/${name}`, {
      query: { force: options.force, noprune: options.noPrune },
      signal: options.signal,
    });
  }
}
