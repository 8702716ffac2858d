/**
 * The Kubernetes provider against a real cluster (the test lab, or any
 * cluster KUBECONFIG names with echo-env and coding-env on its nodes):
 * episodes through a Pod, the Pod read back, the reaper after a kill -9 of
 * the owner, a Pod killed mid-episode, the CLI, a pool of Pods, and no Pod
 * left behind.
 */
import assert from "node:assert/strict";
import { parse } from "npm:yaml@2.9.1";
import { EchoEnv } from "../envs/echo/client.ts";
import { CodingEnv } from "../envs/coding/client.ts";
import { ConnectionError } from "../protocol/errors.ts";
import { VectorEnv } from "../client/vector_env.ts";
import { EnvPool } from "../providers/pool.ts";
import { KubernetesClient } from "../providers/kubernetes/client.ts";
import { PodStartError } from "../providers/kubernetes/errors.ts";
import { KubernetesProvider } from "../providers/kubernetes/kubernetes_provider.ts";
import { checkPod, DENY_EGRESS_POLICY } from "../providers/kubernetes/pod_spec.ts";
import { NetworkPolicyApi, PodApi } from "../providers/kubernetes/pods.ts";
import type { Pod } from "../providers/kubernetes/types.ts";
import {
  CODING_IMAGE,
  deletePodsOf,
  ECHO_IMAGE,
  ensureNamespace,
  K8S_NAMESPACE,
  k8sTest,
  podsOf,
  runLabel,
  TEST_LABEL as TEST,
  waitNoPods,
} from "./k8s_helpers.ts";
import { firstLine } from "./helpers/first_line.ts";

const ROOT = new URL("../", import.meta.url);
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

function cli(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", CONFIG, MAIN, ...args],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function setup() {
  const kube = await KubernetesClient.fromKubeConfig();
  await ensureNamespace(kube);
  const provider = new KubernetesProvider({
    client: kube,
    namespace: K8S_NAMESPACE,
    reapOnStart: false,
  });
  return { kube, provider };
}

