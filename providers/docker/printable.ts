/**
 * Text that came from the engine (container names, images, error messages,
 * log lines) made safe to print on a terminal: control characters, which
 * could move the cursor, rewrite earlier lines or set the window title, are
 * replaced.
 *
 * @module
 */

// C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides
// that reorder what a terminal shows.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Replaces control characters with `?`, keeping tabs and newlines unless
 * `singleLine` is set (then they become spaces).
 *
 * @example
 * ```ts
 * import { printable } from "./printable.ts";
 * console.log(printable("evil\x1b]0;title\x07name")); // evil?]0;title?name
 * ```
 */
export function printable(text: string, options: { singleLine?: boolean } = {}): string {
  const out = text.replace(CONTROL, "?");
  return options.singleLine ? out.replace(/[\t\n]/g, " ") : out;
}
