/**
 * `deno task compile`: builds the single `envtorch` executable in dist/,
 * with every bundled env, the coding runner and the Dockerfiles included.
 *
 * `deno compile` downloads a `denort` runtime from dl.deno.land. Where that
 * cannot be reached (a machine without internet), this says so plainly and
 * skips, exiting 0 with no binary; `deno run -A main.ts` does everything the
 * binary does.
 *
 * @module
 */
const root = new URL("../", import.meta.url).pathname;
const output = `${root}dist/envtorch`;
const args = [
  "compile",
  "--allow-all",
  "--include",
  "envs",
  "--include",
  "Dockerfile.base",
  "--include",
  "deno.json",
  "--include",
  "cli/templates",
  "--output",
  output,
  "main.ts",
];
const out = await new Deno.Command(Deno.execPath(), {
  args,
  cwd: root,
  env: { NO_COLOR: "1" },
  stdout: "inherit",
  stderr: "piped",
}).output();
const stderr = new TextDecoder().decode(out.stderr);
if (out.code === 0) {
  await Deno.stderr.write(out.stderr);
  console.log(`Built ${output}`);
  Deno.exit(0);
}
const download = stderr.match(/Download (\S+)/)?.[1];
const offline = /dns error|failed to lookup|error sending request|Connection refused|timed out/i
  .test(
    stderr,
  );
if (download && offline) {
  try {
    for await (const e of Deno.readDir(`${root}dist`)) {
      if (e.name.startsWith("envtorch.tmp-")) await Deno.remove(`${root}dist/${e.name}`);
    }
  } catch {
    // No dist folder: nothing to tidy.
  }
  console.log(
    `SKIPPED: deno compile needs ${download}, which this machine cannot download (no internet). ` +
      "No binary was built; `deno run -A main.ts` does everything the binary does.",
  );
  Deno.exit(0);
}
await Deno.stderr.write(out.stderr);
Deno.exit(out.code);
