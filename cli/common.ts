/**
 * What every CLI command shares: argument parsing with clear usage errors,
 * and the exit codes.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import denoJson from "../deno.json" with { type: "json" };

/** The envtorch version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

/** A mistake in how the command was called: exit code 2, with a pointer to `--help`. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `-h`/`--help` was given: the CLI prints the command's usage and exits 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
}

/** A command of the CLI. */
export interface Command {
  /** Name typed after `envtorch`. */
  name: string;
  /** One line for `envtorch --help`. */
  summary: string;
  /** Full help text. */
  usage: string;
  /** Runs the command; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses flags strictly; unknown or malformed flags raise UsageError, and
 * `-h`/`--help` raises HelpRequested (main prints the command's usage).
 */
export function parseFlags<O extends Options>(args: string[], options: O) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested();
  return parsed;
}

/** The one positional argument a command takes (`what`, e.g. "URL or env"). */
export function onePositional(positionals: string[], what: string, verb: string): string {
  if (positionals.length === 1) return positionals[0]!;
  throw new UsageError(
    positionals.length
      ? `Expected one ${what}, got ${positionals.join(" ")}`
      : `Missing the ${what} to ${verb}`,
  );
}

/** Refuses positional arguments for a command that takes none. */
export function noPositionals(positionals: string[]): void {
  if (positionals.length) throw new UsageError(`Unexpected argument ${positionals[0]}`);
}

/** Reads a flag that must be an integer in a range. */
export function intFlag(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Reads an environment variable that must be an integer in a range (`PORT`). */
export function envInt(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(
      `$${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Reads a flag that must be a positive number. */
export function numberFlag(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min) {
    throw new UsageError(
      `--${name} must be a number of at least ${min}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}
