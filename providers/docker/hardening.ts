/**
 * The container hardening of docs/security.md as a HostConfig, and the check
 * that the engine applied it: the engine ignores unknown JSON fields, so a
 * typo would silently disable a limit. Every env container gets these
 * defaults unless the caller raises a limit explicitly.
 *
 * @module
 */
import type { ContainerInspect, HostConfig } from "./engine_types.ts";
import { isForeignSeccomp, SECCOMP_SECURITY_OPT } from "./seccomp.ts";

/** Capabilities a caller may add back (the coding env's launcher needs these). */
export type AllowedCapability = "SETUID" | "SETGID" | "KILL";

/** Limits and isolation of a container; each field raises one default explicitly. */
export interface HardeningOptions {
  /**
   * Memory limit in bytes; swap is disabled (MemorySwap = Memory).
   * @default 1073741824 (1 GiB)
   */
  memoryBytes?: number;
  /**
   * CPUs the container may use.
   * @default 1
   */
  cpus?: number;
  /**
   * Most processes and threads at once.
   * @default 128
   */
  pids?: number;
  /**
   * Most open files (soft and hard).
   * @default 1024
   */
  nofile?: number;
  /**
   * Size of the `/tmp` tmpfs, e.g. `64m`.
   * @default "64m"
   */
  tmpSize?: string;
  /** Extra tmpfs mounts: path to mount options, e.g. `{ "/scratch": "rw,noexec,nosuid,size=16m" }`. */
  tmpfs?: Record<string, string>;
  /**
   * Network mode: `none` (no network at all) or `bridge` (needed to publish a
   * port through the engine). Only an explicit `bridge` gives the container
   * a network: the provider publishes ports from the host side instead.
   * @default "none"
   */
  network?: string;
  /**
   * Size in bytes of `/dev/shm` (POSIX shared memory).
   * @default 16777216 (16 MiB)
   */
  shmSize?: number;
  /** System V IPC limits of the container's own IPC namespace. */
  ipc?: IpcLimits;
  /** Capabilities added back after dropping all (only SETUID, SETGID and KILL are allowed). */
  capAdd?: AllowedCapability[];
  /**
   * Largest size of one log file before the engine rotates it.
   * @default "10m"
   */
  logMaxSize?: string;
  /**
   * Log files kept.
   * @default "3"
   */
  logMaxFiles?: string;
}

/**
 * System V IPC limits, set as the container's `kernel.*` sysctls (each
 * container has its own IPC namespace). Segments are also removed as soon
 * as no process has them attached (`kernel.shm_rmid_forced=1`), so a
 * finished process cannot park memory in detached segments.
 */
export interface IpcLimits {
  /**
   * Largest shared memory segment (`kernel.shmmax`), in bytes.
   * @default 16777216 (16 MiB)
   */
  shmMaxBytes?: number;
  /**
   * All shared memory segments together (`kernel.shmall`, set in 4 KiB pages), in bytes.
   * @default 16777216 (16 MiB)
   */
  shmTotalBytes?: number;
  /**
   * Most shared memory segments (`kernel.shmmni`).
   * @default 32
   */
  shmSegments?: number;
  /**
   * Largest message queue (`kernel.msgmnb`), in bytes.
   * @default 16384
   */
  msgQueueBytes?: number;
}

/**
 * The most an image may ask for through its labels. A caller's explicit
 * options are not bounded by these (only checked to be positive).
 */
export interface ImageLimitCeilings {
  /**
   * Memory (`envtorch.memory`), in bytes.
   * @default a quarter of the host's memory
   */
  memoryBytes?: number;
  /**
   * Size of `/tmp` (`envtorch.tmp-size`), in bytes.
   * @default a quarter of the host's memory
   */
  tmpBytes?: number;
  /**
   * Processes and threads (`envtorch.pids`).
   * @default 4096
   */
  pids?: number;
  /**
   * CPUs (`envtorch.cpus`).
   * @default the host's CPU count
   */
  cpus?: number;
  /**
   * System V shared memory (`envtorch.shm-total`), in bytes.
   * @default 268435456 (256 MiB)
   */
  shmBytes?: number;
}

/** The ceilings of {@link ImageLimitCeilings} with their defaults filled in. */
export function defaultCeilings(given: ImageLimitCeilings = {}): Required<ImageLimitCeilings> {
  let hostMemory = 4 * GIB;
  try {
    hostMemory = Deno.systemMemoryInfo().total;
  } catch {
    // No /proc/meminfo: keep a 4 GiB host in mind.
  }
  return {
    memoryBytes: given.memoryBytes ?? Math.floor(hostMemory / 4),
    tmpBytes: given.tmpBytes ?? Math.floor(hostMemory / 4),
    pids: given.pids ?? 4096,
    cpus: given.cpus ?? (navigator.hardwareConcurrency || 1),
    shmBytes: given.shmBytes ?? 256 * 1024 ** 2,
  };
}

