/**
 * How the Docker provider fails: each failure is a clear, typed error, it
 * comes quickly rather than as a hang, and nothing is left behind.
 */
import assert from "node:assert/strict";
import { ConnectionError } from "../protocol/errors.ts";
import { EchoEnv } from "../envs/echo/client.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import {
  ContainerStartError,
  EngineUnreachableError,
  ImageNotFoundError,
} from "../providers/docker/engine_errors.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import {
  buildTestImage,
  containersOf,
  dockerTest,
  ECHO_IMAGE,
  ensureEchoImage,
  removeContainersOf,
  runLabel,
} from "./docker_helpers.ts";

dockerTest("a missing image is an ImageNotFoundError and leaves nothing", async () => {
  await using engine = new DockerEngine();
  const labels = runLabel();
  await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
  try {
    const error = await docker.start("envtorch-no-such-image:latest", { labels }).then(
      () => assert.fail("started a missing image"),
      (e) => e,
    );
    assert.ok(error instanceof ImageNotFoundError, String(error));
    assert.equal(error.image, "envtorch-no-such-image:latest");
    assert.match(error.message, /^Image envtorch-no-such-image:latest not found: build it with/);
    assert.deepEqual(await containersOf(engine, labels), []);
  } finally {
    await removeContainersOf(engine, labels);
  }
});

dockerTest("a server that never becomes healthy gives its logs and leaves nothing", async (t) => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  const tags: string[] = [];
  await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
  try {
    await t.step("a server that never listens: timeout, with its last log lines", async () => {
      const image = await buildTestImage(
        engine,
        `envtorch-test-silent:${labels["envtorch.test"]}`,
        `FROM ${ECHO_IMAGE}\nENTRYPOINT ["sh", "-c", "echo booting the broken server; echo it will never listen >&2; exec sleep 600"]\n`,
        labels,
      );
      tags.push(image);
      for (const transport of ["unix", "tcp"] as const) {
        const started = performance.now();
        const error = await docker.start(image, { labels, transport, startupTimeoutS: 2 }).then(
          () => assert.fail("a server that never listens was reported healthy"),
          (e) => e,
        );
        const seconds = (performance.now() - started) / 1000;
        assert.ok(error instanceof ContainerStartError, String(error));
        assert.match(
          error.message,
          new RegExp(`^Cannot start container ${image}: .*never answered /health after 2 s`),
        );
        // stdout and stderr lines may come in either order.
        assert.match(error.message, /\n--- last log lines ---\n/);
        assert.match(error.message, /booting the broken server/);
        assert.match(error.logs, /it will never listen/);
        assert.ok(seconds < 10, `took ${seconds} s`);
        assert.deepEqual(await containersOf(engine, labels), [], `${transport}: container left`);
      }
    });

    await t.step(
      "a server that exits at once: the exit code, no waiting for the timeout",
      async () => {
        const image = await buildTestImage(
          engine,
          `envtorch-test-crash:${labels["envtorch.test"]}`,
          `FROM ${ECHO_IMAGE}\nENTRYPOINT ["sh", "-c", "echo crashing on purpose >&2; exit 3"]\n`,
          labels,
        );
        tags.push(image);
        const started = performance.now();
        const error = await docker.start(image, { labels, startupTimeoutS: 30 }).then(
          () => assert.fail("a crashing server was reported healthy"),
          (e) => e,
        );
        const seconds = (performance.now() - started) / 1000;
        assert.ok(error instanceof ContainerStartError, String(error));
        assert.match(error.message, /the server exited with code 3/);
        assert.match(error.message, /crashing on purpose/);
        assert.ok(seconds < 10, `took ${seconds} s for a server that exits at once`);
        assert.deepEqual(await containersOf(engine, labels), []);
      },
    );
  } finally {
    await removeContainersOf(engine, labels);
    for (const tag of tags) await engine.images.remove(tag, { force: true }).catch(() => {});
  }
});

dockerTest("a stopped engine is an EngineUnreachableError naming the socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-test-" });
  try {
    const socket = `${dir}/docker.sock`;
    await using docker = new LocalDockerProvider({ host: `unix://${socket}` });
    const error = await docker.start(ECHO_IMAGE).then(
      () => assert.fail("started a container on an engine that is not there"),
      (e) => e,
    );
    assert.ok(error instanceof EngineUnreachableError, String(error));
    assert.equal(error.socketPath, socket);
    assert.match(
      error.message,
      new RegExp(`^Cannot reach the Docker engine at ${socket}: no socket at that path`),
    );

    // The same through DOCKER_HOST.
    Deno.env.set("DOCKER_HOST", `unix://${socket}`);
    try {
      await using engine = new DockerEngine();
      assert.equal(engine.socketPath, socket);
      await assert.rejects(engine.version(), (e: Error) => {
        assert.ok(e instanceof EngineUnreachableError, String(e));
        assert.match(e.message, new RegExp(`^Cannot reach the Docker engine at ${socket}: `));
        return true;
      });
    } finally {
      Deno.env.delete("DOCKER_HOST");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

dockerTest(
  "a container killed mid-episode gives the client a clear error, not a hang",
  async (t) => {
    await using engine = new DockerEngine();
    await ensureEchoImage(engine);
    const labels = runLabel();
    await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
    try {
      for (const transport of ["unix", "tcp"] as const) {
        for (const wire of ["websocket", "http"] as const) {
          await t.step(`${wire} over ${transport}`, async () => {
            await using server = await docker.start(ECHO_IMAGE, { labels, transport });
            await using env = new EchoEnv({
              baseUrl: server.baseUrl,
              token: server.token,
              transport: wire,
              timeoutS: 30,
            });
            await env.reset();
            await env.step({ message: "before" });
            await engine.containers.kill(server.id);
            const started = performance.now();
            const error = await env.step({ message: "after the kill" }).then(
              () => assert.fail("a step on a killed container succeeded"),
              (e) => e,
            );
            const seconds = (performance.now() - started) / 1000;
            assert.ok(error instanceof ConnectionError, `${error?.name}: ${error?.message}`);
            assert.match(
              error.message,
              /^(Connection to .* (closed|lost)|Cannot reach |Cannot connect to )/,
            );
            assert.ok(seconds < 5, `the error took ${seconds} s`);
          });
        }
      }
      assert.deepEqual(await containersOf(engine, labels), []);
    } finally {
      await removeContainersOf(engine, labels);
    }
  },
);
