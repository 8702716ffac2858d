/**
 * The pool of worker uids: each coding session runs its Python worker under
 * a uid of its own, so concurrent sessions cannot read each other's files or
 * signal each other's processes. A uid is held with an exclusive `flock` on a
 * lock file, which also coordinates several servers on one machine and is
 * released by the kernel if the holder dies. A uid is only ever handed to one
 * session at a time, so killing "every process of the uid" is safe.
 *
 * @module
 */
import { UidPoolExhaustedError } from "./errors.ts";

/** First uid of the default pool. */
export const DEFAULT_FIRST_UID = 60600;
/** Size of the default pool. */
export const DEFAULT_UID_COUNT = 64;
/** Environment variable that sets the pool, e.g. `60600-60663`. */
export const UIDS_ENV = "ENVTORCH_CODING_UIDS";
/** Account names a pool uid may carry in /etc/passwd (images create such users). */
const ACCOUNT_PREFIX = "envtorch";

/** A range of uids. */
export interface UidRange {
  /** First uid. */
  first: number;
  /** How many uids, from `first`. */
  count: number;
}

/** Options of a {@link UidPool}. */
export interface UidPoolOptions {
  /**
   * The uids to hand out; each is used as the worker's gid too.
   * @default $ENVTORCH_CODING_UIDS, else 60600-60663
   */
  range?: UidRange;
  /**
   * Folder of the lock files, shared by every server on the machine.
   * @default /run/envtorch/uid-locks when /run is writable, else $TMPDIR/envtorch-uid-locks-<euid>
   */
  lockDir?: string;
}

/** A uid held by one session until {@link UidLease.release}. */
export interface UidLease {
  /** The worker uid. */
  readonly uid: number;
  /** The worker gid (same number as the uid). */
  readonly gid: number;
  /** Gives the uid back. Safe to call twice. */
  release(): void;
}

/**
 * Parses a uid range such as `60600-60663` or `60600` (a single uid).
 *
 * @example
 * ```ts
 * import { parseUidRange } from "./uid_pool.ts";
 * console.log(parseUidRange("60600-60663")); // { first: 60600, count: 64 }
 * ```
 */
export function parseUidRange(text: string): UidRange {
  const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!match) throw new TypeError(`Invalid uid range ${JSON.stringify(text)}: expected FIRST-LAST`);
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  if (last < first || last > 0xfffffffe) {
    throw new TypeError(`Invalid uid range ${JSON.stringify(text)}: expected FIRST-LAST`);
  }
  return { first, count: last - first + 1 };
}

/**
 * Hands out dedicated worker uids.
 *
 * @example
 * ```ts ignore
 * import { UidPool } from "./uid_pool.ts";
 * const pool = new UidPool({ range: { first: 60600, count: 8 } });
 * const lease = await pool.acquire();
 * console.log(lease.uid);
 * lease.release();
 * ```
 */
export class UidPool {
  /** The uids this pool hands out. */
  readonly range: UidRange;
  #lockDir: string | undefined;
  #checked?: Promise<void>;
  #next = 0;

  /** Creates a pool; nothing is checked or locked until {@link acquire}. */
  constructor(options: UidPoolOptions = {}) {
    this.range = options.range ?? rangeFromEnv();
    if (this.range.count < 1) throw new RangeError("A uid pool needs at least one uid");
    this.#lockDir = options.lockDir;
  }

  /** Holds a free uid, or throws UidPoolExhaustedError. */
  async acquire(): Promise<UidLease> {
    await (this.#checked ??= this.#check());
    const dir = this.#lockDir!;
    const { first, count } = this.range;
    // Where this scan starts, read once: concurrent acquires move #next while this one awaits,
    // and a scan that followed it could skip a free uid and report the pool full.
    const start = this.#next;
    for (let i = 0; i < count; i++) {
      const uid = first + ((start + i) % count);
      const file = await Deno.open(`${dir}/${uid}.lock`, {
        read: true,
        write: true,
        create: true,
        mode: 0o600,
      });
      let locked = false;
      try {
        locked = await file.tryLock(true);
      } finally {
        if (!locked) file.close();
      }
      if (!locked) continue;
      this.#next = (start + i + 1) % count;
      let released = false;
      return {
        uid,
        gid: uid,
        release() {
          if (released) return;
          released = true;
          try {
            file.unlockSync();
          } finally {
            file.close();
          }
        },
      };
    }
    throw new UidPoolExhaustedError(first, count);
  }

  async #check(): Promise<void> {
    const { first, count } = this.range;
    const last = first + count - 1;
    const self = Deno.uid();
    if (first <= 0 || (self !== null && self >= first && self <= last)) {
      throw new RangeError(
        `Invalid worker uid range ${first}-${last}: it must not include 0 or the server's uid ${self}`,
      );
    }
    for (const [file, what] of [["/etc/passwd", "user"], ["/etc/group", "group"]] as const) {
      const owner = await accountInRange(file, first, last);
      if (owner) {
        throw new RangeError(
          `Worker uid range ${first}-${last} is not dedicated: ${what} ${owner.name} has id ${owner.id} ` +
            `(pick unused ids with ${UIDS_ENV}, or name the accounts ${ACCOUNT_PREFIX}*)`,
        );
      }
    }
    this.#lockDir ??= await defaultLockDir();
    await ensurePrivateDir(this.#lockDir);
  }
}

let shared: UidPool | undefined;

/** The process-wide pool, configured by `ENVTORCH_CODING_UIDS`. */
export function defaultUidPool(): UidPool {
  return shared ??= new UidPool();
}

function rangeFromEnv(): UidRange {
  let text: string | undefined;
  try {
    text = Deno.env.get(UIDS_ENV);
  } catch {
    text = undefined;
  }
  return text ? parseUidRange(text) : { first: DEFAULT_FIRST_UID, count: DEFAULT_UID_COUNT };
}

/** An account of /etc/passwd or /etc/group in the range whose name is not ours. */
async function accountInRange(
  file: string,
  first: number,
  last: number,
): Promise<{ name: string; id: number } | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    const n = Number(id);
    if (!name || id === undefined || id === "" || !Number.isInteger(n)) continue;
    if (n >= first && n <= last && !name.startsWith(ACCOUNT_PREFIX)) return { name, id: n };
  }
  return undefined;
}

async function defaultLockDir(): Promise<string> {
  const euid = Deno.uid();
  if (euid === 0) {
    try {
      await Deno.mkdir("/run/envtorch", { recursive: true, mode: 0o755 });
      const info = await Deno.lstat("/run/envtorch");
      if (info.isDirectory && info.uid === 0) return "/run/envtorch/uid-locks";
    } catch {
      // A read-only /run (as in the container): fall back to the temp folder.
    }
  }
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  return `${tmp}/envtorch-uid-locks-${euid ?? "user"}`;
}

/** Creates `path` (mode 0700) or checks that an existing one is ours and private. */
export async function ensurePrivateDir(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = await Deno.lstat(path);
  const mode = info.mode ?? 0;
  if (!info.isDirectory || info.isSymlink || info.uid !== Deno.uid() || (mode & 0o022) !== 0) {
    throw new Error(
      `Unsafe folder ${path}: it must be a folder owned by uid ${Deno.uid()} that no one else can write`,
    );
  }
}
