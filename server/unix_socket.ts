/**
 * A unix socket path a server may take: free, or a stale socket file left by
 * a server that is gone. A path a live server answers on is never taken over.
 *
 * @module
 */

/** The socket path is in use: a live server answers on it, or it is not a socket. */
export class SocketInUseError extends Error {
  /** The error class name. */
  override name = "SocketInUseError";
  /** The path asked for. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/**
 * Makes `path` free to listen on: nothing to do if it does not exist; a stale
 * socket (one nothing answers on) is removed. Throws SocketInUseError when a
 * server answers on it or the path is not a socket (a file is never removed).
 *
 * @example
 * ```ts
 * import { claimSocketPath } from "./unix_socket.ts";
 * const dir = await Deno.makeTempDir();
 * await claimSocketPath(`${dir}/env.sock`); // free: nothing to do
 * await Deno.remove(dir);
 * ```
 */
export async function claimSocketPath(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new SocketInUseError(path, `${path} exists and is not a socket: choose another path`);
  }
  let conn: Deno.UnixConn | undefined;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
  }
  if (conn) {
    conn.close();
    throw new SocketInUseError(
      path,
      `A server is already listening on ${path}: stop it or choose another --socket`,
    );
  }
  // Nothing answers: a stale socket from a server that is gone. Remove only it.
  const again = await Deno.lstat(path).catch(() => undefined);
  if (again?.isSocket && again.ino === info.ino && again.dev === info.dev) {
    await Deno.remove(path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Identity of a file: device and inode. */
export interface FileIdentity {
  /** Device number. */
  dev: number;
  /** Inode number. */
  ino: number | null;
}

/** The identity of the file at `path` (not following a link), or undefined if gone. */
export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const info = Deno.lstatSync(path);
    return { dev: info.dev, ino: info.ino };
  } catch {
    return undefined;
  }
}

/**
 * Removes the socket at `path` only if it is still the one this server
 * created (same device and inode): a later server's socket at the same path
 * is left alone.
 */
export function removeOwnSocket(path: string, own: FileIdentity | undefined): void {
  const now = fileIdentity(path);
  if (!own || !now || now.dev !== own.dev || now.ino !== own.ino) return;
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}
