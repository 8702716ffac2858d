/**
 * The coding env's typed client.
 *
 * @module
 */
import type { EnvModels } from "../../protocol/models.ts";
import { EnvClient } from "../../client/env_client.ts";
import { type CodeAction, type CodeObservation, type CodeState, codingModels } from "./models.ts";

/**
 * Client of the coding env.
 *
 * @example
 * ```ts
 * import { CodingEnv } from "./client.ts";
 * await using env = await CodingEnv.fromProcess();
 * await env.reset();
 * await env.step({ code: "x = 21" });
 * const result = await env.step({ code: "print(x * 2)" });
 * console.log(result.observation.stdout); // 42
 * ```
 */
export class CodingEnv extends EnvClient<CodeAction, CodeObservation, CodeState> {
  /** The coding env's models. */
  static override models: EnvModels = codingModels;
  /** Registry name of the env. */
  static override envName = "coding";
  /** The env's manifest module. */
  static override manifestUrl: URL = new URL("./manifest.ts", import.meta.url);
}
