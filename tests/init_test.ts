/**
 * `envtorch init` end to end, in a temp copy of the project (so a failed
 * run never leaves a stray env in envs/, where the registry would pick it
 * up): the scaffolded env passes deno fmt --check, lint, check and its own
 * tests, and is then listed, served, validated and stepped with no wiring.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";
import { runEnvtorch, runIn } from "./helpers/cli_run.ts";

const NAME = "guess-word";
const SKIP = new Set([
  ".git",
  "tests",
  "bench",
  "examples",
  "scripts",
  "dist",
  "node_modules",
  ".cache",
]);

/** Copies the project (what main.ts needs) into `to`. */
async function copyProject(from: string, to: string): Promise<void> {
  for await (const entry of Deno.readDir(from)) {
    if (SKIP.has(entry.name)) continue;
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    if (entry.isDirectory) {
      await Deno.mkdir(dst);
      await copyProject(src, dst);
    } else if (entry.isFile) {
      await Deno.copyFile(src, dst);
    }
  }
}

Deno.test("init: a new env passes fmt, lint, check and its tests, then lists, serves, validates and steps", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "envtorch-init-" });
  const deno = (args: string[]) => runIn(root, [Deno.execPath(), ...args]);
  try {
    await copyProject(ROOT.replace(/\/$/, ""), root);
    const folder = `envs/${NAME}`;

    await t.step("init creates the folder from the templates", async () => {
      const { code, stdout, stderr } = await runEnvtorch(["init", NAME], { root });
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`^Created envs/${NAME}/ with 8 files:$`, "m"));
      const files = [...Deno.readDirSync(`${root}/${folder}`)].map((e) => e.name).sort();
      assert.deepEqual(files, [
        "Dockerfile",
        "README.md",
        "client.ts",
        "environment.ts",
        "guess_word_test.ts",
        "manifest.ts",
        "mod.ts",
        "models.ts",
      ]);
      const dockerfile = await Deno.readTextFile(`${root}/${folder}/Dockerfile`);
      assert.match(dockerfile, /^FROM envtorch-base:latest$/m);
      assert.match(dockerfile, /^CMD \["serve", "guess-word"\]$/m);
      const models = await Deno.readTextFile(`${root}/${folder}/models.ts`);
      assert.match(models, /export const GuessWordAction = Action\.extend/);
      assert.match(models, /from "\.\.\/\.\.\/protocol\/models\.ts"/);
    });

    await t.step("deno fmt --check, lint and check pass on the folder", async () => {
      for (
        const args of [
          ["fmt", "--check", folder],
          ["lint", folder],
          [
            "check",
            ...["models", "environment", "client", "manifest", "mod"].map((f) =>
              `${folder}/${f}.ts`
            ),
          ],
        ]
      ) {
        const { code, stderr } = await deno(args);
        assert.equal(code, 0, `deno ${args.join(" ")}: ${stderr}`);
      }
    });

    await t.step("its generated test passes", async () => {
      const { code, stdout, stderr } = await deno(["test", "-A", folder]);
      assert.equal(code, 0, stdout + stderr);
      assert.match(stdout, /3 passed \| 0 failed/);
    });

    await t.step("list shows it", async () => {
      const { code, stdout } = await runEnvtorch(["list"], { root });
      assert.equal(code, 0);
      assert.match(
        stdout,
        /^guess-word\s+guess-word-env:latest\s+yes\s+Replies to each message in upper case$/m,
      );
    });

    await t.step("serve + validate by URL pass", async () => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", `${root}/main.ts`, "serve", NAME, "--port", "0"],
        cwd: root,
        stdout: "piped",
        stderr: "inherit",
        stdin: "null",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      try {
        let first = "";
        while (!first.includes("\n")) {
          const { value, done } = await reader.read();
          if (done) break;
          first += value;
        }
        const url = first.match(/serving guess-word on (http:\S+)/)?.[1];
        assert.ok(url, first);
        const { code, stdout } = await runEnvtorch(["validate", url], { root });
        assert.equal(code, 0, stdout);
        assert.match(stdout, / 0 failed, [01] skipped/);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await reader.cancel();
      }
    });

    await t.step("validate by name uses its manifest (exampleAction, deterministic)", async () => {
      const { code, stdout } = await runEnvtorch(["validate", NAME], { root });
      assert.equal(code, 0, stdout);
      assert.match(
        stdout,
        /^ok\s+action\s.*\{"message":"Hello"\} \(the guess-word manifest's exampleAction\)$/m,
      );
      assert.match(stdout, /^ok\s+determinism\s/m);
    });

    await t.step("an episode runs against it", async () => {
      const { code, stdout } = await runEnvtorch(
        ["step", NAME, "--seed", "1", "--action", '{"message": "hi"}', "--state"],
        { root },
      );
      assert.equal(code, 0);
      assert.match(
        stdout,
        /^step 1\s+reward 1\s+done false\s+\{"reply":"HI","step":1,"metadata":\{\}\}$/m,
      );
      assert.match(stdout, /"step_count":1,"seed":1\}$/m);
    });

    await t.step("init refuses an existing folder and bad names, exit 2", async () => {
      const cases: [string[], RegExp][] = [
        [["init", NAME], /already exists/],
        [["init", "Guess"], /Invalid env name "Guess"/],
        [
          ["init", "guess_number"],
          /Invalid env name "guess_number".*; did you mean guess-number\?$/m,
        ],
        [["init", "GuessNumber"], /did you mean guess-number\?$/m],
        [["init", "1st"], /Invalid env name/],
        [["init", "a--b"], /Invalid env name/],
        [["init", "trailing-"], /Invalid env name/],
        [["init", "x".repeat(64)], /at most 63 characters/],
        [["init", "ok-name", "--dir", `${root}/nowhere`], /does not exist/],
        [["init"], /Missing the env name to create/],
        [["init", "a", "b"], /Expected one env name/],
      ];
      for (const [args, pattern] of cases) {
        const { code, stderr } = await runEnvtorch(args, { root });
        assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
        assert.match(stderr, pattern);
        assert.match(stderr, /Run 'envtorch init --help'/);
      }
      const left = [...Deno.readDirSync(`${root}/envs`)].map((e) => e.name);
      assert.ok(!left.includes("Guess") && !left.includes("ok-name"), "nothing made on refusal");
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("init --dir puts the env elsewhere, importing envtorch by relative path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-init-dir-" });
  try {
    const { code, stdout } = await runEnvtorch(["init", "elsewhere", "--dir", dir, "--json"]);
    assert.equal(code, 0);
    const made = JSON.parse(stdout);
    assert.equal(made.folder, `${dir}/elsewhere`);
    assert.equal(made.files.length, 8);
    assert.equal(made.formatted, true);
    const models = await Deno.readTextFile(`${dir}/elsewhere/models.ts`);
    const core = models.match(/from "(.*protocol\/models\.ts)"/)![1]!;
    assert.equal(new URL(core, `file://${dir}/elsewhere/`).pathname, `${ROOT}protocol/models.ts`);
    const { code: testCode, stdout: out, stderr } = await runIn(ROOT, [
      Deno.execPath(),
      "test",
      "-A",
      `${dir}/elsewhere`,
    ]);
    assert.equal(testCode, 0, out + stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init --dir prints next steps that work from outside the checkout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-init-next-" });
  try {
    // Run as a user would, from the folder the env is created in.
    const envtorch = (args: string[]) =>
      runIn(dir, [Deno.execPath(), "run", "-A", "--quiet", `${ROOT}main.ts`, ...args]);
    const { code, stdout, stderr } = await envtorch(["init", "dice", "--dir", dir]);
    assert.equal(code, 0, stderr);
    const next = stdout.slice(stdout.indexOf("Next:")).split("\n").slice(1).map((l) => l.trim())
      .filter(Boolean);
    assert.deepEqual(next, [
      "deno test -A dice/",
      "envtorch serve dice/manifest.ts",
      "envtorch validate dice/manifest.ts",
      `envtorch step dice/manifest.ts --action '{"message": "hi"}'`,
    ]);
    const test = await runIn(dir, [Deno.execPath(), "test", "-A", "dice/"]);
    assert.equal(test.code, 0, test.stdout + test.stderr);
    const validate = await envtorch(["validate", "dice/manifest.ts"]);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, / 0 failed/);
    const step = await envtorch(["step", "dice/manifest.ts", "--action", '{"message": "hi"}']);
    assert.equal(step.code, 0, step.stdout + step.stderr);
    assert.match(step.stdout, /^step 1\s+reward 1\s+done false\s+\{"reply":"HI"/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
