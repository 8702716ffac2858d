/**
 * Containers outliving their owner, the reaper, and the CLI commands that
 * drive containers (`run`, `ps`, `clean`), as a user runs them.
 */
import assert from "node:assert/strict";
import { EchoEnv } from "../envs/echo/client.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import { LABELS } from "../providers/docker/labels.ts";
import { LocalDockerProvider } from "../providers/docker/local_docker_provider.ts";
import { listManagedContainers, reapContainers } from "../providers/docker/managed_containers.ts";
import {
  containersOf,
  dockerTest,
  ECHO_IMAGE,
  ensureEchoImage,
  removeContainersOf,
  runLabel,
  TEST_LABEL,
} from "./docker_helpers.ts";
import { firstLine } from "./helpers/first_line.ts";

const ROOT = new URL("../", import.meta.url);
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

function cli(
  args: string[],
  options: { stdout?: "piped" | "null"; env?: Record<string, string> } = {},
) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", CONFIG, MAIN, ...args],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: options.stdout ?? "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

dockerTest("a client killed with SIGKILL leaves a container that the reaper removes", async () => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        CONFIG,
        new URL("./docker_owner_fixture.ts", import.meta.url).pathname,
        labels[TEST_LABEL]!,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const started = JSON.parse(await firstLine(child.stdout)) as { id: string; url: string };
    const dir = started.url.replace(/^unix:/, "").replace(/\/sock\/env\.sock$/, "");

    // While the owner lives, the reaper leaves its container alone.
    const alive = (await listManagedContainers(engine)).find((c) => c.id === started.id);
    assert.equal(alive?.owner, "alive");
    assert.equal(alive?.ownerPid, child.pid);
    assert.ok(!(await reapContainers(engine, { dryRun: true })).some((c) => c.id === started.id));

    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});

    // The container outlives its owner...
    const orphan = (await listManagedContainers(engine)).find((c) => c.id === started.id);
    assert.equal(orphan?.state, "running");
    assert.equal(orphan?.owner, "gone");
    {
      await using env = new EchoEnv({ baseUrl: started.url });
      assert.equal((await env.reset()).observation.echoed_message, "Echo environment ready!");
    }

    // ...until the reaper removes it, with its socket folder.
    const reaped = await reapContainers(engine);
    const entry = reaped.find((c) => c.id === started.id);
    assert.equal(entry?.reason, "owner-gone");
    assert.equal(entry?.error, undefined);
    assert.deepEqual(await containersOf(engine, labels), []);
    assert.equal(await exists(dir), false, `${dir} was left behind`);
  } finally {
    await removeContainersOf(engine, labels);
  }
});

dockerTest("the reaper removes expired containers even when their owner lives", async () => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);
  const labels = runLabel();
  try {
    await using docker = new LocalDockerProvider({ engine, reapOnStart: false });
    const server = await docker.start(ECHO_IMAGE, { labels, ttlS: 1, transport: "tcp" });
    const info = await server.inspect();
    assert.ok(new Date(info.Config.Labels![LABELS.expires]!).getTime() <= Date.now() + 1000);
    const early = await reapContainers(engine, { now: new Date(Date.now() - 60_000) });
    assert.ok(!early.some((c) => c.id === server.id), "reaped before it expired");
    const reaped = await reapContainers(engine, { now: new Date(Date.now() + 2000) });
    assert.equal(reaped.find((c) => c.id === server.id)?.reason, "expired");
    assert.deepEqual(await containersOf(engine, labels), []);
    await server.stop(); // already gone: still fine
  } finally {
    await removeContainersOf(engine, labels);
  }
});

