/**
 * The echo env's manifest.
 *
 * @module
 */
import { defineEnv, type EnvManifest } from "../../protocol/manifest.ts";
import { EchoEnvironment } from "./environment.ts";
import { echoModels } from "./models.ts";

/** The echo env, as the registry sees it. */
export const manifest: EnvManifest = defineEnv({
  name: "echo",
  description: "Echoes each message back; reward is 0.1 per character",
  models: echoModels,
  create: () => new EchoEnvironment(),
  concurrentSessions: true,
  deterministic: true,
  image: "echo-env:latest",
  dockerfile: new URL("./Dockerfile", import.meta.url),
  exampleAction: { message: "Hello, World!" },
});
