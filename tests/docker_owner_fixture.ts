/**
 * A client process for the reaper test: starts an echo container with the
 * label given as the first argument, prints the container id and its URL,
 * then waits to be killed (it never closes the container).
 *
 * @module
 */
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import { ECHO_IMAGE, TEST_LABEL } from "./docker_helpers.ts";

const docker = new LocalDockerProvider({ reapOnStart: false });
const server = await docker.start(ECHO_IMAGE, {
  transport: "unix",
  labels: { [TEST_LABEL]: Deno.args[0]! },
});
console.log(JSON.stringify({ id: server.id, url: server.baseUrl }));
// A timer keeps the process alive (a bare never-settling promise would let Deno exit once
// nothing else is pending) until the test kills it.
setInterval(() => {}, 1 << 30);
