/**
 * The shared provider suite on {@link ProcessProvider}: `envtorch serve` in
 * a child process on a unix socket.
 */
import { ConnectionError } from "../protocol/errors.ts";
import { ProcessProvider } from "../providers/process.ts";
import { providerConformance } from "./helpers/provider_conformance.ts";

/** This process's children that run `envtorch serve`, as `pid cmdline`. */
async function servingChildren(): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // The command name may hold spaces and parentheses: fields start after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== Deno.pid) continue;
      const cmdline = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0");
      if (cmdline.includes("serve")) found.push(`${entry.name} ${cmdline.join(" ")}`);
    } catch {
      // Exited while we looked.
    }
  }
  return found.sort();
}

providerConformance({
  name: "process",
  provider: () => new ProcessProvider(),
  spec: "echo",
  badSpec: "no-such-env",
  badSpecError: ConnectionError,
  running: servingChildren,
});
