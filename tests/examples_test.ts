/**
 * Every example runs to completion, as `deno task examples` runs it. An
 * example whose first lines say `Needs: docker` runs where an engine
 * answers (always under CI=true) and is skipped with the reason elsewhere.
 */
import assert from "node:assert/strict";
import { IN_CI, NO_DOCKER } from "./docker_helpers.ts";
import { ROOT } from "./helpers/cli.ts";

const dir = `${ROOT}examples/`;
const examples = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && n !== "run_all.ts")
  .sort();

for (const name of examples) {
  const head = Deno.readTextFileSync(dir + name).slice(0, 600);
  const needsDocker = /Needs: docker/i.test(head);
  const skip = needsDocker && NO_DOCKER !== undefined && !IN_CI;
  Deno.test({
    name: `example ${name} runs${skip ? ` (skipped: needs Docker; ${NO_DOCKER})` : ""}`,
    ignore: skip,
    async fn() {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", dir + name],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
      assert.ok(text.trim().length > 0, "the example printed what it did");
    },
  });
}

Deno.test("deno task examples runs them all", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "examples"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text);
  assert.match(text, /All \d+ examples ran|skipped \(needs a Docker engine/);
});