dockerTest("envtorch run, ps and clean drive containers from the command line", async (t) => {
  await using engine = new DockerEngine();
  await ensureEchoImage(engine);

  await t.step(
    "run prints the URL, serves, and SIGTERM stops and removes the container",
    async () => {
      for (const args of [["run", "echo"], ["run", "echo", "--port", "0"]]) {
        // On a published port the server asks for a token: run hands it ours.
        const token = args.includes("--port") ? "lifecycle-test-token-0123456789" : "";
        const child = cli(args, { env: { ENVTORCH_TOKEN: token } }).spawn();
        const url = await firstLine(child.stdout);
        try {
          assert.match(url, /^(unix:\/.*\.sock|http:\/\/127\.0\.0\.1:\d+)$/, `printed ${url}`);
          if (args.includes("--port")) {
            assert.match(url, /^http:/);
            const anonymous = await fetch(`${url}/state`);
            assert.equal(anonymous.status, 401);
            await anonymous.body?.cancel();
          }
          await using env = new EchoEnv({ baseUrl: url, token });
          await env.reset();
          assert.equal((await env.step({ message: "Hello, World!" })).reward, 1.3);

          const ps = await cli(["ps", "--json"]).output();
          assert.equal(ps.code, 0);
          const listed = JSON.parse(new TextDecoder().decode(ps.stdout)) as {
            url: string;
            owner: string;
            owner_pid: number;
          }[];
          const mine = listed.find((c) => c.url === url);
          assert.ok(mine, `ps does not list ${url}`);
          assert.equal(mine.owner, "alive");
          assert.equal(mine.owner_pid, child.pid);
        } finally {
          child.kill("SIGTERM");
        }
        const status = await child.status;
        const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
        assert.equal(status.code, 0, stderr);
        assert.match(stderr, /Ctrl-C stops and removes it/);
        assert.match(stderr, /stopping envtorch-echo-env-/);
        const left = (await listManagedContainers(engine)).filter((c) => c.url === url);
        assert.deepEqual(left, []);
      }
    },
  );

  await t.step("clean removes what a killed 'run' left behind", async () => {
    // Any provider that starts meanwhile (another test file, an example) reaps orphans too: when
    // one took this orphan before `clean` could, the scenario is run again with a new one.
    for (let attempt = 1;; attempt++) {
      const child = cli(["run", "echo"]).spawn();
      const url = await firstLine(child.stdout);
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
      const orphan = (await listManagedContainers(engine)).find((c) => c.url === url);
      const stillThere = async () =>
        (await listManagedContainers(engine)).some((c) => c.id === orphan?.id);
      if (!orphan && attempt < 3) continue;
      assert.equal(orphan?.owner, "gone");
      const dry = await cli(["clean", "--dry-run"]).output();
      assert.equal(dry.code, 0);
      const dryText = new TextDecoder().decode(dry.stdout);
      if (!dryText.includes(orphan.name) && !(await stillThere()) && attempt < 3) continue;
      assert.match(
        dryText,
        new RegExp(`would remove ${orphan.name} \\(echo-env:latest\\): owner \\d+ is gone`),
      );
      const clean = await cli(["clean"]).output();
      assert.equal(clean.code, 0);
      const cleanText = new TextDecoder().decode(clean.stdout);
      if (!cleanText.includes(orphan.name) && !(await stillThere()) && attempt < 3) continue;
      assert.match(cleanText, new RegExp(`removed ${orphan.name}`));
      assert.equal(await stillThere(), false);
      return;
    }
  });

  await t.step("usage mistakes exit 2, a missing image exits 1 with a clear message", async () => {
    for (
      const args of [
        ["run"],
        ["run", "echo", "--bogus"],
        ["run", "echo", "--port", "x"],
        ["ps", "extra"],
        ["clean", "--nope"],
        ["build", "a", "b"],
      ]
    ) {
      const out = await cli(args).output();
      assert.equal(out.code, 2, `envtorch ${args.join(" ")}`);
      assert.match(new TextDecoder().decode(out.stderr), /Run 'envtorch \w+ --help'/);
    }
    const typo = await cli(["run", "ech0"]).output();
    assert.equal(typo.code, 2, "a bare unknown name is an unknown env: a usage error");
    assert.match(new TextDecoder().decode(typo.stderr), /No env or image named ech0: known envs/);
    const missing = await cli(["run", "envtorch-no-such-image:latest"]).output();
    assert.equal(missing.code, 1);
    assert.match(
      new TextDecoder().decode(missing.stderr),
      /^envtorch run: No env or image named envtorch-no-such-image:latest: known envs are .*echo/,
    );
    for (const command of ["run", "ps", "clean", "build"]) {
      const help = await cli([command, "--help"]).output();
      assert.equal(help.code, 0);
      assert.match(
        new TextDecoder().decode(help.stdout),
        new RegExp(`^Usage: envtorch ${command}`),
      );
    }
  });

  await t.step("a stopped engine: ps exits 1 naming the socket", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", CONFIG, MAIN, "ps"],
      env: { DOCKER_HOST: "unix:///nonexistent/docker.sock", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    assert.match(
      new TextDecoder().decode(out.stderr),
      /^envtorch ps: Cannot reach the Docker engine at \/nonexistent\/docker\.sock: no socket at that path/,
    );
  });
});
