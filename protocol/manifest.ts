/**
 * The manifest an env folder exports: what the CLI, the server entry, `list`,
 * `build` and `validate` need to know about it. Adding an env is adding a
 * folder with a `manifest.ts`.
 *
 * @module
 */
import type { EnvFactory } from "./environment.ts";
import type { EnvModels } from "./models.ts";

/** Describes one env. */
export interface EnvManifest {
  /** Registry name, e.g. `echo`; lowercase letters, digits and dashes. */
  name: string;
  /** One line on what the env does. */
  description: string;
  /** The env's models. */
  models: EnvModels;
  /** Makes an env for a new session. */
  create: EnvFactory;
  /** Whether one server may run many sessions of this env at once. */
  concurrentSessions: boolean;
  /** Whether two resets with the same seed give the same observation. */
  deterministic?: boolean;
  /** The image `envtorch build` makes and `fromDockerImage` defaults to, e.g. `echo-env:latest`. */
  image: string;
  /** The env's Dockerfile, if it has one. */
  dockerfile?: URL;
  /** An example action, for `validate` and the interactive commands. */
  exampleAction?: Record<string, unknown>;
}

/** Declares a manifest, checking its name. */
export function defineEnv(manifest: EnvManifest): EnvManifest {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(manifest.name)) {
    throw new TypeError(
      `Invalid env name ${JSON.stringify(manifest.name)}: use lowercase letters, digits and dashes`,
    );
  }
  return manifest;
}
