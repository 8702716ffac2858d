/**
 * The first place two JSON values differ, with rules for what to ignore:
 * replay uses it to say where a re-run episode diverged, and validate to
 * compare two resets with the same seed.
 *
 * @module
 */
import { isPlainObject, joinPath } from "./json_schema.ts";

/** A path into a JSON value: property names and array indexes. */
export type JsonPath = (string | number)[];

/** Where and how two values differ. */
export interface Difference {
  /** Path of the first difference, e.g. `observation.metadata.step`. */
  path: string;
  /** The same path as segments. */
  segments: JsonPath;
  /** The value expected there (`undefined`: the field was absent). */
  expected: unknown;
  /** The value found there (`undefined`: the field is absent). */
  actual: unknown;
}

/** Options of {@link firstDifference}. */
export interface DiffOptions {
  /** Paths to skip: a difference at or under a path this returns true for is ignored. */
  ignore?: (path: JsonPath) => boolean;
  /**
   * Largest absolute difference between two numbers that still counts as equal.
   * @default 0
   */
  tolerance?: number;
}

/**
 * Finds the first difference between `expected` and `actual` (object keys
 * in sorted order, so the answer does not depend on key order), or
 * `undefined` when they are equal under the options.
 *
 * @example
 * ```ts
 * import { firstDifference } from "./json_diff.ts";
 * const d = firstDifference({ a: 1, b: [1, 2] }, { a: 1, b: [1, 3] });
 * console.log(d?.path, d?.expected, d?.actual); // b[1] 2 3
 * ```
 */
export function firstDifference(
  expected: unknown,
  actual: unknown,
  options: DiffOptions = {},
): Difference | undefined {
  return walk(expected, actual, [], options);
}

/** Renders a path as `a.b[2].c`. */
export function formatPath(segments: JsonPath): string {
  return segments.reduce<string>((path, key) => joinPath(path, key), "");
}

/**
 * Makes an ignore rule from dotted patterns: `*` matches one segment (a name
 * or an index), `**` any number of them, e.g. `observation.metadata.run_id`,
 * `**.duration_ms`, `state.*.id`.
 */
export function pathMatcher(patterns: string[]): (path: JsonPath) => boolean {
  const compiled = patterns.map((p) => p.split(".").filter((s) => s.length > 0));
  return (path) => {
    const segments = path.map(String);
    return compiled.some((pattern) => matches(pattern, segments));
  };
}

function matches(pattern: string[], path: string[]): boolean {
  if (pattern.length === 0) return path.length === 0;
  const [head, ...rest] = pattern;
  if (head === "**") {
    for (let i = 0; i <= path.length; i++) {
      if (matches(rest, path.slice(i))) return true;
    }
    return false;
  }
  if (path.length === 0) return false;
  return (head === "*" || head === path[0]) && matches(rest, path.slice(1));
}

function walk(
  expected: unknown,
  actual: unknown,
  path: JsonPath,
  options: DiffOptions,
): Difference | undefined {
  if (path.length > 0 && options.ignore?.(path)) return undefined;
  const differ = (): Difference => ({
    path: formatPath(path),
    segments: [...path],
    expected,
    actual,
  });
  if (typeof expected === "number" && typeof actual === "number") {
    const tolerance = options.tolerance ?? 0;
    if (expected === actual || Math.abs(expected - actual) <= tolerance) return undefined;
    return differ();
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const d = walk(expected[i], actual[i], [...path, i], options);
      if (d) return d;
    }
    return undefined;
  }
  if (isPlainObject(expected) && isPlainObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    for (const key of keys) {
      const d = walk(
        Object.hasOwn(expected, key) ? expected[key] : undefined,
        Object.hasOwn(actual, key) ? actual[key] : undefined,
        [...path, key],
        options,
      );
      if (d) return d;
    }
    return undefined;
  }
  return expected === actual ? undefined : differ();
}
