/**
 * The shared provider suite on {@link ProcessProvider}: `envtorch serve` in
 * a child process on a unix socket.
 */
import { ConnectionError } from "../protocol/errors.ts";
import { ProcessProvider } from "../providers/process.ts";
import { providerConformance } from "./helpers/provider_conformance.ts";
import { listProcesses } from "../envs/coding/procfs.ts";

/** This process's children (the servers the provider started), as `pid name`. */
async function children(): Promise<string[]> {
  const all = await listProcesses();
  return all.filter((p) => p.ppid === Deno.pid).map((p) => `${p.pid} ${p.name}`).sort();
}

providerConformance({
  name: "process",
  provider: () => new ProcessProvider(),
  spec: "echo",
  badSpec: "no-such-env",
  badSpecError: ConnectionError,
  running: children,
});
