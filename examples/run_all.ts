/**
 * Runs every example in this folder, one after the other, and fails if any
 * fails. An example whose first lines say `Needs: docker` is skipped, with
 * the reason, when no Docker engine answers (never when CI=true).
 *
 * Run: deno task examples
 *
 * @module
 */
import { httpClientFor, parseBaseUrl } from "../client/transport.ts";
import { withDeadline } from "../protocol/deadline.ts";

const here = new URL("./", import.meta.url);
const names = (await Array.fromAsync(Deno.readDir(here)))
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && n !== "run_all.ts" && !n.endsWith("_test.ts"))
  .sort();

async function dockerAnswers(): Promise<boolean> {
  const host = Deno.env.get("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
  if (!host.startsWith("unix://")) return true;
  const client = httpClientFor(parseBaseUrl(`unix:${host.slice(7)}`));
  try {
    return await withDeadline("GET /_ping", { timeoutS: 2 }, async ({ signal }) => {
      const res = await fetch("http://localhost/_ping", { client, signal });
      await res.body?.cancel();
      return res.ok;
    });
  } catch {
    return false;
  } finally {
    client?.close();
  }
}

const docker = await dockerAnswers();
const failed: string[] = [];
for (const name of names) {
  const head = (await Deno.readTextFile(new URL(name, here))).slice(0, 600);
  if (/Needs: docker/i.test(head) && !docker && Deno.env.get("CI") !== "true") {
    console.log(`\n== ${name}: skipped (needs a Docker engine; none answers) ==`);
    continue;
  }
  console.log(`\n== ${name} ==`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(name, here).pathname],
    stdin: "null",
  }).spawn().status;
  if (code !== 0) failed.push(`${name} (exit ${code})`);
}
console.log(
  failed.length ? `\nFailed: ${failed.join(", ")}` : `\nAll ${names.length} examples ran`,
);
Deno.exit(failed.length ? 1 : 0);
