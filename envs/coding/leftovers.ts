/**
 * The server's last line of defence after a worker is gone: whatever of it
 * still runs is found in /proc and killed. The zygote has normally done this
 * already; this covers a zygote that could not (it died itself).
 *
 * @module
 */
import { processesOfUid, startTime } from "./procfs.ts";

/** Kills every live process of a dedicated worker uid, until none is left (at most 20 rounds). */
export async function killProcessesOfUid(uid: number): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const left = await processesOfUid(uid);
    if (!left.length) return;
    for (const p of left) {
      try {
        Deno.kill(p.pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Without a dedicated uid: kills the runner and its process group, if the
 * pid still names that very process (same start time).
 */
export async function killRunner(runner: { pid: number; start: string }): Promise<void> {
  if (!runner.start || await startTime(runner.pid) !== runner.start) return;
  for (const pid of [-runner.pid, runner.pid]) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}
