import assert from "node:assert/strict";
import { checkPod, hardenedPod, podHardeningFromLabels, userOfImage } from "./pod_spec.ts";
import type { Pod } from "./types.ts";

const base = () =>
  hardenedPod({
    name: "envtorch-echo-1",
    namespace: "t",
    image: "echo-env:latest",
    hardening: { runAsUser: 10001, runAsGroup: 10001 },
  });

Deno.test("hardenedPod: the Docker provider's hardening in Pod terms", () => {
  const pod = base();
  const c = pod.spec.containers[0]!;
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(pod.spec.restartPolicy, "Never");
  assert.equal(pod.spec.activeDeadlineSeconds, 86400);
  assert.equal(pod.spec.hostNetwork, undefined);
  assert.deepEqual(pod.spec.securityContext, {
    runAsUser: 10001,
    runAsGroup: 10001,
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
  });
  assert.deepEqual(c.securityContext?.capabilities, { drop: ["ALL"] });
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(c.resources, {
    requests: { cpu: "100m", memory: "128Mi" },
    limits: { cpu: "1", memory: "1Gi" },
  });
  assert.deepEqual(pod.spec.volumes, [
    { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
  ]);
  assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
  assert.equal(pod.metadata.labels?.["envtorch.managed"], "true");
  assert.equal(pod.metadata.labels?.["envtorch.egress"], "deny");
  // A forwarded server listens on loopback inside its Pod; no kubelet probe can reach it.
  assert.ok(c.env?.some((e) => e.name === "ENVTORCH_HOST" && e.value === "127.0.0.1"));
  assert.equal(c.readinessProbe, undefined);
  assert.deepEqual(checkPod(pod, structuredClone(pod)), []);
});

Deno.test("hardenedPod: a root image gets no runAsNonRoot, caps only from the allowed three", () => {
  const pod = hardenedPod({
    name: "c",
    namespace: "t",
    image: "coding-env:latest",
    hardening: {
      ...podHardeningFromLabels({
        "envtorch.cap-add": "SETUID,SETGID,KILL",
        "envtorch.memory": "2g",
        "envtorch.tmp-size": "512m",
      }),
      runAsUser: 0,
      runAsGroup: 0,
    },
  });
  const c = pod.spec.containers[0]!;
  assert.equal(pod.spec.securityContext?.runAsNonRoot, undefined);
  assert.deepEqual(c.securityContext?.capabilities, {
    drop: ["ALL"],
    add: ["KILL", "SETGID", "SETUID"],
  });
  assert.equal(c.resources?.limits?.memory, "2Gi");
  assert.equal(pod.spec.volumes?.[0]?.emptyDir?.sizeLimit, "512Mi");
  assert.throws(
    () => podHardeningFromLabels({ "envtorch.cap-add": "SYS_ADMIN" }),
    /only SETUID, SETGID and KILL may be added/,
  );
  assert.throws(
    () =>
      hardenedPod({
        name: "x",
        namespace: "t",
        image: "i",
        hardening: { capAdd: ["NET_ADMIN" as "KILL"] },
      }),
    /Capability NET_ADMIN cannot be added/,
  );
});

Deno.test("hardenedPod: host-network and pod-ip reach carry a /health readiness probe", () => {
  const host = hardenedPod({
    name: "h",
    namespace: "t",
    image: "i",
    reach: "host-network",
    port: 18123,
  });
  assert.equal(host.spec.hostNetwork, true);
  assert.deepEqual(host.spec.containers[0]!.readinessProbe?.httpGet, {
    path: "/health",
    port: 18123,
    host: "127.0.0.1",
  });
  const ip = hardenedPod({ name: "p", namespace: "t", image: "i", reach: "pod-ip" });
  assert.deepEqual(ip.spec.containers[0]!.readinessProbe?.httpGet, { path: "/health", port: 8000 });
  assert.ok(
    ip.spec.containers[0]!.env?.some((e) => e.name === "ENVTORCH_HOST" && e.value === "0.0.0.0"),
  );
});

Deno.test("userOfImage reads numeric users only", () => {
  assert.deepEqual(userOfImage("10001:10001"), { uid: 10001, gid: 10001 });
  assert.deepEqual(userOfImage("0:0"), { uid: 0, gid: 0 });
  assert.deepEqual(userOfImage(""), { uid: 0, gid: 0 });
  assert.deepEqual(userOfImage("envtorch"), {});
});

Deno.test("checkPod names every field a server dropped or a webhook added", async (t) => {
  const cases: [string, (p: Pod) => void, RegExp][] = [
    ["seccomp dropped (a server older than 1.19)", (p) => {
      delete p.spec.securityContext!.seccompProfile;
      delete p.spec.containers[0]!.securityContext!.seccompProfile;
    }, /seccompProfile/],
    ["privileged", (p) => (p.spec.containers[0]!.securityContext!.privileged = true), /privileged/],
    [
      "a capability added",
      (p) => (p.spec.containers[0]!.securityContext!.capabilities!.add = ["SYS_ADMIN"]),
      /capabilities\.add/,
    ],
    [
      "read-only root dropped",
      (p) => delete p.spec.containers[0]!.securityContext!.readOnlyRootFilesystem,
      /readOnlyRootFilesystem/,
    ],
    [
      "memory limit changed",
      (p) => (p.spec.containers[0]!.resources!.limits!.memory = "2Gi"),
      /resources\.limits\.memory/,
    ],
    ["a service account token mounted", (p) => {
      p.spec.automountServiceAccountToken = undefined;
      p.spec.volumes!.push({
        name: "default-token-abc",
        secret: { secretName: "default-token-abc" },
      });
      p.spec.containers[0]!.volumeMounts!.push({
        name: "default-token-abc",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        readOnly: true,
      });
    }, /automountServiceAccountToken.*volumeMounts.*spec\.volumes/s],
    [
      "a hostPath",
      (p) => p.spec.volumes!.push({ name: "docker", hostPath: { path: "/var/run/docker.sock" } }),
      /hostPath/,
    ],
    ["host network", (p) => (p.spec.hostNetwork = true), /spec\.hostNetwork/],
    [
      "a sidecar",
      (p) => p.spec.containers.push({ name: "sidecar", image: "x" }),
      /spec\.containers/,
    ],
    ["the deadline removed", (p) => delete p.spec.activeDeadlineSeconds, /activeDeadlineSeconds/],
    ["runAsNonRoot dropped", (p) => delete p.spec.securityContext!.runAsNonRoot, /runAsNonRoot/],
    ["a hostPort", (p) => (p.spec.containers[0]!.ports![0]!.hostPort = 8000), /hostPort/],
  ];
  for (const [name, mutate, pattern] of cases) {
    await t.step(name, () => {
      const want = base();
      const got = structuredClone(want);
      mutate(got);
      const found = checkPod(want, got);
      assert.ok(found.length > 0, `${name}: not found`);
      assert.match(found.map((m) => m.field).join(" "), pattern);
    });
  }
  await t.step("the server's own spelling of a quantity is the same value", () => {
    const want = base();
    const got = structuredClone(want);
    got.spec.containers[0]!.resources!.limits!.memory = "1024Mi";
    got.spec.containers[0]!.resources!.requests!.cpu = "0.1";
    got.spec.volumes![0]!.emptyDir!.sizeLimit = "65536Ki";
    assert.deepEqual(checkPod(want, got), []);
  });
});
