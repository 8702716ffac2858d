/**
 * Ctrl-C on a command or script that started an env in a child process
 * leaves no /tmp/envtorch-<hex>/ folder behind: a real SIGINT to a real
 * process, then the folder must go away.
 */
import assert from "node:assert/strict";
import { CLI, ROOT } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";

/** The `--socket` path of a child process of `pid` running `envtorch serve`. */
function childSocket(pid: number): string | undefined {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      const args = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      const at = args.indexOf("--socket");
      if (at >= 0 && args.includes("serve")) return args[at + 1];
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Starts `cmd`, waits until its env child listens, sends SIGINT, and checks the folder goes. */
async function interruptAndCheck(cmd: string[], cwd = ROOT): Promise<void> {
  const [bin, ...args] = cmd;
  const child = new Deno.Command(bin!, {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "piped", // kept open: the command waits for input or runs on
    stdout: "null",
    stderr: "null",
  }).spawn();
  let socket: string | undefined;
  try {
    await eventually("the env's child process listens", () => {
      socket = childSocket(child.pid);
      return socket !== undefined && exists(socket);
    }, 30_000);
    const folder = socket!.slice(0, socket!.lastIndexOf("/"));
    assert.match(folder, /\/envtorch-[^/]+$/);
    child.kill("SIGINT");
    await child.status;
    await eventually(`${folder} is removed`, () => !exists(folder), 15_000);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.stdin.close().catch(() => {});
    await child.status;
  }
}

Deno.test("Ctrl-C on a script using EchoEnv.fromProcess() leaves no temp folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-script-" });
  try {
    await Deno.writeTextFile(
      `${dir}/script.ts`,
      `import { EchoEnv } from ${JSON.stringify(`${ROOT}mod.ts`)};
const env = await EchoEnv.fromProcess();
await env.reset();
setInterval(() => {}, 1000);
`,
    );
    await interruptAndCheck([Deno.execPath(), "run", "-A", "--quiet", `${dir}/script.ts`], dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C on envtorch repl echo leaves no temp folder", async () => {
  await interruptAndCheck([...CLI, "repl", "echo"]);
});

Deno.test("Ctrl-C on envtorch bench echo leaves no temp folder", async () => {
  await interruptAndCheck([...CLI, "bench", "echo", "--steps", "10000000"]);
});
