/**
 * The Pods envtorch manages (label `envtorch.managed=true`): listing them
 * with their owner's status, and the reaper that deletes those whose owner
 * process is gone or whose expiry passed.
 *
 * @module
 */
import type { KubernetesClient } from "./client.ts";
import { LABELS, podExpiry, podOwnerStatus } from "./labels.ts";
import { PodApi, ServiceApi } from "./pods.ts";
import type { Pod } from "./types.ts";

/** A managed Pod, as `envtorch ps --provider k8s` shows it. */
export interface ManagedPod {
  /** Name. */
  name: string;
  /** Namespace. */
  namespace: string;
  /** Image reference. */
  image: string;
  /** `Pending`, `Running`, `Succeeded`, `Failed`; `Terminating` once deleted. */
  phase: string;
  /** Creation time. */
  created: Date;
  /** The session label. */
  session?: string;
  /** The owner's pid. */
  ownerPid?: number;
  /** Whether the owner still runs. */
  owner: "alive" | "gone" | "unknown";
  /** When it expires. */
  expires?: Date;
  /** Its labels. */
  labels: Record<string, string>;
}

/** Why the reaper deleted a Pod. */
export type PodReapReason = "owner-gone" | "expired";

/** A Pod the reaper deleted (or would, in a dry run). */
export interface ReapedPod extends ManagedPod {
  /** Why. */
  reason: PodReapReason;
  /** Set when the deletion failed. */
  error?: string;
}

/** Options of {@link listManagedPods} and {@link reapPods}. */
export interface ManagedPodOptions {
  /**
   * Namespace to look in; `*` for all (needs the right to list Pods cluster-wide).
   * @default the client's namespace
   */
  namespace?: string;
  /** An extra label selector, e.g. `envtorch.test=abc`. */
  labelSelector?: string;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** Options of {@link reapPods}. */
export interface PodReapOptions extends ManagedPodOptions {
  /** Only report what would be deleted. */
  dryRun?: boolean;
  /**
   * The time to compare expiries with.
   * @default now
   */
  now?: Date;
}

/** What `envtorch ps` shows of a Pod. */
export function describePod(pod: Pod): ManagedPod {
  const labels = pod.metadata.labels ?? {};
  return {
    name: pod.metadata.name ?? "",
    namespace: pod.metadata.namespace ?? "",
    image: pod.spec.containers[0]?.image ?? "",
    phase: pod.metadata.deletionTimestamp ? "Terminating" : pod.status?.phase ?? "Unknown",
    created: new Date(pod.metadata.creationTimestamp ?? 0),
    session: labels[LABELS.session],
    ownerPid: labels[LABELS.ownerPid] ? Number(labels[LABELS.ownerPid]) : undefined,
    owner: podOwnerStatus(labels),
    expires: podExpiry(labels),
    labels,
  };
}

function selector(extra?: string): string {
  return [`${LABELS.managed}=true`, extra].filter(Boolean).join(",");
}

/** Every Pod envtorch manages in the namespace, oldest first. */
export async function listManagedPods(
  kube: KubernetesClient,
  options: ManagedPodOptions = {},
): Promise<ManagedPod[]> {
  const list = await new PodApi(kube).list(options.namespace ?? kube.namespace, {
    labelSelector: selector(options.labelSelector),
    signal: options.signal,
  });
  return list.items.map(describePod).sort((a, b) => a.created.getTime() - b.created.getTime());
}

/** Deletes one managed Pod at once (grace 0) and the Service of the same name, if envtorch made one. */
export async function deleteManagedPod(
  kube: KubernetesClient,
  pod: { namespace: string; name: string },
  options: { gracePeriodSeconds?: number; signal?: AbortSignal } = {},
): Promise<void> {
  await new PodApi(kube).delete(pod.namespace, pod.name, {
    gracePeriodSeconds: options.gracePeriodSeconds ?? 0,
    signal: options.signal,
  });
}

/**
 * Deletes managed Pods whose owner process is gone (same machine and boot,
 * pid no longer that process) or whose expiry passed, with their Services.
 * Pods of live owners, or of owners on other machines, are left alone.
 *
 * @example
 * ```ts ignore
 * for (const pod of await reapPods(kube)) console.log(`deleted ${pod.name}: ${pod.reason}`);
 * ```
 */
export async function reapPods(
  kube: KubernetesClient,
  options: PodReapOptions = {},
): Promise<ReapedPod[]> {
  const now = (options.now ?? new Date()).getTime();
  const reaped: ReapedPod[] = [];
  const services = new ServiceApi(kube);
  for (const pod of await listManagedPods(kube, options)) {
    if (pod.phase === "Terminating") continue;
    const reason: PodReapReason | undefined = pod.owner === "gone"
      ? "owner-gone"
      : pod.expires && pod.expires.getTime() <= now
      ? "expired"
      : undefined;
    if (!reason) continue;
    const entry: ReapedPod = { ...pod, reason };
    if (!options.dryRun) {
      try {
        await deleteManagedPod(kube, pod, { signal: options.signal });
        if (pod.labels[SERVICE_LABEL] === "true") {
          await services.delete(pod.namespace, pod.name, { signal: options.signal });
        }
      } catch (error) {
        entry.error = (error as Error).message;
      }
    }
    reaped.push(entry);
  }
  return reaped;
}

/** `true` on a Pod that has a Service of its own name. */
export const SERVICE_LABEL = "envtorch.service";
