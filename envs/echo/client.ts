/**
 * The echo env's typed client.
 *
 * @module
 */
import type { EnvModels } from "../../protocol/models.ts";
import { EnvClient } from "../../client/env_client.ts";
import { type EchoAction, echoModels, type EchoObservation, type EchoState } from "./models.ts";

/**
 * Client of the echo env.
 *
 * @example
 * ```ts
 * import { EchoEnv } from "./client.ts";
 * await using env = await EchoEnv.fromProcess();
 * await env.reset();
 * const result = await env.step({ message: "Hello, World!" });
 * console.log(result.observation.echoed_message, result.reward); // Hello, World! 1.3
 * ```
 */
export class EchoEnv extends EnvClient<EchoAction, EchoObservation, EchoState> {
  /** The env's models, which results are parsed with. */
  static override models: EnvModels = echoModels;
  /** The env's registry name. */
  static override envName = "echo";
  /** The env's manifest module, for starting its server anywhere. */
  static override manifestUrl: URL = new URL("./manifest.ts", import.meta.url);
}
