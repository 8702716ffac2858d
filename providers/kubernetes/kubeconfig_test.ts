import assert from "node:assert/strict";
import { loadKubeConfig } from "./kubeconfig.ts";
import { KubeConfigError } from "./errors.ts";

const b64 = (s: string) => btoa(s);

Deno.test("loadKubeConfig reads certificates inline and from files beside it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, "CA FROM FILE");
    await Deno.writeTextFile(
      `${dir}/config`,
      `apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:16443/", certificate-authority: ca.pem}
users:
- name: admin
  user: {client-certificate-data: ${b64("CERT")}, client-key-data: ${b64("KEY")}}
- name: tester
  user: {token: abc}
contexts:
- name: lab
  context: {cluster: lab, user: admin}
- name: ns
  context: {cluster: lab, user: tester, namespace: envs}
- name: plugin
  context: {cluster: lab, user: plugin}
`,
    );
    const lab = await loadKubeConfig({ path: `${dir}/config` });
    assert.deepEqual(lab, {
      server: "https://127.0.0.1:16443",
      namespace: "default",
      context: "lab",
      caCerts: ["CA FROM FILE"],
      cert: "CERT",
      key: "KEY",
    });
    const ns = await loadKubeConfig({ path: `${dir}/config`, context: "ns" });
    assert.equal(ns.namespace, "envs");
    assert.equal(ns.token, "abc");
    await assert.rejects(
      loadKubeConfig({ path: `${dir}/config`, context: "nope" }),
      (e: Error) =>
        e instanceof KubeConfigError &&
        /no context "nope" \(has: lab, ns, plugin\)/.test(e.message),
    );
    await assert.rejects(
      loadKubeConfig({ path: `${dir}/config`, context: "plugin" }),
      /names no known user plugin/,
    );
    await Deno.writeTextFile(
      `${dir}/exec`,
      `current-context: x
clusters: [{name: c, cluster: {server: "https://k"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
`,
    );
    await assert.rejects(
      loadKubeConfig({ path: `${dir}/exec` }),
      /exec plugin, which envtorch does not run/,
    );
    await assert.rejects(
      loadKubeConfig({ path: `${dir}/missing` }),
      (e: Error) =>
        e instanceof KubeConfigError && /Cannot read kubeconfig .*missing/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
