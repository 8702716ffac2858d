/**
 * What the machine the server runs on bounds for every worker, read from
 * /proc and /sys rather than assumed: whether there is any network but
 * loopback, the cgroup's pids limit, and whether the work folder sits on a
 * size-limited tmpfs under a read-only root. In the `coding-env` container
 * (NetworkMode none, PidsLimit, read-only root, tmpfs /tmp) all three hold;
 * on a developer's host usually none does. The reset observation's
 * `metadata.isolation` reports them.
 *
 * @module
 */

/** Limits the system puts on every process of the server, workers included. */
export interface SystemLimits {
  /** There is no network interface but loopback (a container with NetworkMode none). */
  networkBlocked: boolean;
  /** The cgroup's `pids.max` (processes and threads), or null when none is visible. */
  pidsMax: number | null;
  /** Size in bytes of the tmpfs holding the work folder, or null when it is not a sized tmpfs. */
  tmpfsBytes: number | null;
  /** The root file system is mounted read-only. */
  readOnlyRoot: boolean;
}

/** Names of the network interfaces in the text of /proc/net/dev. */
export function parseNetDev(text: string): string[] {
  return text.split("\n").slice(2).map((line) => line.split(":")[0]!.trim()).filter(Boolean);
}

/** One mount of /proc/self/mountinfo. */
export interface MountInfo {
  /** Where it is mounted. */
  mountPoint: string;
  /** Per-mount options (`ro`, `rw`, `noexec`, ...). */
  options: string[];
  /** File system type, e.g. `tmpfs`. */
  fsType: string;
  /** Super block options, e.g. `size=65536k`. */
  superOptions: string[];
}

/** Parses the text of /proc/self/mountinfo. */
export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const [head, tail] = line.split(" - ");
    if (!head || !tail) continue;
    const fields = head.split(" ");
    const [fsType, , superOptions = ""] = tail.split(" ");
    if (fields.length < 6 || !fsType) continue;
    mounts.push({
      mountPoint: unescapeMountPath(fields[4]!),
      options: fields[5]!.split(","),
      fsType,
      superOptions: superOptions.split(","),
    });
  }
  return mounts;
}

function unescapeMountPath(path: string): string {
  return path.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}

/** The mount that holds `path` (the last, longest mount point that is a prefix of it). */
export function mountOf(mounts: MountInfo[], path: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const prefix = m.mountPoint === "/" ? "/" : `${m.mountPoint}/`;
    if (path !== m.mountPoint && !path.startsWith(prefix)) continue;
    if (!best || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  return best;
}

/** Bytes of a tmpfs `size=` option (`65536k`, `64m`, bytes), or null. */
export function tmpfsSize(mount: MountInfo | undefined): number | null {
  if (mount?.fsType !== "tmpfs") return null;
  const option = mount.superOptions.find((o) => o.startsWith("size="));
  const m = option && /^size=(\d+)([kmg]?)$/i.exec(option);
  if (!m) return null;
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1;
  return Number(m[1]) * unit;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

const cache = new Map<string, Promise<SystemLimits>>();

/**
 * Reads the system's limits for workers whose folders live under `workFolder`.
 * Read once per folder and process (none of it changes while a server runs).
 *
 * @example
 * ```ts
 * import { readSystemLimits } from "./system_limits.ts";
 * const limits = await readSystemLimits("/tmp");
 * console.log(limits.networkBlocked, limits.pidsMax);
 * ```
 */
export function readSystemLimits(workFolder: string): Promise<SystemLimits> {
  let limits = cache.get(workFolder);
  if (!limits) {
    limits = read(workFolder);
    cache.set(workFolder, limits);
  }
  return limits;
}

async function read(workFolder: string): Promise<SystemLimits> {
  const [netDev, mountText, v2, v1] = await Promise.all([
    readText("/proc/net/dev"),
    readText("/proc/self/mountinfo"),
    readText("/sys/fs/cgroup/pids.max"),
    readText("/sys/fs/cgroup/pids/pids.max"),
  ]);
  const interfaces = netDev === undefined ? ["unknown"] : parseNetDev(netDev);
  const pidsText = (v2 ?? v1)?.trim();
  const pidsMax = pidsText && /^\d+$/.test(pidsText) ? Number(pidsText) : null;
  const mounts = mountText ? parseMountInfo(mountText) : [];
  const root = mountOf(mounts, "/");
  return {
    networkBlocked: interfaces.every((name) => name === "lo"),
    pidsMax,
    tmpfsBytes: tmpfsSize(mountOf(mounts, workFolder)),
    readOnlyRoot: root?.options.includes("ro") ?? false,
  };
}
