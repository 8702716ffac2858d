/**
 * Caps what messages quote. An error about an oversized or malformed input
 * must not carry the input back in full: a refused 2 MB action should give a
 * line a person can read, not a 2 MB line.
 *
 * @module
 */

/** The most characters of an input an error message or log line quotes. */
export const MAX_QUOTE_CHARS = 200;

/** The most characters an error message has in all. */
export const MAX_MESSAGE_CHARS = 2000;

/**
 * Shortens `text` to at most `max` characters (plus a note of how much was
 * left out).
 *
 * @example
 * ```ts
 * import { clip } from "./quote.ts";
 * console.log(clip("x".repeat(1000), 10)); // "xxxxxxxxxx… (990 more characters)"
 * ```
 */
export function clip(text: string, max: number = MAX_QUOTE_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * A value as short JSON for a message: `JSON.stringify`, clipped to `max`
 * characters.
 *
 * @example
 * ```ts
 * import { quote } from "./quote.ts";
 * console.log(quote({ message: "hi" })); // {"message":"hi"}
 * ```
 */
export function quote(value: unknown, max: number = MAX_QUOTE_CHARS): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return clip(text ?? String(value), max);
}
