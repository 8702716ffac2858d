/**
 * The Quick Start against a real container: the echo env's image, started
 * as a hardened container (no capabilities, read-only root, no network,
 * reached on a unix socket), one episode, then the container is removed.
 *
 * Needs: docker, and the image (`deno task images`, or `envtorch build echo`).
 *
 * Run: deno run -A examples/local_echo_env.ts
 *
 * @module
 */
import { EchoEnv } from "../mod.ts";

await using env = await EchoEnv.fromDockerImage("echo-env:latest");
console.log(`server: ${env.baseUrl}`);

const reset = await env.reset();
console.log(`reset: ${reset.observation.echoed_message}`);

const result = await env.step({ message: "Hello, World!" });
console.log(`echoed: ${result.observation.echoed_message}`);
console.log(`reward: ${result.reward}`);

await env.close();
console.log("closed: the container is stopped and removed");
