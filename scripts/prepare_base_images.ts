/**
 * Creates, on a machine with no container registry, the local images that
 * Dockerfile.base names in its FROM lines, skipping those the engine has:
 *
 * - `debian:<suite>[-slim]`: a Debian root filesystem made with debootstrap
 *   (minbase plus python3, from the apt mirror this machine uses), imported
 *   through `POST /images/create?fromSrc=-`.
 * - `denoland/deno:bin-<version>`: the deno binary of the npm package
 *   `@deno/<os>-<arch>-glibc@<version>` at `/deno`, like the official image.
 *
 * Run: deno run -A scripts/prepare_base_images.ts [--dockerfile PATH]
 * (debootstrap needs root). With a registry and internet, nothing here is
 * needed: the builds pull the real images.
 *
 * @module
 */
import $ from "npm:dax-sh@0.44.1";
import { createTarPacker } from "npm:modern-tar@0.8.6";
import { parseArgs } from "node:util";
import { DockerEngine } from "../providers/docker/engine.ts";

/** A FROM image of a Dockerfile, with its ARG defaults substituted. */
export function fromImages(dockerfile: string): string[] {
  const args = new Map<string, string>();
  const images: string[] = [];
  const stages = new Set<string>();
  const lines = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    const arg = line.match(/^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?/i);
    if (arg && images.length === 0) {
      args.set(arg[1]!, (arg[2] ?? "").replace(/^["']|["']$/g, ""));
      continue;
    }
    const from = line.match(/^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i);
    if (!from) continue;
    const image = from[1]!.replace(
      /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
      (_, name: string) => args.get(name) ?? "",
    );
    if (!stages.has(image) && image !== "scratch") images.push(image);
    if (from[2]) stages.add(from[2]);
  }
  return images;
}

/** The Debian mirror apt uses on this machine. */
export async function aptMirror(): Promise<string> {
  const fromEnv = Deno.env.get("DEBIAN_MIRROR");
  if (fromEnv) return fromEnv;
  const texts: string[] = [];
  for (const file of ["/etc/apt/sources.list"]) {
    texts.push(await Deno.readTextFile(file).catch(() => ""));
  }
  try {
    for await (const entry of Deno.readDir("/etc/apt/sources.list.d")) {
      if (entry.name.endsWith(".sources") || entry.name.endsWith(".list")) {
        texts.push(await Deno.readTextFile(`/etc/apt/sources.list.d/${entry.name}`));
      }
    }
  } catch {
    // No sources.list.d: the one-line file (or the default) it is.
  }
  for (const text of texts) {
    // deb822 stanzas: URIs + Suites without -security.
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = stanza.match(/^URIs:\s*(\S+)/m)?.[1];
      const suites = stanza.match(/^Suites:\s*(.+)$/m)?.[1] ?? "";
      if (uris && /\/debian\/?$/.test(uris) && !/security/.test(suites)) return uris;
    }
    // one-line form: deb URL suite components
    for (const line of text.split("\n")) {
      const m = line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
      if (m && /\/debian\/?$/.test(m[1]!) && !/security/.test(m[2]!)) return m[1]!;
    }
  }
  return "http://deb.debian.org/debian";
}

async function prepareDebian(engine: DockerEngine, image: string): Promise<void> {
  const [repo, tag = "latest"] = image.split(":");
  const suite = tag.replace(/-slim$/, "");
  if (Deno.uid() !== 0) throw new Error(`Cannot make ${image}: debootstrap needs root`);
  if (!(await $.which("debootstrap"))) {
    throw new Error(
      `Cannot make ${image}: debootstrap is not installed (apt-get install debootstrap)`,
    );
  }
  const mirror = await aptMirror();
  const dir = await Deno.makeTempDir({ prefix: "envtorch-rootfs-" });
  try {
    const rootfs = `${dir}/rootfs`;
    $.logStep("Bootstrapping", `Debian ${suite} with python3 from ${mirror} (about 90 s)`);
    await $`debootstrap --variant=minbase --include=python3 ${suite} ${rootfs} ${mirror}`
      .stdout("null")
      .stderr("inherit");
    await $`rm -rf ${rootfs}/var/lib/apt/lists ${rootfs}/var/cache/apt/archives`;
    await Deno.mkdir(`${rootfs}/var/lib/apt/lists/partial`, { recursive: true });
    $.logStep("Importing", image);
    const tar = new Deno.Command("tar", {
      args: ["--numeric-owner", "-C", rootfs, "-cf", "-", "."],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const id = await engine.images.import(tar.stdout, {
      repo: repo!,
      tag,
      changes: ['CMD ["bash"]'],
      message: `debootstrap ${suite} minbase + python3 (scripts/prepare_base_images.ts)`,
    });
    const status = await tar.status;
    if (!status.success) throw new Error(`tar of the rootfs failed with code ${status.code}`);
    $.logLight(`  ${image} = ${id}`);
  } finally {
    await $`rm -rf ${dir}`.noThrow();
  }
}

async function prepareDeno(engine: DockerEngine, image: string): Promise<void> {
  const tag = image.split(":")[1] ?? "";
  const version = tag.match(/^bin-(\d+\.\d+\.\d+)$/)?.[1];
  if (!version) throw new Error(`Cannot make ${image}: expected a tag like bin-2.9.6`);
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const pkg = `@deno/linux-${arch}-glibc@${version}`;
  const dir = await Deno.makeTempDir({ prefix: "envtorch-deno-" });
  try {
    $.logStep("Fetching", `the deno binary from npm (${pkg})`);
    const file = (await $`npm pack --silent --pack-destination ${dir} ${pkg}`.text()).trim()
      .split("\n").pop()!;
    await $`tar -xzf ${dir}/${file} -C ${dir}`;
    const binary = await Deno.readFile(`${dir}/package/deno`);
    const { readable, controller } = createTarPacker();
    const writing = (async () => {
      const body = controller.add({
        name: "deno",
        size: binary.length,
        mode: 0o755,
        mtime: new Date(0),
        uid: 0,
        gid: 0,
      });
      const writer = body.getWriter();
      await writer.write(binary);
      await writer.close();
      controller.finalize();
    })();
    $.logStep("Importing", image);
    const id = await engine.images.import(readable, {
      repo: image.split(":")[0]!,
      tag,
      changes: ['ENTRYPOINT ["/deno"]'],
      message: `deno ${version} from npm ${pkg} (scripts/prepare_base_images.ts)`,
    });
    await writing;
    $.logLight(`  ${image} = ${id}`);
  } finally {
    await $`rm -rf ${dir}`.noThrow();
  }
}

/** Makes every FROM image of `dockerfile` the engine lacks; returns those it made. */
export async function prepareBaseImages(
  engine: DockerEngine,
  dockerfile: string,
): Promise<string[]> {
  const made: string[] = [];
  for (const image of fromImages(dockerfile)) {
    if (await engine.images.exists(image)) {
      $.logLight(`${image}: present, skipped`);
      continue;
    }
    if (/^(docker\.io\/)?(library\/)?debian:/.test(image)) await prepareDebian(engine, image);
    else if (/^(docker\.io\/)?denoland\/deno:bin-/.test(image)) await prepareDeno(engine, image);
    else {
      $.logWarn(`${image}: not present, and this script cannot make it (the build will pull it)`);
      continue;
    }
    made.push(image);
  }
  return made;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { dockerfile: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    console.log("Usage: deno run -A scripts/prepare_base_images.ts [--dockerfile PATH]");
    Deno.exit(0);
  }
  const path = values.dockerfile ?? new URL("../Dockerfile.base", import.meta.url).pathname;
  await using engine = new DockerEngine();
  try {
    await engine.ping();
    const made = await prepareBaseImages(engine, await Deno.readTextFile(path));
    $.logStep("Done", made.length ? `made ${made.join(", ")}` : "every base image was present");
  } catch (error) {
    $.logError("Error", (error as Error).message);
    Deno.exit(1);
  }
}
