/**
 * The Kubernetes side of the CLI where no cluster is needed: help, bad
 * flags, the manifest, and a clear error when the API server is not there.
 */
import assert from "node:assert/strict";
import { parse } from "npm:yaml@2.9.1";
import { runCli } from "./helpers/cli.ts";

Deno.test("envtorch k8s and run --provider k8s: help, and bad flags exit 2 with the message", async () => {
  for (const args of [["k8s", "--help"], ["k8s", "-h"]]) {
    const { code, stdout } = await runCli(args);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: envtorch k8s manifest <env\|image>/m);
  }
  const run = await runCli(["run", "--provider", "k8s", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^Usage: envtorch run <env\|image> --provider k8s/m);
  assert.match(run.stdout, /--reach MODE/);
  const cases: [string[], RegExp][] = [
    [["k8s"], /Missing subcommand: manifest/],
    [["k8s", "apply"], /Unknown subcommand "apply"/],
    [["k8s", "manifest"], /Missing the env or image/i],
    [["run", "echo", "--provider", "nomad"], /--provider must be docker or k8s, got "nomad"/],
    [
      ["run", "echo", "--provider", "k8s", "--reach", "magic"],
      /--reach must be one of port-forward, host-network, pod-ip, service/,
    ],
    [
      ["run", "echo", "--provider=k8s", "--pull", "sometimes"],
      /--pull must be never, if-not-present or always/,
    ],
    [["ps", "--provider", "nomad"], /--provider must be docker or k8s/],
    [["clean", "--provider", "k8s", "--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runCli(args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message, args.join(" "));
  }
});

Deno.test("envtorch k8s manifest prints the hardened Pod and its NetworkPolicy", async () => {
  const { code, stdout, stderr } = await runCli([
    "k8s",
    "manifest",
    "echo",
    "--namespace",
    "envs",
    "--memory",
    "512m",
  ]);
  assert.equal(code, 0, stderr);
  const [policy, pod] = stdout.split(/^---$/m).map((d) => parse(d));
  assert.equal(policy.kind, "NetworkPolicy");
  assert.deepEqual(policy.spec.policyTypes, ["Egress"]);
  assert.equal(pod.kind, "Pod");
  assert.equal(pod.metadata.namespace, "envs");
  assert.equal(pod.metadata.labels["envtorch.env"], "echo");
  const c = pod.spec.containers[0];
  assert.equal(c.image, "echo-env:latest");
  assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.resources.limits.memory, "512Mi");
  assert.equal(pod.spec.automountServiceAccountToken, false);
});

Deno.test("ps --provider k8s with an API server that is not there: exit 1, a clear message", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await Deno.writeTextFile(
      `${dir}/config`,
      `current-context: gone
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: c, user: u, namespace: envs}}]
`,
    );
    const { code, stderr } = await runCli(["ps", "--provider", "k8s"], {
      env: { KUBECONFIG: `${dir}/config` },
    });
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(
        `^envtorch ps: Cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${port} \\(context gone\\): `,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
