/**
 * The container hardening of SECURITY.md as a HostConfig, and the check
 * that the engine applied it: the engine ignores unknown JSON fields, so a
 * typo would silently disable a limit. Every env container gets these
 * defaults unless the caller raises a limit explicitly.
 *
 * @module
 */
import type { HostConfig } from "./engine_types.ts";

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
   * Network mode: `none` (no network at all) or `bridge` (needed to publish a port).
   * @default "none" with a unix socket, "bridge" with a published port
   */
  network?: string;
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
} as const;

const GIB = 1024 ** 3;
const ALLOWED_CAPS = new Set<string>(["SETUID", "SETGID", "KILL"]);
const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

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
export function hardeningFromLabels(labels: Record<string, string> = {}): HardeningOptions {
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
  const memory = labels[IMAGE_HARDENING_LABELS.memoryBytes];
  if (memory !== undefined) {
    const m = /^\s*(\d+)\s*([bkmg]?)\s*$/i.exec(memory);
    if (!m) {
      throw new TypeError(
        `Invalid memory ${
          JSON.stringify(memory)
        } (label ${IMAGE_HARDENING_LABELS.memoryBytes}): expected e.g. 2g`,
      );
    }
    out.memoryBytes = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  }
  const pids = labels[IMAGE_HARDENING_LABELS.pids];
  if (pids !== undefined) {
    if (!/^\s*\d+\s*$/.test(pids)) {
      throw new TypeError(
        `Invalid pids ${
          JSON.stringify(pids)
        } (label ${IMAGE_HARDENING_LABELS.pids}): expected an integer`,
      );
    }
    out.pids = Number(pids);
  }
  const tmpSize = labels[IMAGE_HARDENING_LABELS.tmpSize];
  if (tmpSize !== undefined) {
    if (!/^\d+[kmg]?$/i.test(tmpSize)) {
      throw new TypeError(
        `Invalid /tmp size ${
          JSON.stringify(tmpSize)
        } (label ${IMAGE_HARDENING_LABELS.tmpSize}): expected e.g. 256m`,
      );
    }
    out.tmpSize = tmpSize;
  }
  return out;
}

/** Where the server is published or mounted; set by the provider. */
export interface ExposureOptions {
  /** Host folder bind-mounted at `containerPath` (for the unix socket). */
  socketDir?: { hostPath: string; containerPath: string };
  /** A container port published on 127.0.0.1. */
  publish?: { containerPort: number; hostPort?: number };
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
  const network = options.network ?? (exposure.publish ? "bridge" : "none");
  if (exposure.publish && network === "none") {
    throw new TypeError("A published port needs a network: use a unix socket with network none");
  }
  if (network === "host") throw new TypeError("Network mode host is not allowed");
  const tmpfs: Record<string, string> = {
    "/tmp": `rw,noexec,nosuid,nodev,size=${options.tmpSize ?? "64m"}`,
    ...options.tmpfs,
  };
  const config: HostConfig = {
    CapDrop: ["ALL"],
    CapAdd: options.capAdd?.length ? [...options.capAdd] : null,
    SecurityOpt: ["no-new-privileges"],
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
