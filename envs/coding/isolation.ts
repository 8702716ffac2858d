/**
 * What protects the host from the code a worker runs, as actually in force
 * (read back from the runner, not assumed). The coding env reports it in the
 * reset observation's metadata so that a caller can see, for example, that a
 * worker on a developer's laptop runs under the developer's own uid.
 *
 * @module
 */
import type { SystemLimits } from "./system_limits.ts";
import type { ReadyInfo } from "./worker_process.ts";

/** The protections in force for one executor. */
export interface Isolation {
  /** The worker runs under a dedicated uid, not the server's. */
  uid_dropped: boolean;
  /** The worker's uid. */
  worker_uid: number;
  /** The worker's gid. */
  worker_gid: number;
  /** The worker has its own session and process group. */
  own_session: boolean;
  /** The worker's environment is empty (Python adds LC_CTYPE=C.UTF-8 itself). */
  empty_env: boolean;
  /** The worker's stdin is at EOF. */
  stdin_eof: boolean;
  /** no_new_privs: setuid binaries gain nothing. */
  no_new_privs: boolean;
  /** The kernel's OOM killer picks the worker first (1000), or null if unset. */
  oom_score_adj: number | null;
  /** Hard limits: address space, CPU seconds, file size, open files, core, processes. */
  rlimits: Record<string, number>;
  /**
   * How leftovers are killed: `uid` (kill(-1) as the dedicated uid reaches
   * every process of it) or `descendants` (only processes that descend from
   * the worker, which the subreaper flag keeps in reach).
   */
  process_cleanup: "uid" | "descendants";
  /** Other sessions' workers cannot read this one's folder (different uids). */
  private_work_dir: boolean;
  /** The worker cannot read the server's /proc/PID/environ or root-only files. */
  server_protected: boolean;
  /** Files the worker leaves in shared temp folders are removed between episodes. */
  temp_files_swept: boolean;
  /** Network access is blocked: no interface but loopback (a container with NetworkMode none). */
  network_blocked: boolean;
  /** Total disk use is bounded: the work folder is on a sized tmpfs and the root is read-only. */
  disk_bounded: boolean;
  /** Size of the tmpfs holding the work folder, shared by every session of the server, or null. */
  disk_bytes: number | null;
  /** Process count is bounded (RLIMIT_NPROC on a dedicated uid, or the container's PidsLimit). */
  processes_bounded: boolean;
  /** The cgroup's pids limit, shared by the server and every session, or null. */
  pids_limit: number | null;
  /** What is not protected here, in plain words. */
  notes: string[];
}

const NO_LIMITS: SystemLimits = {
  networkBlocked: false,
  pidsMax: null,
  tmpfsBytes: null,
  readOnlyRoot: false,
};

/** Builds the summary from what the runner reported and what the system bounds. */
export function describeIsolation(
  ready: ReadyInfo,
  dropped: boolean,
  system: SystemLimits = NO_LIMITS,
): Isolation {
  const notes: string[] = [];
  if (!dropped) {
    notes.push(
      "The worker runs under the server's own uid (the server is not root): it can read the " +
        "server's files and environment (/proc/PID/environ) and signal the server's processes, " +
        "and files it leaves outside its work folder are not removed between episodes",
    );
  }
  if (!system.networkBlocked) {
    notes.push(
      "Network access is not blocked here: only the container (NetworkMode none) blocks it",
    );
  }
  const diskBounded = system.readOnlyRoot && system.tmpfsBytes !== null;
  if (!diskBounded) {
    notes.push(
      "Disk use is bounded per file (RLIMIT_FSIZE), not in total: only the container's tmpfs size bounds it",
    );
  } else {
    notes.push(
      `Disk use is bounded by a ${system.tmpfsBytes} byte tmpfs shared by every session of this ` +
        "server: while one session fills it, the others' writes fail too",
    );
  }
  const processesBounded = ready.rlimits.nproc !== undefined || system.pidsMax !== null;
  if (!processesBounded) {
    notes.push(
      "The number of processes and threads is not bounded here beyond the address-space limit: " +
        "only the container's PidsLimit bounds it",
    );
  }
  return {
    uid_dropped: dropped,
    worker_uid: ready.uid,
    worker_gid: ready.gid,
    own_session: ready.sid === ready.pid,
    empty_env: true,
    stdin_eof: true,
    no_new_privs: ready.no_new_privs,
    oom_score_adj: ready.oom_score_adj,
    rlimits: ready.rlimits,
    process_cleanup: dropped ? "uid" : "descendants",
    private_work_dir: dropped,
    server_protected: dropped,
    temp_files_swept: dropped,
    network_blocked: system.networkBlocked,
    disk_bounded: diskBounded,
    disk_bytes: diskBounded ? system.tmpfsBytes : null,
    processes_bounded: processesBounded,
    pids_limit: system.pidsMax,
    notes,
  };
}
