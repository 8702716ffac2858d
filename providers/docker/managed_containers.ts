/**
 * The containers envtorch manages (label `envtorch.managed=true`): listing
 * them with their owner's status, and the reaper that removes those whose
 * owner process is gone or whose expiry has passed.
 *
 * @module
 */
import type { DockerEngine } from "./engine.ts";
import { DockerConflictError, DockerNotFoundError } from "./engine_errors.ts";
import type { ContainerSummary } from "./engine_types.ts";
import { LABELS, ownerStatus } from "./labels.ts";

/** Where the provider mounts the socket folder inside a container. */
export const CONTAINER_SOCKET_DIR = "/run/envtorch";

/** A managed container, as `envtorch ps` shows it. */
export interface ManagedContainer {
  /** Full id. */
  id: string;
  /** Name, without the leading `/`. */
  name: string;
  /** Image reference. */
  image: string;
  /** e.g. `running`, `exited`. */
  state: string;
  /** e.g. `Up 2 minutes`. */
  status: string;
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
  /** Where to reach it: `http://127.0.0.1:PORT` or `unix:PATH`, when known. */
  url?: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** The host folder envtorch made for its unix socket, when it has one (see {@link socketDirOf}). */
  socketDir?: string;
}

/** Why the reaper removed a container. */
export type ReapReason = "owner-gone" | "expired";

/** A container the reaper removed (or would, in a dry run). */
export interface ReapedContainer extends ManagedContainer {
  /** Why. */
  reason: ReapReason;
  /** Set when the removal failed. */
  error?: string;
}

/** Options of {@link reapContainers}. */
export interface ReapOptions {
  /** Only report what would be removed. */
  dryRun?: boolean;
  /**
   * The time to compare expiries with.
   * @default now
   */
  now?: Date;
  /** Aborts the call. */
  signal?: AbortSignal;
  /** Only containers that also carry these labels (`key` or `key=value`). */
  labels?: string[];
}

/**
 * The host folder of a socket-mode container, if it is one envtorch made:
 * the label must name an `envtorch-docker-*` folder AND the container must
 * have that folder's `sock` bind-mounted at the socket folder, which only
 * the provider's create call can arrange (a label alone, e.g. one an image
 * carries, never makes the reaper remove a folder).
 */
export function socketDirOf(
  labels: Record<string, string>,
  mounts: ContainerSummary["Mounts"],
): string | undefined {
  const dir = labels[LABELS.socketDir];
  if (!dir || !/^\/(?:[^/\0]+\/)*envtorch-docker-[A-Za-z0-9_]+$/.test(dir)) return undefined;
  if (dir.split("/").includes("..")) return undefined;
  const mounted = (mounts ?? []).some((m) =>
    m.Type === "bind" && m.Source === `${dir}/sock` && m.Destination === CONTAINER_SOCKET_DIR
  );
  return mounted ? dir : undefined;
}

function describe(c: ContainerSummary): ManagedContainer {
  const labels = c.Labels ?? {};
  const expires = labels[LABELS.expires] ? new Date(labels[LABELS.expires]!) : undefined;
  const port = c.Ports?.find((p) => p.PublicPort && p.IP === "127.0.0.1");
  const socketDir = socketDirOf(labels, c.Mounts);
  const forward = /^127\.0\.0\.1:\d{1,5}$/.test(labels[LABELS.forward] ?? "")
    ? labels[LABELS.forward]
    : undefined;
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? "").replace(/^\//, ""),
    image: c.Image,
    state: c.State,
    status: c.Status,
    created: new Date(c.Created * 1000),
    session: labels[LABELS.session],
    ownerPid: labels[LABELS.ownerPid] ? Number(labels[LABELS.ownerPid]) : undefined,
    owner: ownerStatus(labels),
    expires: expires && !Number.isNaN(expires.getTime()) ? expires : undefined,
    url: port
      ? `http://127.0.0.1:${port.PublicPort}`
      : forward
      ? `http://${forward}`
      : socketDir
      ? `unix:${socketDir}/sock/env.sock`
      : undefined,
    labels,
    socketDir,
  };
}

/** Every container envtorch manages, running or not. */
export async function listManagedContainers(
  engine: DockerEngine,
  options: { signal?: AbortSignal; labels?: string[] } = {},
): Promise<ManagedContainer[]> {
  const found = await engine.containers.list({
    all: true,
    labels: [`${LABELS.managed}=true`, ...options.labels ?? []],
    signal: options.signal,
  });
  return found.map(describe).sort((a, b) => a.created.getTime() - b.created.getTime());
}

/**
 * Removes managed containers whose owner process is gone (same machine and
 * boot, pid no longer that process) or whose expiry passed, with their
 * socket folders. Containers of live owners are left alone.
 *
 * @example
 * ```ts ignore
 * const reaped = await reapContainers(engine);
 * for (const c of reaped) console.log(`removed ${c.name}: ${c.reason}`);
 * ```
 */
export async function reapContainers(
  engine: DockerEngine,
  options: ReapOptions = {},
): Promise<ReapedContainer[]> {
  const now = (options.now ?? new Date()).getTime();
  const reaped: ReapedContainer[] = [];
  for (const c of await listManagedContainers(engine, options)) {
    const reason: ReapReason | undefined = c.owner === "gone"
      ? "owner-gone"
      : c.expires && c.expires.getTime() <= now
      ? "expired"
      : undefined;
    if (!reason) continue;
    const entry: ReapedContainer = { ...c, reason };
    if (!options.dryRun) {
      try {
        await engine.containers.remove(c.id, {
          force: true,
          volumes: true,
          signal: options.signal,
        });
      } catch (error) {
        // Gone already, or another reaper is removing it: either way it goes.
        if (!(error instanceof DockerNotFoundError || error instanceof DockerConflictError)) {
          entry.error = (error as Error).message;
        }
      }
      const dir = c.socketDir;
      if (dir && !entry.error) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    reaped.push(entry);
  }
  return reaped;
}
