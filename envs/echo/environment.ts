/**
 * The echo env: each step echoes the message back, with a reward of 0.1 per
 * character ("Hello, World!" gives 1.3).
 *
 * @module
 */
import { Environment, type EnvMetadata, readmeBeside } from "../../protocol/environment.ts";
import type { ResetOptions } from "../../protocol/models.ts";
import { defineTool, type Tool, ToolOutcome } from "../../protocol/tools.ts";
import { z } from "npm:zod@4.6.7";
import type { EchoAction, EchoObservation, EchoState } from "./models.ts";

/** Text of the observation `reset` returns. */
export const READY_MESSAGE = "Echo environment ready!";

/**
 * Echoes messages back.
 *
 * @example
 * ```ts
 * import { EchoEnvironment } from "./environment.ts";
 * const env = new EchoEnvironment();
 * env.reset({ episode_id: "ep-1" });
 * const obs = env.step({ message: "Hello, World!" });
 * console.log(obs.echoed_message, obs.reward); // Hello, World! 1.3
 * ```
 */
export class EchoEnvironment extends Environment<EchoAction, EchoObservation, EchoState> {
  #state: EchoState = { episode_id: null, step_count: 0, seed: null };

  /** Starts an episode: the ready message, reward 0; keeps `episode_id` and `seed`. */
  reset(options: ResetOptions = {}): EchoObservation {
    this.#state = {
      episode_id: options.episode_id ?? crypto.randomUUID(),
      step_count: 0,
      seed: options.seed ?? null,
    };
    return {
      echoed_message: READY_MESSAGE,
      message_length: 0,
      done: false,
      reward: 0,
      metadata: {},
    };
  }

  /** Echoes the message; reward is 0.1 per character (code points). */
  step(action: EchoAction): EchoObservation {
    this.#state.step_count++;
    const length = [...action.message].length;
    return {
      echoed_message: action.message,
      message_length: length,
      done: false,
      // length / 10 rather than length * 0.1: 13 / 10 is the double nearest 1.3.
      reward: length / 10,
      metadata: { original_message: action.message, step: this.#state.step_count },
    };
  }

  /**
   * OpenEnv's echo tools: `echo_message` returns the message,
   * `echo_with_length` `{ message, length }`. Each call counts as a step
   * and has the step's reward (0.1 per character).
   */
  override get tools(): readonly Tool[] {
    const input = z.strictObject({ message: z.string() });
    const echo = (message: string) => {
      const obs = this.step({ message });
      return { length: obs.message_length, reward: obs.reward };
    };
    return [
      defineTool({
        name: "echo_message",
        description: "Echo back the provided message.",
        input,
        handler: ({ message }) => {
          const { reward } = echo(message);
          return new ToolOutcome(message, { reward });
        },
      }),
      defineTool({
        name: "echo_with_length",
        description: "Echo back the message with its length (in characters).",
        input,
        handler: ({ message }) => {
          const { length, reward } = echo(message);
          return new ToolOutcome({ message, length }, { reward });
        },
      }),
    ];
  }

  /** Episode id, step count and seed. */
  get state(): EchoState {
    return { ...this.#state };
  }

  /** Name, description, version and this README. */
  override get metadata(): EnvMetadata {
    return {
      name: "echo",
      description: "Echoes each message back; reward is 0.1 per character",
      version: "0.1.0",
      readme_content: readmeBeside(import.meta.url),
    };
  }
}
