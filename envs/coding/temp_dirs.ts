/**
 * The shared temp folders of a machine that runs only the coding env (its
 * container): taken away from the workers, so that no session can list or
 * leave files where another could find them. Each episode has a private
 * temp folder instead ($TMPDIR and $HOME, 0700, umask 077).
 *
 * @module
 */

/** The modes given, and why. */
export const SEALED_MODES: Record<string, number> = {
  // Workers can reach their session folders through it, but neither list nor create.
  "/tmp": 0o711,
  // Sticky and writable, not listable: multiprocessing's semaphores still work, names stay hidden.
  // (/dev/mqueue stays listable: each step removes the queues of its uid, which needs the list.)
  "/dev/shm": 0o1733,
};

let sealed: Promise<string[]> | undefined;

/**
 * Sets {@link SEALED_MODES} on the folders the server owns (root-owned
 * mounts), once per process. Returns the folders sealed.
 *
 * @example
 * ```ts ignore
 * import { sealTempDirs } from "./temp_dirs.ts";
 * console.log(await sealTempDirs()); // [ "/tmp", "/dev/shm" ] in the container
 * ```
 */
export function sealTempDirs(): Promise<string[]> {
  return sealed ??= (async () => {
    const done: string[] = [];
    for (const [path, mode] of Object.entries(SEALED_MODES)) {
      try {
        const info = await Deno.lstat(path);
        if (!info.isDirectory || info.uid !== Deno.uid()) continue;
        await Deno.chmod(path, mode);
        done.push(path);
      } catch {
        // Absent, or not ours to change.
      }
    }
    return done;
  })();
}
