/**
 * The `envtorch` command: hosts bundled envs, and (with later commands)
 * builds images, runs containers and drives envs as a client.
 *
 * @module
 */
import { type Command, EXIT, HelpRequested, UsageError, VERSION } from "./cli/common.ts";
import { benchCommand } from "./cli/bench.ts";
import { listCommand } from "./cli/list.ts";
import { serveCommand } from "./cli/serve.ts";
import { mcpCommand } from "./cli/mcp.ts";
import { buildCommand } from "./cli/build.ts";
import { cleanCommand } from "./cli/clean.ts";
import { psCommand } from "./cli/ps.ts";
import { runCommand } from "./cli/run.ts";
import { initCommand } from "./cli/init.ts";
import { validateCommand } from "./cli/validate.ts";
import { stepCommand } from "./cli/step.ts";
import { replCommand } from "./cli/repl.ts";
import { replayCommand } from "./cli/replay.ts";
import { k8sCommand } from "./cli/k8s.ts";
import { UnknownEnvError } from "./envs/registry.ts";
import { EnvTorchError } from "./protocol/errors.ts";

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  serveCommand,
  mcpCommand,
  listCommand,
  buildCommand,
  runCommand,
  psCommand,
  cleanCommand,
  benchCommand,
  initCommand,
  validateCommand,
  stepCommand,
  replCommand,
  replayCommand,
  k8sCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `envtorch ${VERSION}: isolated execution environments for agentic RL

Usage: envtorch <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Options:
  -h, --help     show this help (or a command's: envtorch <command> --help)
  -V, --version  print the version

Run 'envtorch <command> --help' for a command's options.`;
}

/** Runs the CLI with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    if (first === undefined) {
      console.error(help());
      return EXIT.usage;
    }
    console.log(help());
    return EXIT.ok;
  }
  if (first === "-V" || first === "--version" || first === "version") {
    console.log(`envtorch ${VERSION}`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    console.error(
      `envtorch: unknown command ${JSON.stringify(first)}\nRun 'envtorch --help' for the commands.`,
    );
    return EXIT.usage;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(command.usage);
      return EXIT.ok;
    }
    if (error instanceof UsageError || error instanceof UnknownEnvError) {
      console.error(
        `envtorch ${command.name}: ${error.message}\n` +
          `Run 'envtorch ${command.name} --help' for its usage.`,
      );
      return EXIT.usage;
    }
    const message = error instanceof EnvTorchError || error instanceof Error
      ? error.message
      : String(error);
    console.error(`envtorch ${command.name}: ${message}`);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
