/**
 * `deno task test`: runs `deno test -A --parallel --doc` with the dot
 * reporter and prints a short log: the dots of passing tests joined on a few
 * lines, then every failure in full, then the counts line last. Arguments
 * are passed on to `deno test` (e.g. `--junit-path=report.xml`, a file or
 * `--filter`); the exit code is deno test's.
 *
 * @module
 */
const DOTS_PER_LINE = 100;
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--parallel", "--doc", "--reporter=dot", "--quiet", ...Deno.args],
  stdout: "piped",
  stderr: "piped",
}).spawn();

const encoder = new TextEncoder();
let dots = 0;
const write = (stream: typeof Deno.stdout, text: string) => stream.writeSync(encoder.encode(text));

/** Passes lines through, except one-character progress lines, which are joined. */
async function relay(source: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) {
  let buffer = "";
  for await (const chunk of source.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      line(buffer.slice(0, newline), sink);
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) line(buffer, sink);
}

function line(text: string, sink: typeof Deno.stdout) {
  const plain = text.replace(ANSI, "").trim();
  if (plain === "." || plain === "!" || plain === ",") {
    write(Deno.stdout, plain);
    if (++dots % DOTS_PER_LINE === 0) write(Deno.stdout, "\n");
    return;
  }
  if (dots % DOTS_PER_LINE !== 0) {
    write(Deno.stdout, "\n");
    dots = 0;
  }
  // "error: Test failed" repeats what the counts line and exit code say: keep the counts last.
  if (plain === "error: Test failed") return;
  write(sink, `${text}\n`);
}

await Promise.all([relay(child.stdout, Deno.stdout), relay(child.stderr, Deno.stderr)]);
if (dots % DOTS_PER_LINE !== 0) write(Deno.stdout, "\n");
Deno.exit((await child.status).code);
