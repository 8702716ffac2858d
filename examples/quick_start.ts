/**
 * The Quick Start: an echo episode on the embedded default (a child process
 * on a unix socket; no Docker needed).
 *
 * Run: deno task demo
 *
 * @module
 */
import { EchoEnv } from "../mod.ts";

await using env = await EchoEnv.fromProcess();
const reset = await env.reset();
console.log(`reset: ${reset.observation.echoed_message}`);

const result = await env.step({ message: "Hello, World!" });
console.log(`echoed: ${result.observation.echoed_message}`);
console.log(`reward: ${result.reward}`);

const state = await env.state();
console.log(`steps: ${state.step_count}`);
