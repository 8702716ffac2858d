/**
 * The bearer token a client sends to a server that asks for one (`envtorch
 * serve --token`, or `ENVTORCH_TOKEN` on the server).
 *
 * @module
 */

/**
 * `ENVTORCH_TOKEN` from the environment, or `undefined` when it is unset,
 * empty, or the environment cannot be read (no `--allow-env`).
 *
 * @example
 * ```ts
 * import { envToken } from "./token.ts";
 *
 * const token = envToken(); // undefined unless ENVTORCH_TOKEN is set
 * console.log(token === undefined || token.length > 0); // true
 * ```
 */
export function envToken(): string | undefined {
  try {
    return Deno.env.get("ENVTORCH_TOKEN") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `headers` plus `Authorization: Bearer <token>`, unless there is no token
 * or the headers already carry an Authorization.
 *
 * @example
 * ```ts
 * import { withToken } from "./token.ts";
 *
 * const headers = withToken({ "x-trace": "1" }, "s3cret-s3cret-s3cret");
 * console.log(headers.get("authorization")); // "Bearer s3cret-s3cret-s3cret"
 * ```
 */
export function withToken(headers: HeadersInit | undefined, token: string | undefined): Headers {
  const out = new Headers(headers);
  if (token && !out.has("authorization")) out.set("authorization", `Bearer ${token}`);
  return out;
}
