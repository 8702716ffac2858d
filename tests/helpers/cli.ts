/**
 * Runs the envtorch CLI as a user would: `deno run main.ts ...` (or the
 * compiled binary), capturing exit code and output.
 *
 * @module
 */

/** The project's root folder. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/** The command that runs `main.ts` from source. */
export const CLI: string[] = [Deno.execPath(), "run", "-A", "--quiet", `${ROOT}main.ts`];

/** What a finished command gave. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (or `cmd`) to completion. */
export async function runCli(
  args: string[],
  options: { cmd?: string[]; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const [bin, ...base] = options.cmd ?? CLI;
  const out = await new Deno.Command(bin!, {
    args: [...base, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A long-running CLI command (e.g. `serve`), with its first line of output. */
export interface CliProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** The first line it printed on stdout. */
  firstLine: string;
  /** Everything printed after that, once it exits. */
  rest: Promise<string>;
}

/** Starts a CLI command and waits for its first stdout line. */
export async function startCli(
  args: string[],
  options: { cmd?: string[] } = {},
): Promise<CliProcess> {
  const [bin, ...base] = options.cmd ?? CLI;
  const child = new Deno.Command(bin!, {
    args: [...base, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (!buffer.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    buffer += value;
  }
  const [firstLine = "", ...more] = buffer.split("\n");
  const rest = (async () => {
    let text = more.join("\n");
    while (true) {
      const { value, done } = await lines.read();
      if (done) return text;
      text += value;
    }
  })();
  return {
    child,
    firstLine,
    rest,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
      await rest;
    },
  };
}
