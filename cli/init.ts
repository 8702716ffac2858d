/**
 * `envtorch init <name>`: scaffolds a new env folder from the templates in
 * cli/templates/env/, ready to be listed, served, built and validated.
 *
 * @module
 */
import { relative } from "node:path";
import { BUNDLED_ENVS_DIR } from "../envs/registry.ts";
import { type Command, onePositional, parseFlags, UsageError } from "./common.ts";
import { Output } from "./output.ts";

/** The folder the templates live in. */
export const TEMPLATES_DIR: URL = new URL("./templates/env/", import.meta.url);

/** The project's root folder (where main.ts and protocol/ are). */
const PROJECT_ROOT: URL = new URL("../", import.meta.url);

/** Template file and the name of the file it becomes (`{{snake}}` is the env name in snake_case). */
const FILES: [template: string, target: string][] = [
  ["models.ts.tmpl", "models.ts"],
  ["environment.ts.tmpl", "environment.ts"],
  ["client.ts.tmpl", "client.ts"],
  ["manifest.ts.tmpl", "manifest.ts"],
  ["mod.ts.tmpl", "mod.ts"],
  ["Dockerfile.tmpl", "Dockerfile"],
  ["README.md.tmpl", "README.md"],
  ["env_test.ts.tmpl", "{{snake}}_test.ts"],
];

const usage = `Usage: envtorch init <name> [--dir DIR] [--json]

Scaffolds a new env in DIR/<name>/ from envtorch's templates: models.ts (zod
schemas), environment.ts (reset, step, state), client.ts, manifest.ts,
mod.ts, Dockerfile, README.md and a <name>_test.ts that passes. The env is
then listed, served, built and validated with no further wiring:

  deno test -A envs/<name>/
  envtorch serve <name>
  envtorch validate <name>

<name>: lowercase letters, digits and dashes, starting with a letter (e.g.
guess-number). An existing folder is never overwritten.

Options:
  --dir DIR    the folder to create <name>/ in (default: the envs/ folder
               envtorch lists envs from)
  --json       print what was created as JSON
  -h, --help   show this help`;

/** Names of the forms of an env name the templates use. */
export interface EnvNames {
  /** As typed: `guess-number`. */
  name: string;
  /** `GuessNumber`, for classes and schemas. */
  Pascal: string;
  /** `guessNumber`, for values. */
  camel: string;
  /** `guess_number`, for file names. */
  snake: string;
}

const VALID_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** A valid name close to an invalid one (`guess_number`, `GuessNumber` -> `guess-number`). */
function suggestName(name: string): string | undefined {
  const fixed = name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return fixed !== name && VALID_NAME.test(fixed) && fixed.length <= 63 ? fixed : undefined;
}

/** Checks an env name and derives its other forms; throws UsageError for a bad name. */
export function envNames(name: string): EnvNames {
  if (!VALID_NAME.test(name) || name.length > 63) {
    const suggestion = suggestName(name);
    throw new UsageError(
      `Invalid env name ${
        JSON.stringify(name)
      }: use lowercase letters, digits and single dashes, starting with a letter (at most 63 characters)${
        suggestion ? `; did you mean ${suggestion}?` : ""
      }`,
    );
  }
  const parts = name.split("-");
  const Pascal = parts.map((p) => p[0]!.toUpperCase() + p.slice(1)).join("");
  return {
    name,
    Pascal,
    camel: Pascal[0]!.toLowerCase() + Pascal.slice(1),
    snake: parts.join("_"),
  };
}

/** Options of {@link scaffoldEnv}. */
export interface ScaffoldOptions {
  /**
   * The folder to create the env's folder in.
   * @default the bundled envs/ folder
   */
  dir?: string;
  /**
   * Run `deno fmt` on the new files (names of any length change how lines
   * break, so the templates are formatted after filling in).
   * @default true
   */
  format?: boolean;
}

