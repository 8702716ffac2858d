/**
 * The server's own check of a worker's lockdown, read from /proc rather
 * than taken from the worker's word: the process the zygote forked, a child
 * of the zygote, under the session's uid and gid alone, no supplementary
 * groups, no_new_privs set.
 *
 * @module
 */
import { WorkerProtocolError } from "./errors.ts";
import { readProcess } from "./procfs.ts";

/** What the runner must be. */
export interface ExpectedWorker {
  /** The pid the zygote reported for its fork. */
  pid: number;
  /** The zygote's pid. */
  parentPid: number;
  /** The uid and gid it must run under, when it dropped to one. */
  ids?: { uid: number; gid: number };
}

/** Throws a WorkerProtocolError naming every way the runner `pid` is not what was expected. */
export async function verifyLockdown(pid: unknown, expected: ExpectedWorker): Promise<void> {
  const info = typeof pid === "number" ? await readProcess(pid) : undefined;
  const problems: string[] = [];
  if (!info) problems.push("the runner is not running");
  else {
    if (info.pid !== expected.pid) problems.push("it is not the process the zygote forked");
    if (info.ppid !== expected.parentPid) problems.push(`its parent is ${info.ppid}`);
    if (expected.ids) {
      const { uid, gid } = expected.ids;
      if (info.uids.some((u) => u !== uid)) problems.push(`its uids are ${info.uids.join(" ")}`);
      if (info.gids.some((g) => g !== gid)) problems.push(`its gids are ${info.gids.join(" ")}`);
      if (info.groups.length) problems.push(`it keeps groups ${info.groups.join(" ")}`);
      if (!info.noNewPrivs) problems.push("no_new_privs is not set");
    }
  }
  if (problems.length) {
    throw new WorkerProtocolError(
      `Python worker failed its lockdown check: ${problems.join(", ")}`,
    );
  }
}
