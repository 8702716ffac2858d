/**
 * Starts benchmark servers as child processes (so the load generator does
 * not share their event loop) and reads their memory.
 *
 * @module
 */
const ROOT = new URL("../", import.meta.url).pathname;

/** A server in a child process. */
export interface BenchServer extends AsyncDisposable {
  baseUrl: string;
  pid: number;
  /** Resident memory of the server process, in bytes. */
  rss(): number;
}

/** Starts `args` (a deno command line) and waits for the URL it prints. */
export async function startServer(args: string[], urlPattern: RegExp): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let match: RegExpMatchArray | null = null;
  while (!(match = text.match(urlPattern))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Server ${args.join(" ")} exited before printing its URL`);
    text += value;
  }
  void (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    baseUrl: match[1]!,
    pid: child.pid,
    rss() {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** The echo env served as `envtorch serve echo` does, with room for many sessions and `/__memory`. */
export function envtorchEcho(listen: string[]): Promise<BenchServer> {
  return startServer(
    ["run", "-A", "--v8-flags=--expose-gc", "bench/_echo_server.ts", ...listen],
    /serving echo on (\S+)/,
  );
}

/** The bare Deno floor server, with `/__memory`. */
export function floorServer(listen: string[]): Promise<BenchServer> {
  return startServer(
    ["run", "-A", "--v8-flags=--expose-gc", "bench/_floor_server.ts", ...listen],
    /listening on (\S+)/,
  );
}

/** GC in the server, then its RSS and heap use (bytes). */
export async function serverMemory(baseUrl: string): Promise<{ rss: number; heapUsed: number }> {
  const res = await fetch(`${baseUrl}/__memory`);
  return await res.json();
}