/**
 * Image labels through which an env image asks for what its server needs
 * (the coding env's launcher: CAP_SETUID, CAP_SETGID and CAP_KILL, more
 * memory, pids and /tmp). The provider applies them where the caller gives
 * no value of its own, only within what {@link hardenedHostConfig} allows,
 * reads them back like every other field, and reports them
 * (`DockerContainer.imageHardening`).
 */
export const IMAGE_HARDENING_LABELS = {
  /** Capabilities to add back, e.g. `SETUID,SETGID,KILL` (only these three are allowed). */
  capAdd: "envtorch.cap-add",
  /** Memory limit, e.g. `2g` or bytes. */
  memoryBytes: "envtorch.memory",
  /** Most processes and threads, e.g. `512`. */
  pids: "envtorch.pids",
  /** Size of the `/tmp` tmpfs, e.g. `256m`. */
  tmpSize: "envtorch.tmp-size",
  /** CPUs, e.g. `2` or `0.5`. */
  cpus: "envtorch.cpus",
  /** System V shared memory for all segments together (and the largest one), e.g. `64m`. */
  shmTotal: "envtorch.shm-total",
} as const;

const GIB = 1024 ** 3;
const ALLOWED_CAPS = new Set<string>(["SETUID", "SETGID", "KILL"]);
const MIB = 1024 ** 2;
const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses `64m`, `2g`, `1048576` into bytes; undefined when malformed. */
export function parseSizeBytes(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([bkmg]?)\s*$/i.exec(text);
  return m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : undefined;
}

function formatBytes(bytes: number): string {
  return bytes % GIB === 0
    ? `${bytes / GIB} GiB`
    : bytes % MIB === 0
    ? `${bytes / MIB} MiB`
    : `${bytes} bytes`;
}

/** The default IPC limits. */
export const DEFAULT_IPC_LIMITS: Readonly<Required<IpcLimits>> = {
  shmMaxBytes: 16 * MIB,
  shmTotalBytes: 16 * MIB,
  shmSegments: 32,
  msgQueueBytes: 16384,
};

/** The container's sysctls for `ipc` (IPC namespace only: nothing here reaches the host). */
export function ipcSysctls(ipc: IpcLimits = {}): Record<string, string> {
  const limits = { ...DEFAULT_IPC_LIMITS, ...definedFields(ipc) };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(`ipc.${key} must be a positive integer, got ${value}`);
    }
  }
  return {
    "kernel.shmmax": String(limits.shmMaxBytes),
    "kernel.shmall": String(Math.ceil(limits.shmTotalBytes / 4096)),
    "kernel.shmmni": String(limits.shmSegments),
    "kernel.shm_rmid_forced": "1",
    "kernel.msgmnb": String(limits.msgQueueBytes),
    "kernel.msgmni": "32",
    "fs.mqueue.queues_max": "16",
  };
}

function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * What an image asks for through its {@link IMAGE_HARDENING_LABELS}; throws
 * a TypeError naming the label for a value that cannot be honoured (a
 * capability other than SETUID, SETGID or KILL, a malformed size).
 *
 * @example
 * ```ts
 * import { hardeningFromLabels } from "./hardening.ts";
 * const asked = hardeningFromLabels({ "envtorch.cap-add": "SETUID,SETGID,KILL", "envtorch.memory": "2g" });
 * console.log(asked); // { capAdd: ["SETUID", "SETGID", "KILL"], memoryBytes: 2147483648 }
 * ```
 */
