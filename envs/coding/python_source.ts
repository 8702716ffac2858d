/**
 * How the coding env starts its Python programs (the runner, the grader):
 * `python3 -c BOOTSTRAP` reads the program's source as the first frame on
 * fd 0, so it works the same from a checkout, JSR or a URL, and no file of
 * it is left where a worker could read it.
 *
 * @module
 */

/** The `-c` program that reads a 4-byte length and that many bytes of source on fd 0, then runs it as `filename`. */
export function bootstrapFor(filename: string): string {
  return `import os
def r(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            raise SystemExit(70)
        b += c
    return b
exec(compile(r(int.from_bytes(r(4), "big")), ${JSON.stringify(filename)}, "exec"))
`;
}

/** A loader of the source at `url` (a file or a URL), read once and kept; a failed read is retried. */
export function sourceLoader(url: URL): () => Promise<Uint8Array> {
  let source: Promise<Uint8Array> | undefined;
  return () =>
    source ??= (url.protocol === "file:"
      ? Deno.readFile(url)
      : fetch(url).then(async (res) =>
        new Uint8Array(await res.arrayBuffer())
      ))
      .catch((error) => {
        source = undefined;
        throw error;
      });
}