k8sTest(
  "an echo episode through a Pod, over WebSocket and HTTP; close deletes the Pod",
  async (t) => {
    const { kube, provider } = await setup();
    const labels = runLabel();
    try {
      await using pod = await provider.start(ECHO_IMAGE, { labels });
      assert.match(pod.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      for (const transport of ["websocket", "http"] as const) {
        await t.step(transport, async () => {
          await using env = new EchoEnv({ baseUrl: pod.baseUrl, transport });
          const reset = await env.reset();
          assert.equal(reset.done, false);
          const result = await env.step({ message: "Hello, World!" });
          assert.equal(result.observation.echoed_message, "Hello, World!");
          assert.equal(result.reward, 1.3);
          assert.equal((await env.state()).step_count, 1);
        });
      }
      await t.step("the Pod read back is hardened as asked", async () => {
        const stored = await new PodApi(kube).get(K8S_NAMESPACE, pod.name);
        assert.deepEqual(checkPod(pod.spec, stored), []);
        const c = stored.spec.containers[0]!;
        assert.deepEqual(c.securityContext?.capabilities, { drop: ["ALL"] });
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.equal(stored.spec.securityContext?.seccompProfile?.type, "RuntimeDefault");
        // echo-env runs as 10001: the image's user, so runAsNonRoot holds.
        assert.equal(stored.spec.securityContext?.runAsNonRoot, true);
        assert.equal(stored.spec.securityContext?.runAsUser, 10001);
        assert.equal(stored.spec.automountServiceAccountToken, false);
        assert.ok(!stored.spec.volumes?.some((v) => v.secret || v.hostPath || v.projected));
        assert.deepEqual(stored.spec.volumes?.find((v) => v.name === "tmp")?.emptyDir, {
          medium: "Memory",
          sizeLimit: "64Mi",
        });
        assert.equal(stored.spec.activeDeadlineSeconds, 86400);
        assert.equal(stored.metadata.labels?.["envtorch.managed"], "true");
        assert.equal(stored.metadata.labels?.["envtorch.owner.pid"], String(Deno.pid));
        assert.match(stored.metadata.labels?.["envtorch.expires"] ?? "", /^\d{10}$/);
        const policy = await new NetworkPolicyApi(kube).get(K8S_NAMESPACE, DENY_EGRESS_POLICY);
        assert.deepEqual(policy.spec.policyTypes, ["Egress"]);
        assert.deepEqual(policy.spec.egress ?? [], []);
        assert.deepEqual(policy.spec.podSelector.matchLabels, {
          "envtorch.managed": "true",
          "envtorch.egress": "deny",
        });
        assert.equal(stored.metadata.labels?.["envtorch.egress"], "deny");
      });
      await pod.close();
      assert.deepEqual(await waitNoPods(kube, labels), [], "the Pod is gone after close");
    } finally {
      await deletePodsOf(kube, labels);
      await provider.close();
      await kube.close();
    }
  },
);

k8sTest(
  "a coding episode through a Pod, with exactly the capabilities its image asks for",
  async () => {
    const { kube, provider } = await setup();
    const labels = runLabel();
    try {
      const pod = await provider.start(CODING_IMAGE, { labels });
      await using env = await new CodingEnv({ baseUrl: pod.baseUrl, server: pod }).connect();
      assert.deepEqual(pod.imageHardening.capAdd?.slice().sort(), ["KILL", "SETGID", "SETUID"]);
      const c = pod.stored.spec.containers[0]!;
      assert.deepEqual(c.securityContext?.capabilities?.add?.slice().sort(), [
        "KILL",
        "SETGID",
        "SETUID",
      ]);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"]);
      assert.equal(c.resources?.limits?.memory, "2Gi");
      assert.equal(pod.stored.spec.volumes?.[0]?.emptyDir?.sizeLimit, "512Mi");
      // A root server (it drops each session to its own uid): no runAsNonRoot, by the image's USER.
      assert.equal(pod.stored.spec.securityContext?.runAsNonRoot, undefined);
      await env.reset();
      assert.equal(
        (await env.step({ code: "print('Hello, World!')" })).observation.stdout,
        "Hello, World!\n",
      );
      await env.step({ code: "x = 21" });
      assert.equal((await env.step({ code: "print(x * 2)" })).observation.stdout, "42\n");
      // What the runtime applied, seen from inside: read-only root, /tmp a tmpfs (its
      // sizeLimit is enforced by kubelet eviction on v1.20, not by the mount), no new
      // privileges, seccomp filtering, no capabilities left in the session, no token.
      const inside = await env.step({
        code: [
          "import os",
          "try:",
          "    open('/etc/x', 'w')",
          "except OSError as e:",
          "    print('root', type(e).__name__)",
          "print('tmp', [l.split()[2] for l in open('/proc/mounts') if l.split()[1] == '/tmp'])",
          "st = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)",
          "print('nnp', st['NoNewPrivs'].strip(), 'seccomp', st['Seccomp'].strip(), 'capeff', st['CapEff'].strip())",
          "print('token', os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount/token'))",
        ].join("\n"),
      });
      const out = inside.observation.stdout;
      assert.match(out, /^root (OSError|PermissionError)$/m, out);
      assert.match(out, /^tmp \['tmpfs'\]$/m, out);
      assert.match(out, /^nnp 1 seccomp 2 capeff 0000000000000000$/m, out);
      assert.match(out, /^token False$/m, out);
      await env.close();
      assert.deepEqual(await waitNoPods(kube, labels), []);
    } finally {
      await deletePodsOf(kube, labels);
      await provider.close();
      await kube.close();
    }
  },
);

k8sTest("host-network reach: the kubelet's /health readiness probe gates the start", async () => {
  const { kube, provider } = await setup();
  const labels = runLabel();
  try {
    await using pod = await provider.start(ECHO_IMAGE, { labels, reach: "host-network" });
    assert.match(pod.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const stored = await pod.read();
    assert.equal(stored.spec.hostNetwork, true);
    assert.ok(
      stored.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      "the readiness probe passed",
    );
    assert.equal(stored.spec.containers[0]!.readinessProbe?.httpGet?.path, "/health");
    await using env = new EchoEnv({ baseUrl: pod.baseUrl });
    await env.reset();
    assert.equal((await env.step({ message: "hi" })).observation.echoed_message, "hi");
  } finally {
    await deletePodsOf(kube, labels);
    await provider.close();
    await kube.close();
  }
});

k8sTest("a Pod killed mid-episode gives the client a clear error, not a hang", async (t) => {
  const { kube, provider } = await setup();
  const labels = runLabel();
  try {
    for (const transport of ["websocket", "http"] as const) {
      await t.step(transport, async () => {
        await using pod = await provider.start(ECHO_IMAGE, { labels });
        await using env = new EchoEnv({ baseUrl: pod.baseUrl, transport, timeoutS: 30 });
        await env.reset();
        await env.step({ message: "before" });
        await new PodApi(kube).delete(K8S_NAMESPACE, pod.name, { gracePeriodSeconds: 0 });
        const started = performance.now();
        const error = await env.step({ message: "after the kill" }).then(
          () => assert.fail("a step on a killed Pod succeeded"),
          (e) => e,
        );
        const seconds = (performance.now() - started) / 1000;
        assert.ok(error instanceof ConnectionError, `${error?.name}: ${error?.message}`);
        assert.match(
          error.message,
          /^(Connection to .* (closed|lost)|Cannot reach |Cannot connect to |Pod .* is gone)/,
        );
        assert.ok(seconds < 5, `the error took ${seconds} s`);
        assert.equal((await pod.exited).reason.length > 0, true);
        // A new connection is told why.
        const res = await fetch(`${pod.baseUrl}/health`);
        assert.equal(res.status, 502);
        assert.match(
          (await res.json()).detail,
          new RegExp(`^Pod ${K8S_NAMESPACE}/${pod.name} is gone: `),
        );
      });
    }
    assert.deepEqual(await waitNoPods(kube, labels), []);
  } finally {
    await deletePodsOf(kube, labels);
    await provider.close();
    await kube.close();
  }
});

k8sTest("a start that cannot succeed fails clearly and leaves no Pod", async (t) => {
  const { kube, provider } = await setup();
  const labels = runLabel();
  try {
    await t.step("an image the node does not have, with pull policy Never", async () => {
      const started = performance.now();
      const error = await provider.start("envtorch-no-such-image:latest", {
        labels,
        imagePullPolicy: "Never",
        imageConfig: {},
      }).then(() => assert.fail("started a missing image"), (e) => e);
      assert.ok(error instanceof PodStartError, String(error));
      assert.match(error.message, /^Cannot start Pod envtorch-test\/.*: ErrImageNeverPull/);
      assert.ok((performance.now() - started) / 1000 < 20);
    });
    await t.step("a server that exits at once: its exit code and last log lines", async () => {
      const error = await provider.start(ECHO_IMAGE, {
        labels,
        command: ["/bin/sh", "-c", "echo crashing on purpose; exit 3"],
      }).then(() => assert.fail("a crashing server was reported healthy"), (e) => e);
      assert.ok(error instanceof PodStartError, String(error));
      assert.match(error.message, /the server exited with code 3/);
      assert.match(error.message, /crashing on purpose/);
    });
    await t.step("a capability the image may not ask for starts nothing", async () => {
      await assert.rejects(
        provider.start(ECHO_IMAGE, {
          labels,
          imageConfig: { labels: { "envtorch.cap-add": "SYS_ADMIN" } },
        }),
        /only SETUID, SETGID and KILL may be added/,
      );
    });
    assert.deepEqual(await waitNoPods(kube, labels), []);
  } finally {
    await deletePodsOf(kube, labels);
    await provider.close();
    await kube.close();
  }
});

k8sTest(
  "backstops: the kubelet ends a Pod past its deadline; the reaper deletes an expired one",
  async (t) => {
    const { kube, provider } = await setup();
    const labels = runLabel();
    try {
      await t.step("activeDeadlineSeconds ends the Pod and the handle says why", async () => {
        await using pod = await provider.start(ECHO_IMAGE, { labels, ttlS: 3 });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const exit = await Promise.race([
          pod.exited,
          new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 30_000))),
        ]);
        clearTimeout(timer);
        assert.ok(exit, "the Pod outlived its deadline by 30 s");
        assert.match(exit.reason, /DeadlineExceeded/);
        const res = await fetch(`${pod.baseUrl}/health`);
        assert.equal(res.status, 502);
        assert.match((await res.json()).detail, /is gone: .*DeadlineExceeded/);
      });
      await t.step("an expired Pod of a live owner is reaped as expired", async () => {
        const pod = await provider.start(ECHO_IMAGE, { labels });
        try {
          const later = new Date(Date.now() + 2 * 86_400_000);
          const mine = (r: { name: string }) => r.name === pod.name;
          assert.equal(
            (await provider.reap({ labelSelector: `${TEST}=${labels[TEST]}` })).length,
            0,
          );
          const reaped = await provider.reap({
            now: later,
            labelSelector: `${TEST}=${labels[TEST]}`,
          });
          assert.deepEqual(reaped.filter(mine).map((r) => [r.reason, r.owner, r.error]), [
            ["expired", "alive", undefined],
          ]);
          assert.equal((await pod.exited).reason.length > 0, true);
        } finally {
          await pod.close();
        }
      });
      assert.deepEqual(await waitNoPods(kube, labels), []);
    } finally {
      await deletePodsOf(kube, labels);
      await provider.close();
      await kube.close();
    }
  },
);

