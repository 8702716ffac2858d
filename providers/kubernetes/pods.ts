/**
 * The core/v1 Pod and Service calls and the networking.k8s.io/v1
 * NetworkPolicy calls envtorch makes, typed.
 *
 * @module
 */
import type { KubernetesClient } from "./client.ts";
import { KubernetesNotFoundError } from "./errors.ts";
import type { NetworkPolicy, NetworkPolicyList, Pod, PodList, Service } from "./types.ts";
import type { WatchEvent } from "./client.ts";

const enc = encodeURIComponent;

/** Options of list calls. */
export interface ListOptions {
  /** e.g. `envtorch.managed=true`. */
  labelSelector?: string;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** Options of delete calls. */
export interface DeleteOptions {
  /**
   * Seconds the containers get between SIGTERM and SIGKILL; 0 kills at once.
   * @default the object's own
   */
  gracePeriodSeconds?: number;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** A DELETE that resolves false when the object was already gone. */
async function deleteIfPresent(
  kube: KubernetesClient,
  path: string,
  options: { json?: unknown; signal?: AbortSignal },
): Promise<boolean> {
  try {
    await kube.request("DELETE", path, options);
    return true;
  } catch (error) {
    if (error instanceof KubernetesNotFoundError) return false;
    throw error;
  }
}

function podsPath(namespace: string, name?: string, sub?: string): string {
  return `/api/v1/namespaces/${enc(namespace)}/pods${name ? `/${enc(name)}` : ""}${
    sub ? `/${sub}` : ""
  }`;
}

/** Pods of one namespace. */
export class PodApi {
  #kube: KubernetesClient;

  /** Wraps `kube`. */
  constructor(kube: KubernetesClient) {
    this.#kube = kube;
  }

  /** Creates a Pod. */
  create(namespace: string, pod: Pod, options: { signal?: AbortSignal } = {}): Promise<Pod> {
    return this.#kube.request<Pod>("POST", podsPath(namespace), { json: pod, ...options });
  }

  /** Reads a Pod. */
  get(namespace: string, name: string, options: { signal?: AbortSignal } = {}): Promise<Pod> {
    return this.#kube.request<Pod>("GET", podsPath(namespace, name), options);
  }

  /** Lists Pods, in one namespace or (namespace `*`) in all. */
  list(namespace: string, options: ListOptions = {}): Promise<PodList> {
    const path = namespace === "*" ? "/api/v1/pods" : podsPath(namespace);
    return this.#kube.request<PodList>("GET", path, {
      query: { labelSelector: options.labelSelector },
      signal: options.signal,
    });
  }

  /** Deletes a Pod; resolves false when it was already gone. */
  delete(namespace: string, name: string, options: DeleteOptions = {}): Promise<boolean> {
    return deleteIfPresent(this.#kube, podsPath(namespace, name), {
      json: options.gracePeriodSeconds === undefined ? undefined : {
        kind: "DeleteOptions",
        apiVersion: "v1",
        gracePeriodSeconds: options.gracePeriodSeconds,
      },
      signal: options.signal,
    });
  }

  /** Watches one Pod from `resourceVersion` on. */
  watch(
    namespace: string,
    name: string,
    options: { resourceVersion?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchEvent<Pod>> {
    return this.#kube.watch<Pod>(podsPath(namespace), {
      query: {
        fieldSelector: `metadata.name=${name}`,
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: false,
      },
      signal: options.signal,
    });
  }

  /** A container's last log lines. */
  async logs(
    namespace: string,
    name: string,
    options: { tailLines?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    return await this.#kube.text(podsPath(namespace, name, "log"), {
      query: { tailLines: options.tailLines ?? 200 },
      signal: options.signal,
    });
  }
}

/** NetworkPolicies of one namespace. */
export class NetworkPolicyApi {
  #kube: KubernetesClient;

  /** Wraps `kube`. */
  constructor(kube: KubernetesClient) {
    this.#kube = kube;
  }

  #path(namespace: string, name?: string) {
    return `/apis/networking.k8s.io/v1/namespaces/${enc(namespace)}/networkpolicies${
      name ? `/${enc(name)}` : ""
    }`;
  }

  /** Creates a policy. */
  create(
    namespace: string,
    policy: NetworkPolicy,
    options: { signal?: AbortSignal } = {},
  ): Promise<NetworkPolicy> {
    return this.#kube.request("POST", this.#path(namespace), { json: policy, ...options });
  }

  /** Reads a policy. */
  get(
    namespace: string,
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<NetworkPolicy> {
    return this.#kube.request("GET", this.#path(namespace, name), options);
  }

  /** Lists policies. */
  list(namespace: string, options: ListOptions = {}): Promise<NetworkPolicyList> {
    const path = namespace === "*"
      ? "/apis/networking.k8s.io/v1/networkpolicies"
      : this.#path(namespace);
    return this.#kube.request("GET", path, {
      query: { labelSelector: options.labelSelector },
      signal: options.signal,
    });
  }

  /** Deletes a policy; resolves false when it was already gone. */
  delete(
    namespace: string,
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    return deleteIfPresent(this.#kube, this.#path(namespace, name), options);
  }
}

/** Services of one namespace (in-cluster reach by name). */
export class ServiceApi {
  #kube: KubernetesClient;

  /** Wraps `kube`. */
  constructor(kube: KubernetesClient) {
    this.#kube = kube;
  }

  #path(namespace: string, name?: string) {
    return `/api/v1/namespaces/${enc(namespace)}/services${name ? `/${enc(name)}` : ""}`;
  }

  /** Creates a Service. */
  create(
    namespace: string,
    service: Service,
    options: { signal?: AbortSignal } = {},
  ): Promise<Service> {
    return this.#kube.request("POST", this.#path(namespace), { json: service, ...options });
  }

  /** Deletes a Service; resolves false when it was already gone. */
  delete(
    namespace: string,
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    return deleteIfPresent(this.#kube, this.#path(namespace, name), options);
  }

  /** Lists Services. */
  list(namespace: string, options: ListOptions = {}): Promise<{ items: Service[] }> {
    const path = namespace === "*" ? "/api/v1/services" : this.#path(namespace);
    return this.#kube.request("GET", path, {
      query: { labelSelector: options.labelSelector },
      signal: options.signal,
    });
  }
}
