/**
 * Image build contexts as tar streams (written with `modern-tar`): folders
 * filtered by `.dockerignore` rules, single files and in-memory content,
 * each placed at a path of the context. Entries are sorted and carry a fixed
 * time and owner, so an unchanged source gives the same context and the
 * engine's build cache hits.
 *
 * @module
 */
import { createTarPacker, type TarHeader } from "npm:modern-tar@0.8.6";
import { DockerIgnore } from "./dockerignore.ts";

/** One thing to put in a build context. */
export type ContextSource =
  | {
    /** A folder, walked recursively. */
    type: "dir";
    /** The folder on the host. */
    hostPath: string;
    /** Where it goes in the context, e.g. `app`; empty for the top. */
    target: string;
    /** Files to leave out; by default, the folder's own `.dockerignore`. */
    ignore?: DockerIgnore;
  }
  | {
    /** One file. */
    type: "file";
    /** The file on the host. */
    hostPath: string;
    /** Its path in the context. */
    target: string;
  }
  | {
    /** Text or bytes made in memory. */
    type: "content";
    /** The file's content. */
    content: string | Uint8Array;
    /** Its path in the context. */
    target: string;
    /**
     * File mode.
     * @default 0o644
     */
    mode?: number;
  };

interface Entry {
  header: TarHeader;
  read?: () => Promise<Uint8Array>;
}

const EPOCH = new Date(0);

function join(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/+/g, "/");
}

async function walk(
  hostPath: string,
  target: string,
  ignore: DockerIgnore,
  relative: string,
  out: Entry[],
): Promise<void> {
  const names: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(join(hostPath, relative) || ".")) names.push(entry);
  names.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const entry of names) {
    const rel = join(relative, entry.name);
    if (ignore.ignores(rel)) continue;
    const host = join(hostPath, rel);
    const name = join(target, rel);
    if (entry.isSymlink) {
      out.push({
        header: {
          name,
          size: 0,
          type: "symlink",
          linkname: await Deno.readLink(host),
          mtime: EPOCH,
          uid: 0,
          gid: 0,
        },
      });
    } else if (entry.isDirectory) {
      out.push({
        header: {
          name: `${name}/`,
          size: 0,
          type: "directory",
          mode: 0o755,
          mtime: EPOCH,
          uid: 0,
          gid: 0,
        },
      });
      await walk(hostPath, target, ignore, rel, out);
    } else if (entry.isFile) {
      const stat = await Deno.stat(host);
      out.push({
        header: {
          name,
          size: stat.size,
          type: "file",
          mode: (stat.mode ?? 0o644) & 0o111 ? 0o755 : 0o644,
          mtime: EPOCH,
          uid: 0,
          gid: 0,
        },
        read: () => Deno.readFile(host),
      });
    }
  }
}

async function entriesOf(sources: ContextSource[]): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const source of sources) {
    if (source.type === "dir") {
      let ignore = source.ignore;
      if (!ignore) {
        const text = await Deno.readTextFile(join(source.hostPath, ".dockerignore")).catch(() =>
          ""
        );
        ignore = new DockerIgnore(text);
      }
      if (source.target) {
        out.push({
          header: {
            name: `${source.target}/`,
            size: 0,
            type: "directory",
            mode: 0o755,
            mtime: EPOCH,
            uid: 0,
            gid: 0,
          },
        });
      }
      await walk(source.hostPath, source.target, ignore, "", out);
    } else if (source.type === "file") {
      const stat = await Deno.stat(source.hostPath);
      out.push({
        header: {
          name: source.target,
          size: stat.size,
          type: "file",
          mode: (stat.mode ?? 0o644) & 0o111 ? 0o755 : 0o644,
          mtime: EPOCH,
          uid: 0,
          gid: 0,
        },
        read: () => Deno.readFile(source.hostPath),
      });
    } else {
      const bytes = typeof source.content === "string"
        ? new TextEncoder().encode(source.content)
        : source.content;
      out.push({
        header: {
          name: source.target,
          size: bytes.length,
          type: "file",
          mode: source.mode ?? 0o644,
          mtime: EPOCH,
          uid: 0,
          gid: 0,
        },
        read: () => Promise.resolve(bytes),
      });
    }
  }
  return out;
}

/**
 * Lists the files of a context without packing them: their context paths.
 * Useful to check what a build would send.
 */
export async function contextPaths(sources: ContextSource[]): Promise<string[]> {
  return (await entriesOf(sources)).map((e) => e.header.name);
}

/**
 * Packs the sources into a tar stream, reading each file only when the
 * stream reaches it.
 *
 * @example
 * ```ts
 * import { createBuildContext } from "./build_context.ts";
 * const tar = createBuildContext([
 *   { type: "content", target: "Dockerfile", content: "FROM scratch\n" },
 * ]);
 * console.log((await new Response(tar).arrayBuffer()).byteLength); // 2048
 * ```
 */
export function createBuildContext(sources: ContextSource[]): ReadableStream<Uint8Array> {
  const { readable, controller } = createTarPacker();
  (async () => {
    for (const entry of await entriesOf(sources)) {
      const body = controller.add(entry.header);
      const writer = body.getWriter();
      if (entry.read) {
        const bytes = await entry.read();
        if (bytes.length !== entry.header.size) {
          throw new Error(`${entry.header.name} changed size while the context was packed`);
        }
        await writer.write(bytes);
      }
      await writer.close();
    }
    controller.finalize();
  })().catch((error) => controller.error(error));
  return readable;
}
