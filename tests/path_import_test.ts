/**
 * A script outside the checkout imports envtorch by absolute path or by
 * file:// URL with no deno.json of its own (`--no-config`), type-checks, and
 * plays an echo episode in-process.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";
import { runIn } from "./helpers/cli_run.ts";

const script = (specifier: string) =>
  `import { createApp, EchoEnv, EchoEnvironment, echoModels, inProcess } from ${
    JSON.stringify(specifier)
  };
await using app = createApp(() => new EchoEnvironment(), echoModels);
await using env = new EchoEnv({ transport: inProcess(app) });
await env.reset();
let total = 0;
for (const message of ["hi", "there"]) total += (await env.step({ message })).reward ?? 0;
console.log(JSON.stringify({ total: Math.round(total * 10) / 10, steps: (await env.state()).step_count }));
`;

for (
  const [how, specifier] of [
    ["an absolute path", `${ROOT}mod.ts`],
    ["a file:// URL", new URL("../mod.ts", import.meta.url).href],
  ]
) {
  Deno.test(`a script with no config imports mod.ts by ${how} and plays an echo episode`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "envtorch-import-" });
    try {
      await Deno.writeTextFile(`${dir}/episode.ts`, script(specifier!));
      const deno = Deno.execPath();
      const check = await runIn(dir, [deno, "check", "--no-config", "episode.ts"]);
      assert.equal(check.code, 0, check.stderr);
      const run = await runIn(dir, [deno, "run", "--no-config", "-A", "--quiet", "episode.ts"]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { total: 0.7, steps: 2 });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
