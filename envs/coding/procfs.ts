/**
 * Reading processes from /proc: who runs as which uid, in which session, in
 * which state. The executor uses it to check a worker's privilege drop and to
 * make sure nothing of a worker uid survives; the tests use it to assert that
 * no worker process is left over. No read here waits on a disk or on the process
 * it reads (see {@link readProcess}).
 *
 * @module
 */

/** What /proc/PID/status says about one process. */
export interface ProcessInfo {
  /** Process id. */
  pid: number;
  /** Parent process id. */
  ppid: number;
  /** Short command name. */
  name: string;
  /** State letter: R, S, D, Z (zombie), T, ... */
  state: string;
  /** Real, effective, saved and filesystem uids. */
  uids: [number, number, number, number];
  /** Real, effective, saved and filesystem gids. */
  gids: [number, number, number, number];
  /** Supplementary groups. */
  groups: number[];
  /** Process group id (as seen from this pid namespace), if the kernel says. */
  pgid?: number;
  /** Session id (as seen from this pid namespace), if the kernel says. */
  sid?: number;
  /** Whether no_new_privs is set. */
  noNewPrivs: boolean;
}

/**
 * The value of one `Key:\tvalue` line of a /proc/PID/status text, trimmed,
 * or undefined. Looks up only the keys asked for: a status has some 60 lines.
 */
function statusField(text: string, key: string): string | undefined {
  let start = 0;
  if (!text.startsWith(`${key}:`)) {
    const at = text.indexOf(`\n${key}:`);
    if (at < 0) return undefined;
    start = at + 1;
  }
  const end = text.indexOf("\n", start);
  return text.slice(start + key.length + 1, end < 0 ? text.length : end).trim();
}

/** The whitespace-separated numbers of a field, in order. */
function numbersOf(value: string | undefined): number[] {
  if (!value) return [];
  return value.split(/\s+/).filter((s) => s !== "").map(Number);
}

/** Parses the text of /proc/PID/status. */
export function parseStatus(pid: number, text: string): ProcessInfo {
  const four = (key: string) => {
    const [a = -1, b = -1, c = -1, d = -1] = numbersOf(statusField(text, key));
    return [a, b, c, d] as [number, number, number, number];
  };
  const last = (key: string) => {
    const list = numbersOf(statusField(text, key));
    return list.length ? list[list.length - 1] : undefined;
  };
  return {
    pid,
    ppid: Number(statusField(text, "PPid") ?? -1),
    name: statusField(text, "Name") ?? "",
    state: (statusField(text, "State") ?? "?").charAt(0),
    uids: four("Uid"),
    gids: four("Gid"),
    groups: numbersOf(statusField(text, "Groups")),
    pgid: last("NSpgid"),
    sid: last("NSsid"),
    noNewPrivs: statusField(text, "NoNewPrivs") === "1",
  };
}

/**
 * One process, or undefined if it is gone.
 *
 * Read synchronously: /proc/PID/status and /proc/PID/stat never wait on a
 * disk nor on the process (neither takes its memory map lock), and a
 * synchronous read costs a third of an asynchronous one, which goes through
 * a thread pool. This read is on every worker start.
 */
export function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  try {
    return Promise.resolve(parseStatus(pid, Deno.readTextFileSync(`/proc/${pid}/status`)));
  } catch {
    return Promise.resolve(undefined);
  }
}

async function readProcessAsync(pid: number): Promise<ProcessInfo | undefined> {
  try {
    return parseStatus(pid, await Deno.readTextFile(`/proc/${pid}/status`));
  } catch {
    return undefined;
  }
}

/** Every process visible in /proc, read concurrently (asynchronously: there may be hundreds). */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (entry.isDirectory && /^\d+$/.test(entry.name)) pids.push(Number(entry.name));
  }
  const infos = await Promise.all(pids.map(readProcessAsync));
  return infos.filter((p): p is ProcessInfo => p !== undefined);
}

/** Options of {@link processesOfUid}. */
export interface ProcessesOfUidOptions {
  /**
   * Count zombies too (dead processes whose parent has not reaped them yet).
   * @default false
   */
  includeZombies?: boolean;
}

/** Processes any of whose uids (real, effective, saved) is `uid`. */
export async function processesOfUid(
  uid: number,
  options: ProcessesOfUidOptions = {},
): Promise<ProcessInfo[]> {
  return (await listProcesses()).filter((p) =>
    (p.uids[0] === uid || p.uids[1] === uid || p.uids[2] === uid) &&
    (options.includeZombies || p.state !== "Z")
  );
}

/**
 * Field 22 of /proc/PID/stat (start time in clock ticks since boot), or
 * undefined if the process is gone: with the pid, it names one process even
 * after the pid is reused.
 */
export function startTime(pid: number): Promise<string | undefined> {
  try {
    // Synchronous, as in readProcess.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Promise.resolve(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return Promise.resolve(undefined);
  }
}
