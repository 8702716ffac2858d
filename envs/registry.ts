/**
 * The env registry, built from the `manifest.ts` of each folder under `envs/`:
 * adding an env is adding a folder, not editing a list.
 *
 * @module
 */
import type { EnvManifest } from "../protocol/manifest.ts";

/** Raised for an env name no manifest declares. */
export class UnknownEnvError extends Error {
  /** The error class name. */
  override name = "UnknownEnvError";
  /** Names that do exist. */
  readonly known: string[];
  /** Creates the error. */
  constructor(env: string, known: string[]) {
    super(`Unknown env ${JSON.stringify(env)}: known envs are ${known.join(", ") || "(none)"}`);
    this.known = known;
  }
}

/** The folder bundled envs live in. */
export const BUNDLED_ENVS_DIR: URL = new URL("./", import.meta.url);

const cache = new Map<string, Promise<EnvManifest[]>>();

/**
 * Every env with a manifest, sorted by name.
 * @param dir folder to scan; bundled envs by default.
 */
export function listEnvs(dir: URL = BUNDLED_ENVS_DIR): Promise<EnvManifest[]> {
  const key = dir.href;
  let found = cache.get(key);
  if (!found) {
    found = scan(dir);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

async function scan(dir: URL): Promise<EnvManifest[]> {
  if (dir.protocol !== "file:") {
    throw new Error(`Cannot list envs in ${dir.href}: only local folders can be scanned`);
  }
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory || entry.name.startsWith(".") || entry.name.startsWith("_")) continue;
    try {
      if (Deno.statSync(new URL(`./${entry.name}/manifest.ts`, dir)).isFile) names.push(entry.name);
    } catch {
      // A folder without a manifest is not an env.
    }
  }
  const manifests = await Promise.all(names.map(async (name) => {
    const mod = await import(new URL(`./${name}/manifest.ts`, dir).href);
    const manifest = mod.manifest as EnvManifest | undefined;
    if (!manifest || typeof manifest.create !== "function") {
      throw new Error(`envs/${name}/manifest.ts must export a manifest made with defineEnv`);
    }
    return manifest;
  }));
  return manifests.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Loads the manifest exported by a module (a path or URL to a `manifest.ts`),
 * for envs outside the bundled folder or a remote (JSR, URL) install where
 * folders cannot be listed.
 */
export async function loadManifest(specifier: string | URL): Promise<EnvManifest> {
  const url = specifier instanceof URL
    ? specifier
    : /^[a-z][a-z0-9+.-]*:/i.test(specifier)
    ? new URL(specifier)
    : new URL(specifier, `file://${Deno.cwd()}/`);
  let mod: { manifest?: EnvManifest };
  try {
    mod = await import(url.href);
  } catch (error) {
    throw new Error(`Cannot load the env manifest ${url.href}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!mod.manifest || typeof mod.manifest.create !== "function") {
    throw new Error(`${url.href} must export a manifest made with defineEnv`);
  }
  return mod.manifest;
}

/** Whether a CLI argument names a manifest module rather than a registry name. */
export function isManifestSpecifier(arg: string): boolean {
  return arg.endsWith(".ts") || arg.endsWith(".js") || arg.includes("/");
}

/** The manifest of one env, or UnknownEnvError. */
export async function getEnv(name: string, dir: URL = BUNDLED_ENVS_DIR): Promise<EnvManifest> {
  const envs = await listEnvs(dir);
  const manifest = envs.find((m) => m.name === name);
  if (!manifest) throw new UnknownEnvError(name, envs.map((m) => m.name));
  return manifest;
}
