/**
 * Reading a kubeconfig (the `KUBECONFIG` files, else `~/.kube/config`) or
 * the in-cluster service account into what a client needs: the API server's
 * URL, its CA, and client certificates or a bearer token.
 *
 * Supported: `certificate-authority(-data)`, `client-certificate(-data)` +
 * `client-key(-data)`, `token`, `tokenFile`, a context's `namespace`.
 * Not supported (a {@link KubeConfigError} says so): `exec` and
 * `auth-provider` plugins, `insecure-skip-tls-verify`, proxies.
 *
 * @module
 */
import { parse } from "npm:yaml@2.9.1";
import { KubeConfigError } from "./errors.ts";

/** How to reach and authenticate to one API server. */
export interface ClusterAccess {
  /** The API server, e.g. `https://127.0.0.1:16443`. */
  server: string;
  /** The context's namespace, else `default`. */
  namespace: string;
  /** The context's name (`in-cluster` for the service account). */
  context: string;
  /** PEM CA certificates to trust (the system's are trusted too). */
  caCerts?: string[];
  /** PEM client certificate (with {@link key}). */
  cert?: string;
  /** PEM client key. */
  key?: string;
  /** A bearer token. */
  token?: string;
}

/** Options of {@link loadKubeConfig}. */
export interface KubeConfigOptions {
  /**
   * Kubeconfig file(s); several are separated by `:` like `KUBECONFIG`.
   * @default $KUBECONFIG, else ~/.kube/config
   */
  path?: string;
  /**
   * The context to use.
   * @default the kubeconfig's current-context
   */
  context?: string;
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  value: T;
}

interface RawConfig {
  "current-context"?: string;
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: Record<string, unknown> }[];
}

const IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function resolvePath(base: string, path: string): string {
  return path.startsWith("/") ? path : `${dirOf(base)}/${path}`;
}

function decodeBase64(text: string): string {
  const bin = atob(text.replace(/\s+/g, ""));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

async function readFileField(
  file: string,
  section: Record<string, unknown>,
  key: string,
): Promise<string | undefined> {
  const data = section[`${key}-data`];
  if (typeof data === "string" && data) return decodeBase64(data);
  const path = section[key];
  if (typeof path === "string" && path) {
    const full = resolvePath(file, path);
    try {
      return await Deno.readTextFile(full);
    } catch (error) {
      throw new KubeConfigError(`Cannot read ${key} ${full} (named in ${file}): ${error}`, {
        cause: error,
      });
    }
  }
  return undefined;
}

/** The kubeconfig files `KUBECONFIG` (or the default) names, in order. */
export function kubeConfigPaths(path?: string): string[] {
  const value = path ?? Deno.env.get("KUBECONFIG");
  if (value) return value.split(":").filter(Boolean);
  const home = Deno.env.get("HOME");
  return home ? [`${home}/.kube/config`] : [];
}

/** Whether this process runs in a Pod with a service account token mounted. */
export function inCluster(): boolean {
  if (!Deno.env.get("KUBERNETES_SERVICE_HOST")) return false;
  try {
    Deno.statSync(`${IN_CLUSTER_DIR}/token`);
    return true;
  } catch {
    return false;
  }
}

async function loadInCluster(): Promise<ClusterAccess> {
  const host = Deno.env.get("KUBERNETES_SERVICE_HOST")!;
  const port = Deno.env.get("KUBERNETES_SERVICE_PORT") ?? "443";
  const read = (name: string) => Deno.readTextFile(`${IN_CLUSTER_DIR}/${name}`).catch(() => "");
  const [token, ca, namespace] = await Promise.all([
    read("token"),
    read("ca.crt"),
    read("namespace"),
  ]);
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    namespace: namespace.trim() || "default",
    context: "in-cluster",
    caCerts: ca ? [ca] : undefined,
    token: token.trim(),
  };
}

/**
 * Loads how to reach the cluster: the kubeconfig (files merged like
 * kubectl: the first file naming an entry wins), or, when there is none and
 * this process runs in a Pod, its service account.
 *
 * @example
 * ```ts ignore
 * const access = await loadKubeConfig({ context: "k8s-lab" });
 * console.log(access.server, access.namespace);
 * ```
 */