export function hardeningFromLabels(
  labels: Record<string, string> = {},
  ceilings: ImageLimitCeilings = {},
): HardeningOptions {
  const max = defaultCeilings(ceilings);
  const out: HardeningOptions = {};
  const caps = labels[IMAGE_HARDENING_LABELS.capAdd];
  if (caps !== undefined && caps.trim() !== "") {
    const list = caps.split(",").map((c) => c.trim().toUpperCase().replace(/^CAP_/, ""));
    for (const cap of list) {
      if (!ALLOWED_CAPS.has(cap)) {
        throw new TypeError(
          `The image asks for capability ${cap} (label ${IMAGE_HARDENING_LABELS.capAdd}): ` +
            "only SETUID, SETGID and KILL may be added",
        );
      }
    }
    out.capAdd = [...new Set(list)] as AllowedCapability[];
  }
  const size = (label: string, what: string, ceiling: number, floor = 1): number | undefined => {
    const text = labels[label];
    if (text === undefined) return undefined;
    const bytes = parseSizeBytes(text);
    if (bytes === undefined) {
      throw new TypeError(
        `Invalid ${what} ${JSON.stringify(text)} (label ${label}): expected a size like 256m`,
      );
    }
    if (bytes < floor) {
      throw new TypeError(
        `The image asks for ${what} ${JSON.stringify(text)} (label ${label}): ` +
          `it must be at least ${formatBytes(floor)}${
            bytes === 0 ? " (0 would mean no limit)" : ""
          }`,
      );
    }
    if (bytes > ceiling) {
      throw new TypeError(
        `The image asks for ${what} ${JSON.stringify(text)} (label ${label}): ` +
          `more than the ${formatBytes(ceiling)} an image may ask for`,
      );
    }
    return bytes;
  };
  out.memoryBytes = size(IMAGE_HARDENING_LABELS.memoryBytes, "memory", max.memoryBytes, 6 * MIB);
  const tmpBytes = size(IMAGE_HARDENING_LABELS.tmpSize, "/tmp size", max.tmpBytes);
  if (tmpBytes !== undefined) out.tmpSize = labels[IMAGE_HARDENING_LABELS.tmpSize]!.trim();
  const shm = size(IMAGE_HARDENING_LABELS.shmTotal, "shared memory", max.shmBytes);
  if (shm !== undefined) out.ipc = { shmTotalBytes: shm, shmMaxBytes: shm };
  const pids = labels[IMAGE_HARDENING_LABELS.pids];
  if (pids !== undefined) {
    if (!/^\s*\d+\s*$/.test(pids)) {
      throw new TypeError(
        `Invalid pids ${
          JSON.stringify(pids)
        } (label ${IMAGE_HARDENING_LABELS.pids}): expected an integer`,
      );
    }
    const n = Number(pids);
    if (n < 8 || n > max.pids) {
      throw new TypeError(
        `The image asks for pids ${n} (label ${IMAGE_HARDENING_LABELS.pids}): ` +
          `an image may ask for 8 to ${max.pids}`,
      );
    }
    out.pids = n;
  }
  const cpus = labels[IMAGE_HARDENING_LABELS.cpus];
  if (cpus !== undefined) {
    // `all`: every core the ceiling allows (the host's), for images that serve many sessions.
    const n = cpus.trim() === "all"
      ? max.cpus
      : /^\s*\d+(\.\d+)?\s*$/.test(cpus)
      ? Number(cpus)
      : NaN;
    if (Number.isNaN(n)) {
      throw new TypeError(
        `Invalid cpus ${
          JSON.stringify(cpus)
        } (label ${IMAGE_HARDENING_LABELS.cpus}): expected a number like 2 or 0.5, or all`,
      );
    }
    if (n < 0.01 || n > max.cpus) {
      throw new TypeError(
        `The image asks for cpus ${n} (label ${IMAGE_HARDENING_LABELS.cpus}): ` +
          `an image may ask for 0.01 to ${max.cpus}`,
      );
    }
    out.cpus = n;
  }
  return definedFields(out);
}

/** Where the server is published or mounted; set by the provider. */
export interface ExposureOptions {
  /** Host folder bind-mounted at `containerPath` (for the unix socket). */
  socketDir?: { hostPath: string; containerPath: string };
  /** A container port published on 127.0.0.1 (needs an explicit network other than `none`). */
  publish?: { containerPort: number; hostPort?: number };
  /** The image's `VOLUME` paths: each is covered by a sized tmpfs instead of a writable volume. */
  volumes?: string[];
}

/** A field whose read-back value differs from the one asked for. */
export interface HostConfigMismatch {
  /** e.g. `HostConfig.PidsLimit`. */
  field: string;
  /** What envtorch asked for. */
  expected: unknown;
  /** What the engine reports. */
  actual: unknown;
}

