/**
 * What the Kubernetes end-to-end tests share: whether a cluster answers
 * (tests skip with the reason in their name when none does; under CI=true
 * with ENVTORCH_K8S=1 they fail instead), the test namespace, and a label
 * per test run so that every Pod a test makes is found and deleted, even
 * when the test fails. Only one cluster runs per machine, so tests keep to
 * their namespace and label and never look at other Pods.
 *
 * @module
 */
import { delay } from "../protocol/deadline.ts";
import { KubernetesClient } from "../providers/kubernetes/client.ts";
import { KubernetesConflictError } from "../providers/kubernetes/errors.ts";
import { PodApi } from "../providers/kubernetes/pods.ts";

/** The namespace the tests use (`ENVTORCH_TEST_K8S_NAMESPACE` overrides). */
export const K8S_NAMESPACE = Deno.env.get("ENVTORCH_TEST_K8S_NAMESPACE") ?? "envtorch-test";
/** Label put on every Pod a test run makes. */
export const TEST_LABEL = "envtorch.test";
/** Whether the cluster tests must run (CI with the lab up). */
export const K8S_REQUIRED = Deno.env.get("CI") === "true" && Deno.env.get("ENVTORCH_K8S") === "1";

async function probe(): Promise<string | undefined> {
  if (!Deno.env.get("KUBECONFIG") && !K8S_REQUIRED) {
    return "no KUBECONFIG set (start a cluster, e.g. k8s-lab up, and export KUBECONFIG)";
  }
  try {
    await using kube = await KubernetesClient.fromKubeConfig({ timeoutS: 5 });
    await kube.request("GET", "/version");
    return undefined;
  } catch (error) {
    return (error as Error).message.split("\n")[0];
  }
}

/** Why cluster tests cannot run here, or undefined when a cluster answers. */
export const NO_K8S: string | undefined = await probe();

/**
 * Registers a test that needs a cluster: skipped (with the reason in its
 * name) when none answers, failed when CI=true and ENVTORCH_K8S=1.
 */
export function k8sTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  if (NO_K8S && !K8S_REQUIRED) {
    Deno.test({ name: `${name} (skipped: ${NO_K8S})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (NO_K8S) throw new Error(`CI=true and ENVTORCH_K8S=1 but no cluster answers: ${NO_K8S}`);
    await fn(t);
  });
}

/** Creates the test namespace if it is missing. */
export async function ensureNamespace(kube: KubernetesClient): Promise<void> {
  try {
    await kube.request("POST", "/api/v1/namespaces", {
      json: { apiVersion: "v1", kind: "Namespace", metadata: { name: K8S_NAMESPACE } },
    });
  } catch (error) {
    if (!(error instanceof KubernetesConflictError)) throw error;
  }
}

/** A fresh `{ "envtorch.test": <id> }` label for one test's Pods. */
export function runLabel(): Record<string, string> {
  return { [TEST_LABEL]: crypto.randomUUID().slice(0, 8) };
}

/** The names of the Pods (not yet being deleted) carrying `labels`. */
export async function podsOf(
  kube: KubernetesClient,
  labels: Record<string, string>,
  options: { includeTerminating?: boolean } = {},
): Promise<string[]> {
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
  const list = await new PodApi(kube).list(K8S_NAMESPACE, { labelSelector: selector });
  return list.items
    .filter((p) => options.includeTerminating || !p.metadata.deletionTimestamp)
    .map((p) => p.metadata.name!);
}

/** Waits until no Pod (terminating or not) carries `labels`; resolves the names still there at the timeout. */
export async function waitNoPods(
  kube: KubernetesClient,
  labels: Record<string, string>,
  timeoutS = 30,
): Promise<string[]> {
  const deadline = performance.now() + timeoutS * 1000;
  while (true) {
    const left = await podsOf(kube, labels, { includeTerminating: true });
    if (!left.length || performance.now() > deadline) return left;
    await delay(200);
  }
}

/** Deletes (grace 0) every Pod carrying `labels`. */
export async function deletePodsOf(kube: KubernetesClient, labels: Record<string, string>) {
  for (const name of await podsOf(kube, labels)) {
    await new PodApi(kube).delete(K8S_NAMESPACE, name, { gracePeriodSeconds: 0 });
  }
}

/** The echo image, loaded into the cluster (`ENVTORCH_TEST_ECHO_IMAGE` overrides). */
export const ECHO_IMAGE = Deno.env.get("ENVTORCH_TEST_ECHO_IMAGE") ?? "echo-env:latest";
/** The coding image, loaded into the cluster (`ENVTORCH_TEST_CODING_IMAGE` overrides). */
export const CODING_IMAGE = Deno.env.get("ENVTORCH_TEST_CODING_IMAGE") ?? "coding-env:latest";