/** What {@link scaffoldEnv} created. */
export interface Scaffold {
  /** The env's name. */
  name: string;
  /** The folder created. */
  folder: string;
  /** The files written, as paths. */
  files: string[];
  /** Whether `deno fmt` ran on them (false: no deno executable was found). */
  formatted: boolean;
}

/**
 * Creates `<dir>/<name>/` from the templates. Refuses a bad name or an
 * existing folder; on a failure midway, removes what it created.
 */
export async function scaffoldEnv(name: string, options: ScaffoldOptions = {}): Promise<Scaffold> {
  const names = envNames(name);
  const parent = options.dir ?? defaultDir();
  const folder = `${parent.replace(/\/+$/, "")}/${name}`;
  try {
    await Deno.lstat(folder);
    throw new UsageError(`${folder} already exists: choose another name or remove it`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    if (!(await Deno.stat(parent)).isDirectory) throw new UsageError(`${parent} is not a folder`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new UsageError(`${parent} does not exist`);
    throw error;
  }
  let root = relative(await Deno.realPath(parent) + `/${name}`, PROJECT_ROOT.pathname);
  root = root === "" ? "./" : `${root}/`;
  const vars: Record<string, string> = { ...names, root };
  const fill = (text: string) => text.replace(/\{\{(\w+)\}\}/g, (m, key: string) => vars[key] ?? m);
  await Deno.mkdir(folder);
  const files: string[] = [];
  try {
    for (const [template, target] of FILES) {
      const text = await Deno.readTextFile(new URL(template, TEMPLATES_DIR));
      const path = `${folder}/${fill(target)}`;
      await Deno.writeTextFile(path, fill(text), { createNew: true });
      files.push(path);
    }
  } catch (error) {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
    throw error;
  }
  const formatted = options.format === false ? false : await denoFmt(files);
  return { name, folder, files, formatted };
}

/** Runs `deno fmt` (with the project's settings) on TypeScript and Markdown files. */
async function denoFmt(files: string[]): Promise<boolean> {
  const targets = files.filter((f) => /\.(ts|md)$/.test(f));
  const exec = Deno.execPath();
  const deno = /(^|\/)deno(\.exe)?$/.test(exec) ? exec : "deno";
  const args = ["fmt", "--quiet"];
  const config = new URL("deno.json", PROJECT_ROOT);
  if (config.protocol === "file:" && (await exists(config))) args.push("--config", config.pathname);
  try {
    const { success } = await new Deno.Command(deno, {
      args: [...args, ...targets],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function exists(path: URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function defaultDir(): string {
  if (BUNDLED_ENVS_DIR.protocol === "file:") return BUNDLED_ENVS_DIR.pathname.replace(/\/$/, "");
  return "envs";
}

export const initCommand: Command = {
  name: "init",
  summary: "scaffold a new env from the template",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      dir: { type: "string" },
      json: { type: "boolean" },
    });
    const name = onePositional(positionals, "env name", "create");
    const out = new Output({ json: values.json });
    const made = await scaffoldEnv(name, { dir: values.dir });
    const cwd = Deno.cwd();
    const show = (p: string) => p.startsWith(`${cwd}/`) ? p.slice(cwd.length + 1) : p;
    // A bundled env is served by name; one elsewhere by its manifest's path.
    const bundled = values.dir === undefined;
    const env = bundled ? made.name : show(`${made.folder}/manifest.ts`);
    out.json(made);
    out.line(`Created ${show(made.folder)}/ with ${made.files.length} files:`);
    for (const f of made.files) out.line(`  ${show(f)}`);
    if (!made.formatted) {
      out.note("No deno executable was found to format them: run deno fmt on them");
    }
    out.line(`
Next:
  deno test -A ${show(made.folder)}/
  envtorch serve ${env}
  envtorch validate ${env}
  envtorch step ${env} --action '{"message": "hi"}'`);
    return 0;
  },
};
