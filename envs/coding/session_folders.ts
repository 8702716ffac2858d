/**
 * The session folders of the coding env: each session gets
 * `envtorch-coding-<server pid>-<random>` under the temp folder, with one
 * folder per episode inside; folders of servers that died without closing
 * their sessions are removed by the next server.
 *
 * @module
 */
import { readProcess } from "./procfs.ts";
import type { UidLease } from "./uid_pool.ts";

/** Session folders (and the zygote's) are named `envtorch-coding-<server pid>-<random>`. */
export const FOLDER_PREFIX = "envtorch-coding-";
const staleSweeps: Record<string, Promise<void>> = {};

/** {@link sweepStaleFolders} once per folder and server. */
export function sweepStaleFoldersOnce(base: string | undefined): Promise<void> {
  return staleSweeps[base ?? ""] ??= sweepStaleFolders(base);
}

/**
 * Removes session folders left by servers that died without closing their
 * sessions (killed with SIGKILL, say): folders of ours whose server pid no
 * longer runs. Their workers are gone already: a zygote dies with the
 * server that started it, and its workers with it.
 */
export async function sweepStaleFolders(base: string | undefined): Promise<void> {
  const dir = base ?? (Deno.env.get("TMPDIR") || "/tmp");
  const pattern = new RegExp(`^${FOLDER_PREFIX}(\\d+)-`);
  try {
    for await (const entry of Deno.readDir(dir)) {
      const pid = pattern.exec(entry.name)?.[1];
      if (!pid || !entry.isDirectory || Number(pid) === Deno.pid) continue;
      if (await readProcess(Number(pid))) continue;
      const path = `${dir}/${entry.name}`;
      const info = await Deno.lstat(path);
      if (info.isDirectory && info.uid === Deno.uid()) {
        await Deno.remove(path, { recursive: true }).catch(() => {});
      }
    }
  } catch {
    // Best effort: a folder that cannot be read or removed stays.
  }
}

/** A fresh episode folder name, `ep-<16 hex digits>`. */
export function newEpisodeName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `ep-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A uid of the session and what goes with it: its folder of episodes and its output files. */
export interface Slot {
  lease?: UidLease;
  workParent: string;
  out: string;
  err: string;
}

/** The slot of `lease` (or of the server's own uid) in the session folder `root`. */
export function slotOf(root: string, lease?: UidLease): Slot {
  const name = lease ? `${lease.uid}` : "own";
  return {
    lease,
    workParent: lease ? `${root}/w-${name}` : `${root}/w`,
    out: `${root}/io/out-${name}`,
    err: `${root}/io/err-${name}`,
  };
}