/** Builds the hardened HostConfig for a container. */
export function hardenedHostConfig(
  options: HardeningOptions = {},
  exposure: ExposureOptions = {},
): HostConfig {
  const memory = options.memoryBytes ?? GIB;
  const cpus = options.cpus ?? 1;
  const pids = options.pids ?? 128;
  const nofile = options.nofile ?? 1024;
  for (const cap of options.capAdd ?? []) {
    if (!ALLOWED_CAPS.has(cap)) {
      throw new TypeError(`Capability ${cap} cannot be added: only SETUID, SETGID and KILL may be`);
    }
  }
  if (!(memory >= 6 * 1024 * 1024)) throw new TypeError("memoryBytes must be at least 6 MiB");
  if (!(cpus > 0)) throw new TypeError("cpus must be more than 0");
  if (!Number.isInteger(pids) || pids < 8) {
    throw new TypeError("pids must be an integer of at least 8");
  }
  const network = options.network ?? "none";
  if (exposure.publish && network === "none") {
    throw new TypeError(
      "A port published by the engine needs a network: ask for network bridge explicitly, " +
        "or let the provider forward a host port to the container's unix socket",
    );
  }
  if (network === "host") throw new TypeError("Network mode host is not allowed");
  const tmpSize = options.tmpSize ?? "64m";
  const tmpBytes = /^\d+[kmg]?$/i.test(tmpSize) ? parseSizeBytes(tmpSize) : undefined;
  if (!tmpBytes) {
    throw new TypeError(
      `tmpSize must be a size of more than 0 like 64m, got ${JSON.stringify(tmpSize)}` +
        (tmpBytes === 0 ? " (0 would mean no limit)" : ""),
    );
  }
  for (const [path, opts] of Object.entries(options.tmpfs ?? {})) {
    if (/(^|,)size=0*[kmg%]?(,|$)/i.test(opts)) {
      throw new TypeError(`Tmpfs ${path} has size 0, which would mean no limit`);
    }
  }
  const shmSize = options.shmSize ?? 16 * MIB;
  if (!Number.isSafeInteger(shmSize) || shmSize <= 0) {
    throw new TypeError(`shmSize must be a positive number of bytes, got ${shmSize}`);
  }
  const tmpfs: Record<string, string> = {};
  // An image VOLUME would be a writable volume of unbounded size: a tmpfs the size of /tmp hides it.
  for (const volume of exposure.volumes ?? []) {
    tmpfs[volume] = `rw,noexec,nosuid,nodev,size=${tmpSize}`;
  }
  Object.assign(tmpfs, { "/tmp": `rw,noexec,nosuid,nodev,size=${tmpSize}` }, options.tmpfs);
  const config: HostConfig = {
    CapDrop: ["ALL"],
    CapAdd: options.capAdd?.length ? [...options.capAdd] : null,
    SecurityOpt: ["no-new-privileges", SECCOMP_SECURITY_OPT],
    ReadonlyRootfs: true,
    Tmpfs: tmpfs,
    Memory: memory,
    MemorySwap: memory,
    NanoCpus: Math.round(cpus * 1e9),
    PidsLimit: pids,
    Ulimits: [
      { Name: "nofile", Soft: nofile, Hard: nofile },
      { Name: "core", Soft: 0, Hard: 0 },
    ],
    Init: true,
    CgroupnsMode: "private",
    IpcMode: "private",
    ShmSize: shmSize,
    Sysctls: ipcSysctls(options.ipc),
    NetworkMode: network,
    LogConfig: {
      Type: "json-file",
      Config: { "max-size": options.logMaxSize ?? "10m", "max-file": options.logMaxFiles ?? "3" },
    },
    Privileged: false,
    Binds: exposure.socketDir
      ? [`${exposure.socketDir.hostPath}:${exposure.socketDir.containerPath}:rw`]
      : null,
    PortBindings: exposure.publish
      ? {
        [`${exposure.publish.containerPort}/tcp`]: [{
          HostIp: "127.0.0.1",
          HostPort: exposure.publish.hostPort ? String(exposure.publish.hostPort) : "",
        }],
      }
      : null,
  };
  return config;
}

function sorted(values: string[] | null | undefined): string[] {
  return [...(values ?? [])].map((v) => v.replace(/^CAP_/, "")).sort();
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map((
        [k, v],
      ) => [k, canonical(v)]),
    );
  }
  return value;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/**
 * Compares the HostConfig the engine reports with the one asked for, field
 * by field, and checks what must never be there (privileged mode, the
 * engine's socket, unconfined seccomp or AppArmor, host networking or
 * namespaces). Returns every mismatch; empty means the container is as asked.
 */
