/**
 * Reading a response body with a size cap, for answers from peers that are
 * not trusted to end them (a hostile Docker engine, a container's
 * `/health`): past the cap the body is cancelled and a typed error names
 * what was too large.
 *
 * @module
 */

/** A body was longer than the cap allowed. */
export class BodyTooLargeError extends Error {
  /** The cap, in bytes. */
  readonly limit: number;

  /** Names the body and the cap. */
  constructor(what: string, limit: number, options?: ErrorOptions) {
    super(`${what} sent more than ${limit} bytes: stopped reading`, options);
    this.name = "BodyTooLargeError";
    this.limit = limit;
  }
}

/**
 * Reads at most `maxBytes` of `body`; throws {@link BodyTooLargeError} (after
 * cancelling the rest) when there is more.
 *
 * @example
 * ```ts
 * import { readCappedBytes } from "./read_capped.ts";
 * const bytes = await readCappedBytes(new Response("hello").body, 16, "the answer");
 * console.log(bytes.length); // 5
 * ```
 */
export async function readCappedBytes(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  what: string,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new BodyTooLargeError(what, maxBytes);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** {@link readCappedBytes}, decoded as UTF-8 (invalid bytes replaced). */
export async function readCappedText(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  what: string,
): Promise<string> {
  return new TextDecoder().decode(await readCappedBytes(body, maxBytes, what));
}
