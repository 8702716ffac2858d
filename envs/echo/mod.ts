/**
 * The echo env: models, environment, client and manifest.
 *
 * @module
 */
export { EchoEnv } from "./client.ts";
export { EchoEnvironment, READY_MESSAGE } from "./environment.ts";
export { manifest } from "./manifest.ts";
export { EchoAction, echoModels, EchoObservation, EchoState } from "./models.ts";