export async function loadKubeConfig(options: KubeConfigOptions = {}): Promise<ClusterAccess> {
  const files: { file: string; config: RawConfig }[] = [];
  for (const file of kubeConfigPaths(options.path)) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && !options.path) continue;
      throw new KubeConfigError(`Cannot read kubeconfig ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let config: RawConfig;
    try {
      config = (parse(text) ?? {}) as RawConfig;
    } catch (error) {
      throw new KubeConfigError(
        `Kubeconfig ${file} is not valid YAML: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    files.push({ file, config });
  }
  if (!files.length) {
    if (!options.path && !options.context && inCluster()) return await loadInCluster();
    throw new KubeConfigError(
      `No kubeconfig found (looked at ${
        kubeConfigPaths(options.path).join(", ") || "$KUBECONFIG and ~/.kube/config"
      }) and not running in a cluster`,
    );
  }
  const find = <K extends "clusters" | "users" | "contexts">(kind: K, name: string) => {
    for (const { file, config } of files) {
      const entry = (config[kind] as Named<unknown>[] | undefined)?.find((e) => e?.name === name);
      if (entry) return { file, entry: entry as unknown as NonNullable<RawConfig[K]>[number] };
    }
    return undefined;
  };
  const contextName = options.context ??
    files.map((f) => f.config["current-context"]).find((c) => c);
  if (!contextName) {
    throw new KubeConfigError(
      `Kubeconfig ${files[0]!.file} has no current-context: pass a context`,
    );
  }
  const ctx = find("contexts", contextName);
  if (!ctx) {
    throw new KubeConfigError(
      `Kubeconfig has no context ${JSON.stringify(contextName)} (has: ${
        files.flatMap((f) => f.config.contexts?.map((c) => c.name) ?? []).join(", ")
      })`,
    );
  }
  const context = ctx.entry.context ?? {};
  const clusterName = String(context.cluster ?? "");
  const cl = find("clusters", clusterName);
  if (!cl) {
    throw new KubeConfigError(`Context ${contextName} names no known cluster ${clusterName}`);
  }
  const cluster = cl.entry.cluster ?? {};
  const server = String(cluster.server ?? "");
  if (!/^https?:\/\//.test(server)) {
    throw new KubeConfigError(`Cluster ${clusterName} has no https server URL (got ${server})`);
  }
  if (cluster["insecure-skip-tls-verify"] === true) {
    throw new KubeConfigError(
      `Cluster ${clusterName} sets insecure-skip-tls-verify, which envtorch does not support: give its certificate-authority`,
    );
  }
  if (cluster["proxy-url"]) {
    throw new KubeConfigError(
      `Cluster ${clusterName} sets proxy-url, which envtorch does not support`,
    );
  }
  const access: ClusterAccess = {
    server: server.replace(/\/+$/, ""),
    namespace: typeof context.namespace === "string" && context.namespace
      ? context.namespace
      : "default",
    context: contextName,
  };
  const ca = await readFileField(cl.file, cluster, "certificate-authority");
  if (ca) access.caCerts = [ca];
  const userName = context.user === undefined ? undefined : String(context.user);
  if (userName) {
    const u = find("users", userName);
    if (!u) throw new KubeConfigError(`Context ${contextName} names no known user ${userName}`);
    const user = u.entry.user ?? {};
    if (user.exec || user["auth-provider"]) {
      throw new KubeConfigError(
        `User ${userName} authenticates with an ${
          user.exec ? "exec" : "auth-provider"
        } plugin, which envtorch does not run: use client certificates or a token`,
      );
    }
    access.cert = await readFileField(u.file, user, "client-certificate");
    access.key = await readFileField(u.file, user, "client-key");
    if (!!access.cert !== !!access.key) {
      throw new KubeConfigError(
        `User ${userName} has a client certificate without its key, or a key without its certificate`,
      );
    }
    if (typeof user.token === "string" && user.token) access.token = user.token;
    else if (typeof user.tokenFile === "string" && user.tokenFile) {
      access.token = (await Deno.readTextFile(resolvePath(u.file, user.tokenFile))).trim();
    }
    if (user.username || user.password) {
      throw new KubeConfigError(
        `User ${userName} uses basic auth, which envtorch does not support`,
      );
    }
  }
  return access;
}
