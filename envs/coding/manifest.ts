/**
 * The coding env's manifest.
 *
 * @module
 */
import { defineEnv, type EnvManifest } from "../../protocol/manifest.ts";
import { CodingEnvironment } from "./environment.ts";
import { codingModels } from "./models.ts";

/** The coding env, as the registry sees it. */
export const manifest: EnvManifest = defineEnv({
  name: "coding",
  description: "Runs Python code in a persistent, locked-down interpreter",
  models: codingModels,
  create: () => new CodingEnvironment(),
  concurrentSessions: true,
  deterministic: false,
  image: "coding-env:latest",
  dockerfile: new URL("./Dockerfile", import.meta.url),
  exampleAction: { code: "print('Hello, World!')" },
});
