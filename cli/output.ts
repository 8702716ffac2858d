/**
 * What the CLI prints and where: results on stdout (human lines, or JSON
 * with `--json`), notes and live progress on stderr. Progress shows only on
 * a terminal: never with `--json`, and not when stdout or stderr is a pipe or
 * a file, so scripts read clean output. `ENVTORCH_PROGRESS=1` forces it on
 * (and `=0` off), `NO_COLOR` turns colour off.
 *
 * @example
 * ```ts
 * import { Output } from "./output.ts";
 * const out = new Output({ json: false });
 * const task = out.task("validate echo", { total: 2 });
 * task.update("http.health", 1);
 * task.update("http.metadata", 2);
 * task.done();
 * out.line(`${out.tag("ok")} 2 checks`);
 * ```
 *
 * @module
 */

/** Options of {@link Output}. */
export interface OutputOptions {
  /**
   * Machine mode: {@link Output.json} writes JSON on stdout; human lines,
   * notes and progress are dropped.
   * @default false
   */
  json?: boolean;
  /**
   * Show live progress on stderr.
   * @default true when stdout and stderr are terminals and not in JSON mode ($ENVTORCH_PROGRESS overrides)
   */
  progress?: boolean;
  /**
   * Colour status tags.
   * @default true when stdout is a terminal and $NO_COLOR is unset
   */
  color?: boolean;
}

/** A status tag: `ok`, `FAIL` or `skip`. */
export type Tag = "ok" | "fail" | "skip";

/** A progress line on stderr, rewritten in place. */
export interface ProgressTask {
  /** Shows `text` (and `current/total` when a total was given). */
  update(text: string, current?: number): void;
  /** Clears the line; `text`, if given, is printed as a note instead. */
  done(text?: string): void;
}

const encoder = new TextEncoder();
const CLEAR = "\r\x1b[2K";

/** The CLI's output: one per command run. */
export class Output {
  /** Whether the command runs in JSON mode. */
  readonly isJson: boolean;
  /** Whether progress is shown. */
  readonly showProgress: boolean;
  /** Whether status tags are coloured. */
  readonly color: boolean;
  #progressLive = false;

  /** Decides the modes from the options, the terminal and the environment. */
  constructor(options: OutputOptions = {}) {
    this.isJson = options.json ?? false;
    const forced = envFlag("ENVTORCH_PROGRESS");
    this.showProgress = options.progress ??
      (!this.isJson && (forced ?? (isTerminal(Deno.stdout) && isTerminal(Deno.stderr))));
    this.color = options.color ??
      (!this.isJson && isTerminal(Deno.stdout) && !Deno.env.get("NO_COLOR"));
  }

  /** A human line on stdout (dropped in JSON mode). */
  line(text = ""): void {
    if (this.isJson) return;
    this.#clearProgress();
    console.log(text);
  }

  /** A human note on stderr (dropped in JSON mode). */
  note(text: string): void {
    if (this.isJson) return;
    this.#clearProgress();
    console.error(text);
  }

  /** One JSON value on one stdout line (JSON mode only). */
  json(value: unknown): void {
    if (!this.isJson) return;
    console.log(JSON.stringify(value));
  }

  /** A status tag padded to one width: `ok  `, `FAIL`, `skip`, coloured when enabled. */
  tag(status: Tag): string {
    const text = status === "fail" ? "FAIL" : status.padEnd(4);
    if (!this.color) return text;
    const code = status === "ok" ? 32 : status === "fail" ? 31 : 33;
    return `\x1b[${code}m${text}\x1b[0m`;
  }

  /** Starts a progress line for a long piece of work. */
  task(label: string, options: { total?: number } = {}): ProgressTask {
    const total = options.total;
    const started = performance.now();
    return {
      update: (text, current) => {
        if (!this.showProgress) return;
        const count = total !== undefined && current !== undefined ? ` [${current}/${total}]` : "";
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        this.#write(`${CLEAR}${label}${count} ${text} (${seconds} s)`);
        this.#progressLive = true;
      },
      done: (text) => {
        this.#clearProgress();
        if (text !== undefined) this.note(text);
      },
    };
  }

  #clearProgress(): void {
    if (!this.#progressLive) return;
    this.#progressLive = false;
    this.#write(CLEAR);
  }

  #write(text: string): void {
    try {
      Deno.stderr.writeSync(encoder.encode(text));
    } catch {
      // A closed stderr must not fail the command.
    }
  }
}

function isTerminal(stream: { isTerminal(): boolean }): boolean {
  try {
    return stream.isTerminal();
  } catch {
    return false;
  }
}

function envFlag(name: string): boolean | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get(name);
  } catch {
    return undefined;
  }
  if (value === undefined || value === "") return undefined;
  return !["0", "false", "no", "off"].includes(value.toLowerCase());
}