k8sTest("kill -9 of envtorch run leaves its Pod; clean --provider k8s deletes it", async () => {
  const kube = await KubernetesClient.fromKubeConfig();
  await ensureNamespace(kube);
  try {
    const child = cli(["run", "echo", "--provider", "k8s", "--namespace", K8S_NAMESPACE, "--json"])
      .spawn();
    const line = await firstLine(child.stdout);
    const started = JSON.parse(line) as { url: string; name: string; namespace: string };
    assert.equal(started.namespace, K8S_NAMESPACE);
    assert.equal((await (await fetch(`${started.url}/health`)).json()).status, "healthy");
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    const pods = new PodApi(kube);
    const orphan = await pods.get(K8S_NAMESPACE, started.name);
    assert.ok(!orphan.metadata.deletionTimestamp, "a killed owner cannot delete its Pod");
    const ps = await cli(["ps", "--provider", "k8s", "--namespace", K8S_NAMESPACE, "--json"])
      .output();
    const listed = JSON.parse(new TextDecoder().decode(ps.stdout)) as {
      name: string;
      owner: string;
    }[];
    assert.equal(listed.find((p) => p.name === started.name)?.owner, "gone");
    const clean = await cli(["clean", "--provider", "k8s", "--namespace", K8S_NAMESPACE]).output();
    const out = new TextDecoder().decode(clean.stdout);
    assert.equal(clean.code, 0, new TextDecoder().decode(clean.stderr));
    assert.match(
      out,
      new RegExp(
        `deleted Pod ${K8S_NAMESPACE}/${started.name} \\(echo-env:latest\\): owner \\d+ is gone`,
      ),
    );
    assert.deepEqual(
      await waitNoPods(kube, { "envtorch.session": orphan.metadata.labels!["envtorch.session"]! }),
      [],
    );
  } finally {
    await kube.close();
  }
});

