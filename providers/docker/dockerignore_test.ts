import assert from "node:assert/strict";
import { DockerIgnore } from "./dockerignore.ts";

Deno.test(".dockerignore matching", async (t) => {
  const ignore = new DockerIgnore(`
# comment
.git
/dist/
bench
**/*_test.ts
*.tar
!providers/keep_test.ts
`);
  await t.step("named folders and everything in them are out", () => {
    assert.equal(ignore.ignores(".git"), true);
    assert.equal(ignore.ignores(".git/objects/ab"), true);
    assert.equal(ignore.ignores("dist/envtorch"), true);
    assert.equal(ignore.ignores("bench/RESULTS.md"), true);
  });
  await t.step("** matches at any depth, * within one level", () => {
    assert.equal(ignore.ignores("core/client_test.ts"), true);
    assert.equal(ignore.ignores("a_test.ts"), true);
    assert.equal(ignore.ignores("envs/echo/x_test.ts"), true);
    assert.equal(ignore.ignores("image.tar"), true);
    assert.equal(ignore.ignores("sub/image.tar"), false);
  });
  await t.step("other files stay in", () => {
    assert.equal(ignore.ignores("core/client.ts"), false);
    assert.equal(ignore.ignores("main.ts"), false);
    assert.equal(ignore.ignores("benchmarks.md"), false);
    assert.equal(ignore.ignores("envs/echo/.gitkeep"), false);
  });
  await t.step("! brings a file back, the last match wins", () => {
    assert.equal(ignore.ignores("providers/keep_test.ts"), false);
    const again = new DockerIgnore("!a.txt\n*.txt");
    assert.equal(again.ignores("a.txt"), true);
  });
});
