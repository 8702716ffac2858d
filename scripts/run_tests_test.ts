/** `scripts/run_tests.ts` (`deno task test`): short output a failure stands out in. */
import assert from "node:assert/strict";

Deno.test("deno task test's runner prints a short log: dots, failures in full, counts last", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-testlog-" });
  try {
    const tests = Array.from({ length: 150 }, (_, i) => `Deno.test("t${i}", () => {});`);
    tests.push(`Deno.test("the one that fails", () => { throw new Error("boom"); });`);
    await Deno.writeTextFile(`${dir}/many_test.ts`, tests.join("\n") + "\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./run_tests.ts", import.meta.url).pathname,
        `--junit-path=${dir}/report.xml`,
        "many_test.ts",
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, "a failure fails the run");
    const lines = stdout.trimEnd().split("\n");
    assert.ok(lines.length < 25, `${lines.length} lines:\n${stdout}`);
    assert.match(lines[0]!, /^\.{100}$/, "passing tests are dots, 100 a line");
    assert.match(stdout + stderr, /the one that fails.*\n[\s\S]*Error: boom/);
    assert.match(lines.at(-1)!, /^FAILED \| 150 passed \| 1 failed/, "the counts line is last");
    const report = await Deno.readTextFile(`${dir}/report.xml`);
    assert.match(report, /<failure/, "--junit-path is passed on");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
