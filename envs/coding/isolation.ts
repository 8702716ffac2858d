/**
 * What protects the host from the code a worker runs, as actually in force
 * (read back from the runner, not assumed). The coding env reports it in the
 * reset observation's metadata so that a caller can see, for example, that a
 * worker on a developer's laptop runs under the developer's own uid.
 *
 * @module
 */
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
  /** Network access is blocked (only a container with NetworkMode none does this). */
  network_blocked: boolean;
  /** Total disk use is bounded (only a size-limited tmpfs does this). */
  disk_bounded: boolean;
  /** Process count is bounded (RLIMIT_NPROC on a dedicated uid, or the container's PidsLimit). */
  processes_bounded: boolean;
  /** What is not protected here, in plain words. */
  notes: string[];
}

/** Builds the summary from what the runner reported. */
export function describeIsolation(ready: ReadyInfo, dropped: boolean): Isolation {
  const notes: string[] = [];
  if (!dropped) {
    notes.push(
      "The worker runs under the server's own uid (the server is not root): it can read the " +
        "server's files and environment (/proc/PID/environ) and signal the server's processes, " +
        "and files it leaves outside its work folder are not removed between episodes",
    );
  }
  notes.push(
    "Network access is not blocked here: only the container (NetworkMode none) blocks it",
    "Disk use is bounded per file (RLIMIT_FSIZE), not in total: only the container's tmpfs size bounds it",
  );
  const processesBounded = ready.rlimits.nproc !== undefined;
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
    network_blocked: false,
    disk_bounded: false,
    processes_bounded: processesBounded,
    notes,
  };
}