k8sTest("SIGTERM or SIGINT to envtorch run --provider k8s deletes its Pod", async (t) => {
  const kube = await KubernetesClient.fromKubeConfig();
  await ensureNamespace(kube);
  try {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      await t.step(signal, async () => {
        const child = cli([
          "run",
          "echo",
          "--provider",
          "k8s",
          "--namespace",
          K8S_NAMESPACE,
          "--json",
        ]).spawn();
        const started = JSON.parse(await firstLine(child.stdout)) as { url: string; name: string };
        const pod = await new PodApi(kube).get(K8S_NAMESPACE, started.name);
        assert.equal((await (await fetch(`${started.url}/health`)).json()).status, "healthy");
        child.kill(signal);
        const status = await child.status;
        const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
        assert.equal(status.code, 0, stderr);
        assert.match(stderr, /deleting Pod/);
        assert.deepEqual(
          await waitNoPods(kube, { "envtorch.session": pod.metadata.labels!["envtorch.session"]! }),
          [],
        );
      });
    }
  } finally {
    await kube.close();
  }
});

k8sTest(
  "envtorch k8s manifest prints YAML the API server accepts as the hardened Pod",
  async () => {
    const kube = await KubernetesClient.fromKubeConfig();
    await ensureNamespace(kube);
    try {
      const out = await cli(["k8s", "manifest", "coding", "--namespace", K8S_NAMESPACE]).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const [policy, pod] = new TextDecoder().decode(out.stdout).split(/^---$/m).map((d) =>
        parse(d)
      );
      assert.equal(policy.kind, "NetworkPolicy");
      assert.equal(pod.kind, "Pod");
      assert.deepEqual(pod.spec.containers[0].securityContext.capabilities.add, [
        "KILL",
        "SETGID",
        "SETUID",
      ]);
      // The server's dry run applies admission and defaults without storing anything.
      const stored = await kube.request<Pod>("POST", `/api/v1/namespaces/${K8S_NAMESPACE}/pods`, {
        json: pod,
        query: { dryRun: "All" },
      });
      assert.deepEqual(checkPod(pod, stored), []);
    } finally {
      await kube.close();
    }
  },
);

