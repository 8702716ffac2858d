/**
 * Runs the envtorch CLI with more control than cli.ts gives: text on stdin,
 * extra environment variables, another project folder (a temp copy) as the
 * working directory and main.ts.
 *
 * @module
 */
import { ROOT } from "./cli.ts";

/** What a finished command gave. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runEnvtorch}. */
export interface RunOptions {
  /** Text written to the command's stdin (closed after); none: stdin is null. */
  input?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The project folder whose main.ts runs, and the working directory. */
  root?: string;
}

/** Runs `deno run -A main.ts ...args` to completion. */
export async function runEnvtorch(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const root = options.root ?? ROOT;
  return await runIn(
    root,
    [Deno.execPath(), "run", "-A", "--quiet", `${root}/main.ts`, ...args],
    options,
  );
}

/** Runs any command in `cwd` to completion (e.g. `deno fmt --check`). */
export async function runIn(
  cwd: string,
  cmd: string[],
  options: Omit<RunOptions, "root"> = {},
): Promise<RunResult> {
  const [bin, ...args] = cmd;
  const child = new Deno.Command(bin!, {
    args,
    cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.input));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}
