/**
 * The docs users read live in the repository: nothing tracked points at the
 * team's private briefs, and the README links the docs/ pages.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";

// Built from parts so this file does not match itself.
const FORBIDDEN = [
  ["..", "shared"].join("/"),
  ["PROTOCOL", "md"].join("."),
  ["SECURITY", "md"].join("."),
  ["DESIGN", "md"].join("."),
  ["STYLE", "md"].join("."),
];

async function trackedFiles(): Promise<string[]> {
  const out = await new Deno.Command("git", { args: ["ls-files", "-z"], cwd: ROOT }).output();
  assert.ok(out.success, "git ls-files works in the checkout");
  return new TextDecoder().decode(out.stdout).split("\0").filter(Boolean);
}

Deno.test("no tracked file links outside the repo or names the private briefs", async () => {
  const hits: string[] = [];
  for (const file of await trackedFiles()) {
    let text: string;
    try {
      text = await Deno.readTextFile(`${ROOT}${file}`);
    } catch {
      continue; // removed in the work tree, or not text
    }
    text.split("\n").forEach((line, i) => {
      for (const name of FORBIDDEN) {
        if (line.includes(name)) hits.push(`${file}:${i + 1}: ${name}`);
      }
    });
  }
  assert.deepEqual(hits, []);
});

Deno.test("the README and the coding env's README link the docs/ pages", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  for (const page of ["docs/protocol.md", "docs/authoring.md", "docs/security.md"]) {
    assert.ok(readme.includes(`](${page})`), `README links ${page}`);
  }
  const coding = await Deno.readTextFile(`${ROOT}envs/coding/README.md`);
  assert.ok(coding.includes("](../../docs/security.md)"));
  for (const page of ["protocol.md", "authoring.md"]) {
    const text = await Deno.readTextFile(`${ROOT}docs/${page}`);
    assert.match(text, /^# /, `docs/${page} has a title`);
  }
});
