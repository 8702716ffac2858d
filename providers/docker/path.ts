/**
 * A tagged template for Engine API paths that encodes each parameter, so an
 * id or name can never change which route a request hits.
 *
 * @module
 */

/**
 * Builds a request path, percent-encoding every interpolated value.
 * Values that are empty, `.` or `..` are refused: they would change the route.
 *
 * @example
 * ```ts
 * import { path } from "./path.ts";
 * const id = "abc/../../images";
 * console.log(path`/containers/${id}/json`); // /containers/abc%2F..%2F..%2Fimages/json
 * ```
 */
export function path(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    const text = String(value);
    if (text === "" || text === "." || text === "..") {
      throw new TypeError(
        `Invalid path parameter ${JSON.stringify(text)} in ${strings.join("${...}")}`,
      );
    }
    out += encodeURIComponent(text) + (strings[i + 1] ?? "");
  });
  return out;
}
