/**
 * The labels envtorch puts on every container it starts, and the identity
 * of the owning process: its pid plus its start time and the machine's boot
 * id, so that a reused pid is not taken for the owner.
 *
 * @module
 */

/** Label keys. */
export const LABELS = {
  /** `true` on every container envtorch manages. */
  managed: "envtorch.managed",
  /** The session the container serves (a random id unless the caller names one). */
  session: "envtorch.session",
  /** When the container may be reaped whatever its owner, as an ISO 8601 time. */
  expires: "envtorch.expires",
  /** The owner's pid. */
  ownerPid: "envtorch.owner.pid",
  /** The owner's start time, in clock ticks since boot (`/proc/PID/stat` field 22). */
  ownerStart: "envtorch.owner.start",
  /** The boot id of the owner's machine. */
  ownerBoot: "envtorch.owner.boot",
  /** The owner's host name. */
  ownerHost: "envtorch.owner.host",
  /** The host folder bind-mounted for the unix socket, if any. */
  socketDir: "envtorch.socket-dir",
  /** The host address (`127.0.0.1:PORT`) the provider forwards to the container's socket, if any. */
  forward: "envtorch.forward",
} as const;

/** The prefix of every label envtorch reads. */
export const LABEL_PREFIX = "envtorch.";

/**
 * The labels to create a container with. The engine copies an image's
 * labels onto its containers, so an image could otherwise plant
 * `envtorch.socket-dir` (a folder the reaper removes), a far expiry or a
 * false owner. Every `envtorch.*` label of the image that neither the
 * provider nor the caller sets is blanked (set to the empty string, which
 * is how a label the engine inherits is taken away); the provider's own
 * labels win over the caller's.
 *
 * @example
 * ```ts
 * import { containerLabels } from "./labels.ts";
 * const labels = containerLabels(
 *   { "envtorch.socket-dir": "/home/me", "org.example": "kept" },
 *   {},
 *   { "envtorch.managed": "true" },
 * );
 * console.log(labels); // { "envtorch.socket-dir": "", "envtorch.managed": "true" }
 * ```
 */
export function containerLabels(
  imageLabels: Record<string, string>,
  callerLabels: Record<string, string>,
  providerLabels: Record<string, string>,
): Record<string, string> {
  const blanked = Object.fromEntries(
    Object.keys(imageLabels).filter((key) => key.startsWith(LABEL_PREFIX)).map((key) => [key, ""]),
  );
  return { ...blanked, ...callerLabels, ...providerLabels };
}

/**
 * The `envtorch.*` labels of a created container that differ from those
 * asked for: an image label that got through, or one the engine changed.
 */
export function checkLabels(
  expected: Record<string, string>,
  actual: Record<string, string> | null | undefined,
): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(actual ?? {})) {
    if (key.startsWith(LABEL_PREFIX) && expected[key] !== value) out.push(key);
  }
  return out;
}

/** Who started a container. */
export interface OwnerIdentity {
  /** Process id. */
  pid: number;
  /** Start time in clock ticks since boot; empty where /proc is not available. */
  start: string;
  /** The boot id; empty where /proc is not available. */
  boot: string;
  /** Host name. */
  host: string;
}

/** The start time of a process (field 22 of `/proc/PID/stat`), or undefined if it has exited. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // A zombie (Z) or dead (X) process has exited; only its entry is left.
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

function bootId(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return "";
  }
}

/** This process, as the owner of the containers it starts. */
export function currentOwner(): OwnerIdentity {
  return {
    pid: Deno.pid,
    start: processStartTime(Deno.pid) ?? "",
    boot: bootId(),
    host: Deno.hostname(),
  };
}

/** The labels naming `owner`. */
export function ownerLabels(owner: OwnerIdentity = currentOwner()): Record<string, string> {
  return {
    [LABELS.ownerPid]: String(owner.pid),
    [LABELS.ownerStart]: owner.start,
    [LABELS.ownerBoot]: owner.boot,
    [LABELS.ownerHost]: owner.host,
  };
}

/**
 * Whether the process a container's labels name still runs: `gone` only when
 * that can be told for sure (same machine and boot, and no process with that
 * pid and start time); `unknown` when the owner is on another machine or
 * its identity cannot be read.
 */
export function ownerStatus(labels: Record<string, string>): "alive" | "gone" | "unknown" {
  const pid = Number(labels[LABELS.ownerPid]);
  const start = labels[LABELS.ownerStart];
  const boot = labels[LABELS.ownerBoot];
  if (!Number.isInteger(pid) || pid <= 0 || !start || !boot) return "unknown";
  const here = currentOwner();
  if (!here.boot || labels[LABELS.ownerHost] !== here.host) return "unknown";
  if (boot !== here.boot) return "gone";
  const now = processStartTime(pid);
  return now === start ? "alive" : "gone";
}
