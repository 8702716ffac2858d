/**
 * The shared provider suite on {@link LocalDockerProvider}, over both of its
 * transports: a unix socket (no network) and a port published on 127.0.0.1.
 * Runs under CI=true; skips (saying why) only where no engine answers.
 */
import { DockerEngine } from "../providers/docker/engine.ts";
import { ImageNotFoundError } from "../providers/docker/engine_errors.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import {
  containersOf,
  dockerTest,
  ECHO_IMAGE,
  ensureEchoImage,
  NO_DOCKER,
  removeContainersOf,
  runLabel,
} from "./docker_helpers.ts";
import { providerConformance } from "./helpers/provider_conformance.ts";

for (const transport of ["unix", "tcp"] as const) {
  const labels = runLabel();
  providerConformance({
    name: `docker, ${transport}`,
    async provider() {
      await using engine = new DockerEngine();
      await ensureEchoImage(engine);
      return new LocalDockerProvider({ reapOnStart: false });
    },
    async cleanup() {
      await using engine = new DockerEngine();
      await removeContainersOf(engine, labels);
    },
    spec: ECHO_IMAGE,
    startOptions: { transport, labels },
    badSpec: "envtorch-no-such-image:conformance",
    badSpecError: ImageNotFoundError,
    async running() {
      if (NO_DOCKER) return [];
      await using engine = new DockerEngine();
      return (await containersOf(engine, labels)).sort();
    },
    test: dockerTest,
  });
}
