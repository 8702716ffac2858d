/**
 * The Kubernetes provider: a small typed API client over `fetch` (client
 * certificates or a token from the kubeconfig), the hardened env Pod and
 * its read-back check, a port forward over the API server's WebSocket, the
 * reaper, and {@link KubernetesProvider}.
 *
 * ```ts ignore
 * import { KubernetesProvider } from "./mod.ts";
 * import { EchoEnv } from "../../envs/echo/client.ts";
 *
 * await using k8s = new KubernetesProvider({ namespace: "envs" });
 * await using server = await k8s.start("echo-env:latest", { imagePullPolicy: "Never" });
 * await using env = new EchoEnv({ baseUrl: server.baseUrl });
 * await env.reset();
 * const result = await env.step({ message: "Hello, World!" });
 * console.log(result.reward); // 1.3
 * ```
 *
 * @module
 */
export {
  KubernetesClient,
  type KubernetesClientOptions,
  type KubernetesRequestOptions,
  type QueryValue,
  type WatchEvent,
} from "./client.ts";
export {
  ClusterUnreachableError,
  KubeConfigError,
  KubernetesConflictError,
  KubernetesError,
  KubernetesForbiddenError,
  KubernetesNotFoundError,
  PodHardeningError,
  type PodMismatch,
  PodStartError,
} from "./errors.ts";
export { type ClusterAccess, type KubeConfigOptions, loadKubeConfig } from "./kubeconfig.ts";
export { LABELS, POD_LABELS, podOwnerStatus } from "./labels.ts";
export {
  deleteManagedPod,
  listManagedPods,
  type ManagedPod,
  type ManagedPodOptions,
  type PodReapOptions,
  type PodReapReason,
  type ReapedPod,
  reapPods,
} from "./managed_pods.ts";
export {
  checkPod,
  DENY_EGRESS_POLICY,
  denyEgressPolicy,
  hardenedPod,
  POD_PORT,
  podHardeningFromLabels,
  type PodHardeningOptions,
  type PodInit,
  type PodReach,
} from "./pod_spec.ts";
export {
  type DeleteOptions,
  type ListOptions,
  NetworkPolicyApi,
  PodApi,
  ServiceApi,
} from "./pods.ts";
export type { AllowedCapability } from "../docker/hardening.ts";
export type { Provider, ProviderStartOptions, ServerHandle } from "../../protocol/provider.ts";
export { PORT_FORWARD_PROTOCOL, PortForward, type PortForwardOptions } from "./port_forward.ts";
export type * from "./types.ts";
export {
  type ImageConfig,
  KubernetesPod,
  KubernetesProvider,
  type KubernetesProviderOptions,
  type KubernetesStartOptions,
  podEnded,
  type PodExit,
  type PodTimings,
} from "./kubernetes_provider.ts";
