/**
 * What the Docker end-to-end tests share: whether an engine answers (tests
 * skip with the reason in their name when none does, except under CI=true,
 * where they fail), the echo image (built if missing), and a label per test
 * run so that every container a test makes is found and removed, even when
 * the test fails.
 *
 * @module
 */
import { getEnv } from "../envs/registry.ts";
import { DockerEngine } from "../providers/docker/engine.ts";
import {
  baseContext,
  buildImages,
  fillDenoCache,
  PROJECT_ROOT,
} from "../providers/docker/image_builder.ts";
import { createBuildContext } from "../providers/docker/build_context.ts";

/** The image the tests run (`ENVTORCH_TEST_ECHO_IMAGE` overrides). */
export const ECHO_IMAGE = Deno.env.get("ENVTORCH_TEST_ECHO_IMAGE") ?? "echo-env:latest";
/**
 * The coding env's image (`ENVTORCH_TEST_CODING_IMAGE` overrides, so that two
 * checkouts testing different coding envs on one engine do not share a tag).
 */
export const CODING_IMAGE = Deno.env.get("ENVTORCH_TEST_CODING_IMAGE") ?? "coding-env:latest";
/** Label put on every container (and test image) a test run makes. */
export const TEST_LABEL = "envtorch.test";
/** Whether this is CI, where a missing engine is a failure, not a skip. */
export const IN_CI = Deno.env.get("CI") === "true";

async function probe(): Promise<string | undefined> {
  try {
    await using engine = new DockerEngine();
    await engine.ping({ timeoutS: 5 });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Why Docker tests cannot run here, or undefined when an engine answers. */
export const NO_DOCKER: string | undefined = await probe();

/**
 * Registers a test that needs Docker: skipped (with the reason in its name)
 * when no engine answers, failed under CI=true.
 */
export function dockerTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  if (NO_DOCKER && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${NO_DOCKER})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (NO_DOCKER) throw new Error(`CI=true but no Docker engine answers: ${NO_DOCKER}`);
    await fn(t);
  });
}

const ensured = new Map<string, Promise<void>>();

/** Builds an env's image (and the base image) if the engine lacks it. */
function ensureImage(engine: DockerEngine, env: string, image: string): Promise<void> {
  let done = ensured.get(image);
  if (!done) {
    done = (async () => {
      if (await engine.images.exists(image)) return;
      try {
        const spec = await getEnv(env);
        if (image === spec.image) {
          await buildImages(engine, { envs: [spec] });
          return;
        }
        // A tag of one's own: build this checkout's base and env image under tags of their own
        // (`envtorch-base:<tag>`), never touching the shared ones (buildImages replaces them).
        const tag = image.slice(image.lastIndexOf(":") + 1) || "test";
        const base = `envtorch-base:${tag}`;
        const denoDir = await fillDenoCache(PROJECT_ROOT);
        await engine.images.build(createBuildContext(baseContext(PROJECT_ROOT, denoDir)), {
          tags: [base],
          dockerfile: "app/Dockerfile.base",
        });
        const dockerfile = (await Deno.readTextFile(spec.dockerfile!)).replace(
          /^FROM envtorch-base:latest$/m,
          `FROM ${base}`,
        );
        const root = decodeURIComponent(PROJECT_ROOT.pathname).replace(/\/$/, "");
        await engine.images.build(
          createBuildContext([
            { type: "dir", hostPath: root, target: "app" },
            { type: "content", target: "Dockerfile.test", content: dockerfile },
          ]),
          { tags: [image], dockerfile: "Dockerfile.test" },
        );
      } catch (error) {
        throw new Error(
          `Cannot build ${image} for the tests (run \`deno task images\` first): ${
            (error as Error).message
          }`,
          { cause: error },
        );
      }
    })();
    ensured.set(image, done);
  }
  return done;
}

/** Builds the echo image (and the base image) if the engine lacks it. */
export function ensureEchoImage(engine: DockerEngine): Promise<void> {
  return ensureImage(engine, "echo", ECHO_IMAGE);
}

/** Builds the coding image (and the base image) if the engine lacks it. */
export function ensureCodingImage(engine: DockerEngine): Promise<void> {
  return ensureImage(engine, "coding", CODING_IMAGE);
}

/** A label value unique to one test file's run. */
export function runLabel(): Record<string, string> {
  return { [TEST_LABEL]: `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}` };
}

/** Containers carrying the run's label. */
export async function containersOf(
  engine: DockerEngine,
  label: Record<string, string>,
): Promise<string[]> {
  const [key, value] = Object.entries(label)[0]!;
  const found = await engine.containers.list({ all: true, labels: [`${key}=${value}`] });
  return found.map((c) => c.Id);
}

/** Removes every container carrying the run's label; returns how many there were. */
export async function removeContainersOf(
  engine: DockerEngine,
  label: Record<string, string>,
): Promise<number> {
  const ids = await containersOf(engine, label);
  for (const id of ids) await engine.containers.remove(id, { force: true, missingOk: true });
  return ids.length;
}

/** Builds a small test image from a Dockerfile text (FROM the echo image); returns its tag. */
export async function buildTestImage(
  engine: DockerEngine,
  tag: string,
  dockerfile: string,
  label: Record<string, string>,
): Promise<string> {
  await engine.images.build(
    createBuildContext([{ type: "content", target: "Dockerfile", content: dockerfile }]),
    { tags: [tag], labels: label },
  );
  return tag;
}
