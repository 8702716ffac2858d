/**
 * Runs every benchmark in this folder (or the ones named as arguments) and
 * prints what each measured. Results and their commands are recorded by
 * hand in bench/RESULTS.md.
 *
 * Run: deno task bench [name ...]
 *
 * @module
 */
const here = new URL("./", import.meta.url);
const wanted = Deno.args;
const names = (await Array.fromAsync(Deno.readDir(here)))
  .map((e) => e.name)
  .filter((n) =>
    n.endsWith(".ts") && n !== "run_all.ts" && !n.endsWith("_test.ts") && !n.startsWith("_")
  )
  .filter((n) => wanted.length === 0 || wanted.some((w) => n.startsWith(w)))
  .sort();
if (names.length === 0) {
  console.error(`No benchmark matches ${wanted.join(" ")}`);
  Deno.exit(2);
}
const failed: string[] = [];
for (const name of names) {
  console.log(`\n== bench/${name} ==`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(name, here).pathname],
    stdin: "null",
  }).spawn().status;
  if (code !== 0) failed.push(`${name} (exit ${code})`);
}
if (failed.length) {
  console.error(`\nFailed: ${failed.join(", ")}`);
  Deno.exit(1);
}
