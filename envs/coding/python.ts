/**
 * Finding the Python interpreter the worker runs: an explicit, absolute path
 * resolved once. A shim (pyenv, asdf) would need the environment the worker
 * does not get, and an interpreter under a private folder (such as /root)
 * could not load its standard library once the worker drops its uid, so the
 * system interpreter comes first.
 *
 * @module
 */

/** Environment variable naming the interpreter. */
export const PYTHON_ENV = "ENVTORCH_PYTHON";

/** Where the system interpreter lives, in order of preference. */
const CANDIDATES = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"];

let resolved: Promise<string> | undefined;

/**
 * The absolute path of the interpreter: `$ENVTORCH_PYTHON`, else the first
 * system `python3` that exists, else what `python3` on the PATH reports as
 * `sys.executable`. Resolved once per process.
 *
 * @example
 * ```ts
 * import { resolvePython } from "./python.ts";
 * console.log(await resolvePython()); // /usr/bin/python3
 * ```
 */
export function resolvePython(): Promise<string> {
  return resolved ??= find().catch((error) => {
    resolved = undefined;
    throw error;
  });
}

async function find(): Promise<string> {
  const fromEnv = Deno.env.get(PYTHON_ENV);
  if (fromEnv) {
    if (!fromEnv.startsWith("/")) {
      throw new Error(`${PYTHON_ENV} must be an absolute path, got ${JSON.stringify(fromEnv)}`);
    }
    return fromEnv;
  }
  for (const path of CANDIDATES) {
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return path;
    } catch {
      // Not here.
    }
  }
  try {
    const out = await new Deno.Command("python3", {
      args: ["-I", "-c", "import sys; print(sys.executable)"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const path = new TextDecoder().decode(out.stdout).trim();
    if (out.success && path.startsWith("/")) return path;
  } catch {
    // No python3 on the PATH either.
  }
  throw new Error(
    `Cannot find a Python 3 interpreter: install python3 or set ${PYTHON_ENV} to its absolute path`,
  );
}
