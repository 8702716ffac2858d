/**
 * The labels and annotations envtorch puts on every Pod it starts: the same
 * keys as on Docker containers (`envtorch.managed`, session, owner, expiry),
 * with values made valid Kubernetes label values (at most 63 characters of
 * `[A-Za-z0-9._-]`, so the expiry is a label in Unix seconds and an
 * annotation in ISO 8601).
 *
 * @module
 */
import { currentOwner, LABELS, type OwnerIdentity, ownerStatus } from "../docker/labels.ts";

export { LABELS };

/** Label keys only Pods have. */
export const POD_LABELS = {
  /** The env's name, when started by name. */
  env: "envtorch.env",
  /** `deny` when the Pod is under envtorch's deny-egress NetworkPolicy. */
  egress: "envtorch.egress",
  /** The expiry as an ISO 8601 time (an annotation). */
  expiresAt: "envtorch.expires-at",
} as const;

/** Makes `value` a valid label value (it may shorten it). */
export function labelValue(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

/** The labels naming `owner`, as label values. */
export function podOwnerLabels(owner: OwnerIdentity = currentOwner()): Record<string, string> {
  return {
    [LABELS.ownerPid]: String(owner.pid),
    [LABELS.ownerStart]: labelValue(owner.start),
    [LABELS.ownerBoot]: labelValue(owner.boot),
    [LABELS.ownerHost]: labelValue(owner.host),
  };
}

/**
 * Whether the process a Pod's labels name still runs: `gone` only when that
 * can be told for sure (this machine and boot, no process with that pid and
 * start time), `unknown` for an owner on another machine.
 */
export function podOwnerStatus(labels: Record<string, string>): "alive" | "gone" | "unknown" {
  const host = Deno.hostname();
  if (labels[LABELS.ownerHost] !== labelValue(host)) return "unknown";
  return ownerStatus({ ...labels, [LABELS.ownerHost]: host });
}

/** The expiry a Pod's labels name, if any. */
export function podExpiry(labels: Record<string, string>): Date | undefined {
  const seconds = Number(labels[LABELS.expires]);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}
