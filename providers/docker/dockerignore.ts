/**
 * `.dockerignore` patterns: which files of a folder stay out of a build
 * context. Supports `*`, `?`, `**`, a leading `/`, trailing `/` and `!`
 * exceptions, with the last matching pattern winning, as Docker does.
 *
 * @module
 */

interface Rule {
  regex: RegExp;
  exclude: boolean;
}

/**
 * A parsed `.dockerignore`.
 *
 * @example
 * ```ts
 * import { DockerIgnore } from "./dockerignore.ts";
 * const ignore = new DockerIgnore(".git\n**\/*_test.ts\n!keep_test.ts");
 * console.log(ignore.ignores("core/client_test.ts")); // true
 * console.log(ignore.ignores("keep_test.ts")); // false
 * ```
 */
export class DockerIgnore {
  #rules: Rule[] = [];

  /** Parses the text of a `.dockerignore`. */
  constructor(text: string) {
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const exclude = !line.startsWith("!");
      if (!exclude) line = line.slice(1).trim();
      line = line.replace(/^\/+/, "").replace(/\/+$/, "").replace(/^\.\//, "");
      if (!line) continue;
      this.#rules.push({ regex: globToRegex(line), exclude });
    }
  }

  /** Whether `path` (relative, `/`-separated) or a folder holding it is left out. */
  ignores(path: string): boolean {
    const parts = path.split("/");
    let ignored = false;
    // A path is ignored if it, or any folder above it, matches (last rule wins at each level).
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      for (const rule of this.#rules) {
        if (rule.regex.test(prefix)) ignored = rule.exclude;
      }
      if (ignored && i < parts.length) {
        // A folder is out; an exception further down may still bring the path back.
        const exceptions = this.#rules.filter((r) => !r.exclude);
        if (!exceptions.some((r) => r.regex.test(path))) return true;
      }
    }
    return ignored;
  }
}

function globToRegex(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        i++;
        if (glob[i + 1] === "/") {
          i++;
          out += "(?:.*/)?";
        } else {
          out += ".*";
        }
      } else {
        out += "[^/]*";
      }
    } else if (c === "?") {
      out += "[^/]";
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${out}$`);
}
