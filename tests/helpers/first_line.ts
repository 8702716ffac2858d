/**
 * Reads a child's output up to its first line (a started `envtorch run` or
 * test fixture prints its URL or container id there), leaving the rest of the
 * stream to the caller.
 *
 * @module
 */

/** The first line of `stream`, without its newline; the stream stays open. */
export async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return text.split("\n")[0]!;
}