k8sTest("EnvPool and VectorEnv over Pods: 3 envs, episodes, all deleted on dispose", async () => {
  const { kube, provider } = await setup();
  const labels = runLabel();
  try {
    {
      await using pool = await EnvPool.create({
        size: 3,
        concurrency: 3,
        create: (signal) => EchoEnv.from(provider, ECHO_IMAGE, { start: { labels, signal } }),
      });
      const a = await pool.checkout();
      const b = await pool.checkout();
      await a.reset();
      assert.equal((await a.step({ message: "pool" })).reward, 0.4);
      await pool.release(a);
      await pool.release(b);
      assert.equal((await podsOf(kube, labels)).length, 3);
    }
    assert.deepEqual(await waitNoPods(kube, labels), []);
    {
      const envs = await Promise.all(
        Array.from(
          { length: 3 },
          () => EchoEnv.from(provider, ECHO_IMAGE, { start: { labels } }),
        ),
      );
      await using vec = new VectorEnv(envs);
      const reset = await vec.reset({ seed: 1 });
      assert.deepEqual(reset.errors, [null, null, null]);
      const step = await vec.step(["a", "bb", "ccc"].map((message) => ({ message })));
      assert.deepEqual(step.errors, [null, null, null]);
      assert.deepEqual(step.rewards.map((r) => Math.round(Number(r) * 10) / 10), [0.1, 0.2, 0.3]);
    }
    assert.deepEqual(await waitNoPods(kube, labels), []);
  } finally {
    await deletePodsOf(kube, labels);
    await provider.close();
    await kube.close();
  }
});

const TOKEN_KUBECONFIG = Deno.env.get("ENVTORCH_TEST_K8S_TOKEN_KUBECONFIG") ??
  "/var/lib/k8s-lab/tester.kubeconfig";
const tokenReadable = await Deno.readTextFile(TOKEN_KUBECONFIG).then(() => true, () => false);

if (tokenReadable) {
  k8sTest(
    "a namespaced identity with a bearer token: episode, port forward, list, reap",
    async () => {
      // k8s-lab's tester: a ServiceAccount token, admin in its own namespace only.
      const kube = await KubernetesClient.fromKubeConfig({ path: TOKEN_KUBECONFIG });
      assert.ok(
        kube.access.token && !kube.access.cert,
        "the kubeconfig authenticates with a token",
      );
      const provider = new KubernetesProvider({ client: kube });
      const labels = runLabel();
      try {
        const pod = await provider.start(ECHO_IMAGE, { labels });
        assert.equal(pod.namespace, kube.namespace);
        await using env = await new EchoEnv({ baseUrl: pod.baseUrl, server: pod }).connect();
        await env.reset();
        assert.equal((await env.step({ message: "token" })).observation.echoed_message, "token");
        assert.ok((await provider.list()).some((p) => p.name === pod.name));
        await env.close();
        const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
        const left = await new PodApi(kube).list(kube.namespace, { labelSelector: selector });
        assert.deepEqual(left.items.filter((p) => !p.metadata.deletionTimestamp), []);
      } finally {
        await provider.close();
        await kube.close();
      }
    },
  );
} else {
  Deno.test({
    name: `a namespaced identity with a bearer token (skipped: no readable ${TOKEN_KUBECONFIG})`,
    ignore: true,
    fn: () => {},
  });
}

k8sTest("no Pod of this suite is left", async () => {
  // The namespace is the suite's own: no other Pod belongs there.
  await using kube = await KubernetesClient.fromKubeConfig();
  const left = await waitNoPods(kube, { "envtorch.managed": "true" });
  assert.deepEqual(left, [], `Pods left in ${K8S_NAMESPACE}: ${left.join(", ")}`);
});
