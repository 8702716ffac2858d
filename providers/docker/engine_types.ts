/**
 * The parts of the Docker Engine API's request and response shapes that
 * envtorch uses (API 1.40 and later). Field names are the engine's own.
 * Responses carry more fields than listed; they are kept, not checked.
 *
 * @module
 */

/** One `--ulimit`. */
export interface Ulimit {
  /** e.g. `nofile`. */
  Name: string;
  /** Soft limit. */
  Soft: number;
  /** Hard limit. */
  Hard: number;
}

/** A published port: `HostIp:HostPort`. */
export interface PortBinding {
  /** Host address to bind, e.g. `127.0.0.1`. */
  HostIp?: string;
  /** Host port as a string; empty picks a free one. */
  HostPort?: string;
}

/** A container's host configuration (`HostConfig`). */
export interface HostConfig {
  /** Bind mounts, `host:container[:options]`. */
  Binds?: string[] | null;
  /** Capabilities to drop. */
  CapDrop?: string[] | null;
  /** Capabilities to add. */
  CapAdd?: string[] | null;
  /** e.g. `["no-new-privileges"]`. */
  SecurityOpt?: string[] | null;
  /** Whether the root filesystem is read-only. */
  ReadonlyRootfs?: boolean;
  /** Tmpfs mounts: path to mount options. */
  Tmpfs?: Record<string, string> | null;
  /** Memory limit in bytes. */
  Memory?: number;
  /** Memory plus swap in bytes; equal to Memory means no swap. */
  MemorySwap?: number;
  /** CPU quota in billionths of a CPU. */
  NanoCpus?: number;
  /** Most processes and threads; -1 or 0 means unlimited. */
  PidsLimit?: number | null;
  /** Resource limits. */
  Ulimits?: Ulimit[] | null;
  /** Runs an init process as PID 1. */
  Init?: boolean | null;
  /** `none`, `bridge`, `host` or a network name. */
  NetworkMode?: string;
  /** Published ports: `"8000/tcp"` to bindings. */
  PortBindings?: Record<string, PortBinding[] | null> | null;
  /** Logging driver and options. */
  LogConfig?: { Type: string; Config?: Record<string, string> };
  /** Full privileges; never set by envtorch. */
  Privileged?: boolean;
  /** Removes the container when it exits. */
  AutoRemove?: boolean;
  /** IPC namespace: `private`, `shareable`, `host`, ... */
  IpcMode?: string;
  /** Size of `/dev/shm` in bytes. */
  ShmSize?: number;
  /** Namespaced kernel parameters, e.g. `{"kernel.shmmax": "16777216"}`. */
  Sysctls?: Record<string, string> | null;
  /** Anything else the engine reports. */
  [key: string]: unknown;
}

/** Body of `POST /containers/create`. */
export interface ContainerCreateBody {
  /** Image reference. */
  Image: string;
  /** Command (arguments to the entrypoint). */
  Cmd?: string[];
  /** Overrides the image's entrypoint. */
  Entrypoint?: string[];
  /** `NAME=value` entries. */
  Env?: string[];
  /** User to run as, e.g. `10001:10001`. */
  User?: string;
  /** Working directory. */
  WorkingDir?: string;
  /** Labels. */
  Labels?: Record<string, string>;
  /** Ports the container exposes, `"8000/tcp": {}`. */
  ExposedPorts?: Record<string, Record<string, never>>;
  /** Whether to allocate a TTY (envtorch never does: logs are multiplexed). */
  Tty?: boolean;
  /** Seconds to wait after the stop signal before killing. */
  StopTimeout?: number;
  /** The host configuration. */
  HostConfig?: HostConfig;
}

/** Answer of `POST /containers/create`. */
export interface ContainerCreateResponse {
  /** The new container's id. */
  Id: string;
  /** Warnings of the engine. */
  Warnings?: string[] | null;
}

/** Answer of `GET /containers/{id}/json` (the fields envtorch reads). */
export interface ContainerInspect {
  /** Full id. */
  Id: string;
  /** `/name`. */
  Name: string;
  /** The image's id. */
  Image: string;
  /** Runtime state. */
  State: {
    Status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
    Running: boolean;
    Pid: number;
    ExitCode: number;
    OOMKilled: boolean;
    Error?: string;
    StartedAt?: string;
    FinishedAt?: string;
  };
  /** The configuration the container was created with. */
  Config: {
    Image: string;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Env?: string[] | null;
    User?: string;
    Labels?: Record<string, string> | null;
    [key: string]: unknown;
  };
  /** The host configuration the engine applied. */
  HostConfig: HostConfig;
  /** Networks and published ports. */
  NetworkSettings: {
    Ports?: Record<string, PortBinding[] | null> | null;
    [key: string]: unknown;
  };
  /** Mounts. */
  Mounts?: { Type: string; Source: string; Destination: string; RW: boolean }[];
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  /** Full id. */
  Id: string;
  /** Names, each starting with `/`. */
  Names: string[];
  /** Image reference it was created from. */
  Image: string;
  /** Creation time in seconds since the epoch. */
  Created: number;
  /** e.g. `running`, `exited`. */
  State: string;
  /** e.g. `Up 2 seconds`. */
  Status: string;
  /** Labels. */
  Labels: Record<string, string>;
  /** Published ports. */
  Ports?: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  /** Mounts. */
  Mounts?: { Type: string; Source: string; Destination: string }[];
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}

/** Answer of `GET /images/{name}/json` (the fields envtorch reads). */
export interface ImageInspect {
  /** `sha256:...`. */
  Id: string;
  /** Tags, e.g. `echo-env:latest`. */
  RepoTags?: string[] | null;
  /** Creation time (RFC 3339). */
  Created: string;
  /** Size in bytes. */
  Size: number;
  /** The image's default configuration. */
  Config?: {
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Env?: string[] | null;
    User?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
    /** `VOLUME` paths of the image. */
    Volumes?: Record<string, unknown> | null;
    [key: string]: unknown;
  } | null;
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}

/** One entry of `GET /images/json`. */
export interface ImageSummary {
  /** `sha256:...`. */
  Id: string;
  /** Tags. */
  RepoTags: string[] | null;
  /** Creation time in seconds since the epoch. */
  Created: number;
  /** Size in bytes. */
  Size: number;
  /** Labels. */
  Labels: Record<string, string> | null;
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}

/** Answer of `GET /version`. */
export interface EngineVersion {
  /** Engine version, e.g. `20.10.24`. */
  Version: string;
  /** Newest API version the engine speaks. */
  ApiVersion: string;
  /** Oldest API version the engine speaks. */
  MinAPIVersion?: string;
  /** e.g. `linux`. */
  Os: string;
  /** e.g. `amd64`. */
  Arch: string;
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}

/** Answer of `POST /containers/{id}/wait`. */
export interface ContainerWaitResponse {
  /** The container's exit code. */
  StatusCode: number;
  /** Set when waiting failed. */
  Error?: { Message?: string } | null;
}

/** Answer of `GET /exec/{id}/json`. */
export interface ExecInspect {
  /** Whether the process still runs. */
  Running: boolean;
  /** Its exit code once it ended. */
  ExitCode: number | null;
  /** Other fields are kept as they are. */
  [key: string]: unknown;
}
