/**
 * The shared provider suite on {@link ProcessProvider}: `envtorch serve` in
 * a child process on a unix socket.
 */
import { ConnectionError } from "../protocol/errors.ts";
import { type ProcessOptions, ProcessProvider } from "../providers/process.ts";
import { providerConformance } from "./helpers/provider_conformance.ts";
import { listProcesses } from "../envs/coding/procfs.ts";

/**
 * Marks the children this file starts: test files may share a process under
 * `deno test --parallel`, so "children of this pid" alone would see theirs.
 */
const MARK = `ENVTORCH_PROVIDER_TEST=${crypto.randomUUID()}`;

/** The servers this file's provider started and that still run, as `pid name`. */
async function children(): Promise<string[]> {
  const mine: string[] = [];
  for (const p of await listProcesses()) {
    if (p.ppid !== Deno.pid) continue;
    try {
      const environ = (await Deno.readTextFile(`/proc/${p.pid}/environ`)).split("\0");
      if (environ.includes(MARK)) mine.push(`${p.pid} ${p.name}`);
    } catch {
      // Exited while we looked.
    }
  }
  return mine.sort();
}

const [key, value] = MARK.split("=") as [string, string];
providerConformance<ProcessOptions>({
  name: "process",
  provider: () => new ProcessProvider(),
  spec: "echo",
  startOptions: { env: { [key]: value } },
  badSpec: "no-such-env",
  badSpecError: ConnectionError,
  running: children,
});