export function checkHostConfig(expected: HostConfig, actual: HostConfig): HostConfigMismatch[] {
  const out: HostConfigMismatch[] = [];
  const check = (field: string, want: unknown, got: unknown) => {
    if (!same(want, got)) out.push({ field: `HostConfig.${field}`, expected: want, actual: got });
  };
  check("CapDrop", sorted(expected.CapDrop), sorted(actual.CapDrop));
  check("CapAdd", sorted(expected.CapAdd), sorted(actual.CapAdd));
  for (const opt of expected.SecurityOpt ?? []) {
    if (!(actual.SecurityOpt ?? []).includes(opt)) {
      out.push({ field: "HostConfig.SecurityOpt", expected: opt, actual: actual.SecurityOpt });
    }
  }
  for (const opt of actual.SecurityOpt ?? []) {
    if (/unconfined/.test(opt)) {
      out.push({ field: "HostConfig.SecurityOpt", expected: "no unconfined profile", actual: opt });
    } else if (
      isForeignSeccomp(opt) && (expected.SecurityOpt ?? []).includes(SECCOMP_SECURITY_OPT)
    ) {
      out.push({
        field: "HostConfig.SecurityOpt",
        expected: "envtorch's seccomp profile",
        actual: `${opt.slice(0, 60)}...`,
      });
    }
  }
  check("ReadonlyRootfs", expected.ReadonlyRootfs, actual.ReadonlyRootfs);
  check("Tmpfs", expected.Tmpfs ?? {}, actual.Tmpfs ?? {});
  check("Memory", expected.Memory, actual.Memory);
  check("MemorySwap", expected.MemorySwap, actual.MemorySwap);
  check("NanoCpus", expected.NanoCpus, actual.NanoCpus);
  check("PidsLimit", expected.PidsLimit, actual.PidsLimit);
  const ulimits = (u: HostConfig["Ulimits"]) =>
    [...(u ?? [])].map((x) => `${x.Name}=${x.Soft}:${x.Hard}`).sort();
  check("Ulimits", ulimits(expected.Ulimits), ulimits(actual.Ulimits));
  check("Init", expected.Init, actual.Init);
  // API 1.40 has no CgroupnsMode: only check it where the engine reports it.
  if (actual.CgroupnsMode !== undefined) {
    check("CgroupnsMode", expected.CgroupnsMode, actual.CgroupnsMode);
  }
  check("IpcMode", expected.IpcMode ?? "", actual.IpcMode ?? "");
  check("ShmSize", expected.ShmSize, actual.ShmSize);
  check("Sysctls", expected.Sysctls ?? {}, actual.Sysctls ?? {});
  check("NetworkMode", expected.NetworkMode, actual.NetworkMode);
  check("LogConfig.Type", expected.LogConfig?.Type, actual.LogConfig?.Type);
  check(
    "LogConfig.Config.max-size",
    expected.LogConfig?.Config?.["max-size"],
    actual.LogConfig?.Config?.["max-size"],
  );
  check("Binds", expected.Binds ?? [], actual.Binds ?? []);
  check("PortBindings", expected.PortBindings ?? {}, actual.PortBindings ?? {});
  for (const binds of Object.values(actual.PortBindings ?? {})) {
    for (const b of binds ?? []) {
      if (b.HostIp !== "127.0.0.1") {
        out.push({
          field: "HostConfig.PortBindings.HostIp",
          expected: "127.0.0.1",
          actual: b.HostIp,
        });
      }
    }
  }
  if (actual.Privileged) {
    out.push({ field: "HostConfig.Privileged", expected: false, actual: true });
  }
  for (const bind of actual.Binds ?? []) {
    if (/docker\.sock|containerd\.sock/.test(bind)) {
      out.push({ field: "HostConfig.Binds", expected: "no engine socket", actual: bind });
    }
  }
  for (const ns of ["PidMode", "IpcMode", "UTSMode", "UsernsMode"]) {
    if (actual[ns] === "host") {
      out.push({ field: `HostConfig.${ns}`, expected: "not host", actual: "host" });
    }
  }
  if (actual.NetworkMode === "host") {
    out.push({ field: "HostConfig.NetworkMode", expected: "not host", actual: "host" });
  }
  return out;
}

/**
 * Checks a created container's `Mounts`: the only mount the engine may
 * report is the socket folder's bind mount. Anything else (an image
 * `VOLUME` that became a writable volume, a stray bind) is a mismatch.
 */
export function checkMounts(
  exposure: ExposureOptions,
  mounts: ContainerInspect["Mounts"],
): HostConfigMismatch[] {
  const out: HostConfigMismatch[] = [];
  for (const m of mounts ?? []) {
    const socket = exposure.socketDir;
    const isSocket = socket && m.Type === "bind" && m.Source === socket.hostPath &&
      m.Destination === socket.containerPath;
    if (!isSocket) {
      out.push({
        field: "Mounts",
        expected: socket ? `only ${socket.hostPath}:${socket.containerPath}` : "no mount",
        actual: `${m.Type} at ${m.Destination}${m.RW ? " (writable)" : ""}`,
      });
    }
  }
  return out;
}
