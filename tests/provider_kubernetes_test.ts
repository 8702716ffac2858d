/**
 * The shared provider suite on {@link KubernetesProvider} against a real
 * cluster (the test lab in CI): the same checks the process and Docker
 * providers pass. Skips (saying why) only where no cluster answers, and
 * fails under CI=true with ENVTORCH_K8S=1.
 */
import { KubernetesClient } from "../providers/kubernetes/client.ts";
import { PodStartError } from "../providers/kubernetes/errors.ts";
import { KubernetesProvider } from "../providers/kubernetes/kubernetes_provider.ts";
import {
  deletePodsOf,
  ECHO_IMAGE,
  ensureNamespace,
  K8S_NAMESPACE,
  k8sTest,
  NO_K8S,
  podsOf,
  runLabel,
} from "./k8s_helpers.ts";
import { providerConformance } from "./helpers/provider_conformance.ts";

const labels = runLabel();

providerConformance({
  name: "kubernetes",
  async provider() {
    const kube = await KubernetesClient.fromKubeConfig();
    await ensureNamespace(kube);
    return new KubernetesProvider({ client: kube, namespace: K8S_NAMESPACE, reapOnStart: false });
  },
  async cleanup() {
    if (NO_K8S) return;
    const kube = await KubernetesClient.fromKubeConfig();
    await deletePodsOf(kube, labels);
  },
  spec: ECHO_IMAGE,
  startOptions: { labels, imagePullPolicy: "Never" },
  badSpec: "envtorch-no-such-image:conformance",
  badSpecError: PodStartError,
  async running() {
    if (NO_K8S) return [];
    const kube = await KubernetesClient.fromKubeConfig();
    return (await podsOf(kube, labels)).sort();
  },
  test: k8sTest,
});
