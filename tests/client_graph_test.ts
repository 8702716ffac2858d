/**
 * The client loads no server and no provider code: importing `client/mod.ts`
 * (or an env's client) pulls in neither Hono nor the Docker client, so a
 * training loop that only talks to servers stays small. Checked twice: on
 * the static module graph (`deno info`), and by running an import under an
 * import map that turns Hono and every provider module into a load error.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const CLIENT_ENTRIES = ["client/mod.ts", "envs/echo/client.ts"];

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** Modules loaded when `entry` is imported: static, non-type imports only. */
async function runtimeGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root.pathname,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
  };
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const queue = [...info.roots];
  while (queue.length > 0) {
    const url = queue.pop()!;
    if (seen.has(url)) continue;
    seen.add(url);
    for (const dep of byUrl.get(url)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) queue.push(dep.code.specifier);
    }
  }
  return [...seen].map((url) => url.replace(root.href, ""));
}

const serverOrProvider = (m: string) =>
  m.startsWith("server/") || m.startsWith("providers/") || m.startsWith("npm:hono");

for (const entry of CLIENT_ENTRIES) {
  Deno.test(`importing ${entry} loads no server, provider or Hono module`, async () => {
    const graph = await runtimeGraph(entry);
    assert.ok(graph.includes("client/transport.ts"), "the graph was read");
    assert.deepEqual(graph.filter(serverOrProvider), []);
  });
}

Deno.test("the graph check sees Hono where it is loaded (server/mod.ts)", async () => {
  const graph = await runtimeGraph("server/mod.ts");
  assert.ok(graph.some((m) => m.startsWith("npm:hono")), graph.join("\n"));
});

Deno.test("the client runs with Hono and every provider made unloadable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envtorch-graph-" });
  try {
    await Deno.writeTextFile(`${dir}/boom.js`, 'throw new Error("must not be loaded");\n');
    await Deno.mkdir(`${dir}/nothing`);
    await Deno.writeTextFile(
      `${dir}/map.json`,
      JSON.stringify({
        imports: {
          "npm:hono@4.13.19": "./boom.js",
          "npm:hono@4.13.19/": "./nothing/",
          [new URL("providers/", root).href]: "./nothing/",
          [new URL("server/", root).href]: "./nothing/",
        },
      }),
    );
    const script = `
      const { GenericEnvClient } = await import(${
      JSON.stringify(new URL("client/mod.ts", root).href)
    });
      const { EchoEnv } = await import(${
      JSON.stringify(new URL("envs/echo/client.ts", root).href)
    });
      const client = new GenericEnvClient({ baseUrl: "http://127.0.0.1:9" });
      await client.close();
      const fromProcess = await EchoEnv.fromProcess().then(() => "started", (e) => e.message);
      console.log(JSON.stringify({ ok: true, fromProcess }));
    `;
    await Deno.writeTextFile(`${dir}/script.ts`, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", "--import-map", `${dir}/map.json`, `${dir}/script.ts`],
      cwd: dir,
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(stdout);
    assert.equal(result.ok, true);
    // The map works: the provider the client loads on demand is indeed unloadable here.
    assert.match(result.fromProcess, /providers\/process\.ts|Module not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
