/**
 * Prints "N passed, N failed" from a `deno test --junit-path` report, and
 * exits non-zero when anything failed or the test run itself failed.
 *
 * Usage: deno run --allow-read .ci/summary.ts REPORT.xml EXIT_STATUS
 */
const [path, statusText = "0"] = Deno.args;
const status = Number(statusText);
let xml = "";
try {
  xml = await Deno.readTextFile(path!);
} catch {
  // No report: the run died before writing one.
}
const cases = xml.match(/<testcase\b[\s\S]*?<\/testcase>/g) ?? [];
let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];
for (const c of cases) {
  const name = c.match(/name="([^"]*)"/)?.[1] ?? "?";
  if (/<failure\b|<error\b/.test(c)) {
    failed++;
    failures.push(name);
  } else if (/<skipped\b/.test(c)) skipped++;
  else passed++;
}
if (status !== 0 && failed === 0) {
  failed = 1;
  failures.push(`the test run exited with status ${status} (see the output above)`);
}
if (failures.length) console.log(`failed:\n${failures.map((f) => `  - ${f}`).join("\n")}`);
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed > 0 ? 1 : 0);
