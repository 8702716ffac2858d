/**
 * A small typed client of the Kubernetes API over `fetch`: one core request
 * function (mTLS through `Deno.createHttpClient`, or a bearer token), JSON
 * requests, watches as async iterables, and WebSockets to subresources
 * (`portforward`). The resource calls envtorch needs live in pods.ts and
 * network_policies.ts.
 *
 * @module
 */
import { withDeadline } from "../../protocol/deadline.ts";
import { ClusterUnreachableError, KubernetesError, kubernetesErrorFromResponse } from "./errors.ts";
import { type ClusterAccess, type KubeConfigOptions, loadKubeConfig } from "./kubeconfig.ts";

/** A query string value; undefined drops it. */
export type QueryValue = string | number | boolean | undefined;

/** Options of {@link KubernetesClient.request}. */
export interface KubernetesRequestOptions {
  /** Query parameters. */
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  json?: unknown;
  /** Aborts the request. */
  signal?: AbortSignal;
  /**
   * Seconds until the answer must be complete.
   * @default the client's timeoutS
   */
  timeoutS?: number;
}

/** One event of a watch. */
export interface WatchEvent<T> {
  /** What happened. */
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  /** The object (a Status for `ERROR`). */
  object: T;
}

/** Options of {@link KubernetesClient}. */
export interface KubernetesClientOptions {
  /**
   * Seconds an ordinary request may take.
   * @default 30
   */
  timeoutS?: number;
}

/**
 * Talks to one API server.
 *
 * @example
 * ```ts ignore
 * await using kube = await KubernetesClient.fromKubeConfig();
 * const ns = await kube.request<{ items: unknown[] }>("GET", "/api/v1/namespaces");
 * console.log(ns.items.length);
 * ```
 */
export class KubernetesClient implements AsyncDisposable {
  /** Where and who. */
  readonly access: ClusterAccess;
  #http: Deno.HttpClient;
  #headers: Record<string, string>;
  #timeoutS: number;

  /** Creates a client for `access`; nothing is sent until the first call. */
  constructor(access: ClusterAccess, options: KubernetesClientOptions = {}) {
    this.access = access;
    this.#timeoutS = options.timeoutS ?? 30;
    this.#http = Deno.createHttpClient({
      caCerts: access.caCerts,
      ...(access.cert && access.key ? { cert: access.cert, key: access.key } : {}),
    });
    this.#headers = access.token ? { authorization: `Bearer ${access.token}` } : {};
  }

  /** Loads the kubeconfig (or the in-cluster service account) and makes a client. */
  static async fromKubeConfig(
    options: KubeConfigOptions & KubernetesClientOptions = {},
  ): Promise<KubernetesClient> {
    return new KubernetesClient(await loadKubeConfig(options), options);
  }

  /** The namespace of the kubeconfig's context. */
  get namespace(): string {
    return this.access.namespace;
  }

  #url(path: string, query?: Record<string, QueryValue>): string {
    const url = new URL(this.access.server + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.href;
  }

  /**
   * Sends one request and hands its answer to `consume`, both under one
   * deadline (the client's `timeoutS` unless given; `null` for none).
   */
  #exchange<T>(
    method: string,
    path: string,
    options: Omit<KubernetesRequestOptions, "timeoutS"> & { timeoutS?: number | null },
    consume: (res: Response) => Promise<T>,
  ): Promise<T> {
    const timeoutS = options.timeoutS === null ? undefined : options.timeoutS ?? this.#timeoutS;
    if (timeoutS === undefined) {
      return this.#fetch(method, path, options, options.signal).then(consume);
    }
    return withDeadline(
      `Kubernetes ${method} ${path}`,
      { signal: options.signal, timeoutS },
      async ({ signal }) => await consume(await this.#fetch(method, path, options, signal)),
    );
  }

  async #fetch(
    method: string,
    path: string,
    options: Omit<KubernetesRequestOptions, "timeoutS">,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const request = `${method} ${path}`;
    const headers: Record<string, string> = { accept: "application/json", ...this.#headers };
    if (options.json !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(this.#url(path, options.query), {
        method,
        headers,
        body: options.json === undefined ? undefined : JSON.stringify(options.json),
        client: this.#http,
        signal,
      });
    } catch (error) {
      // The caller's reason, or the deadline's (which withDeadline makes a TimeoutError).
      if (signal?.aborted) throw signal.reason ?? error;
      const e = error as Error;
      const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
      throw new ClusterUnreachableError(
        this.access.server,
        `Cannot reach the Kubernetes API server at ${this.access.server} (context ${this.access.context}): ${e.message}${cause}`,
        { cause: error, request },
      );
    }
  }

  /** Sends one request and parses the JSON answer; an error status throws a typed {@link KubernetesError}. */
  async request<T>(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    options: KubernetesRequestOptions = {},
  ): Promise<T> {
    const [res, text] = await this.#exchange(
      method,
      path,
      options,
      async (res) => [res, await res.text()] as const,
    );
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      if (res.ok) {
        throw new KubernetesError(
          `Kubernetes ${method} ${path} answered with a body that is not JSON`,
        );
      }
    }
    if (!res.ok) throw kubernetesErrorFromResponse(res.status, body, `${method} ${path}`);
    return body as T;
  }

  /** Sends a GET and returns the answer as text (a Pod's logs). */
  async text(path: string, options: KubernetesRequestOptions = {}): Promise<string> {
    const [res, text] = await this.#exchange(
      "GET",
      path,
      options,
      async (res) => [res, await res.text()] as const,
    );
    if (!res.ok) {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch { /* keep the text */ }
      throw kubernetesErrorFromResponse(res.status, body, `GET ${path}`);
    }
    return text;
  }

  /**
   * Watches a list path (`?watch=1`) and yields its events until `signal`
   * aborts, the server ends the watch, or the loop breaks. An `ERROR` event
   * (e.g. 410 Gone for a too old resourceVersion) is thrown as a typed error.
   */
  async *watch<T>(
    path: string,
    options: { query?: Record<string, QueryValue>; signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchEvent<T>> {
    const res = await this.#fetch(
      "GET",
      path,
      { query: { ...options.query, watch: 1 } },
      options.signal,
    );
    if (!res.ok) {
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch { /* keep the text */ }
      throw kubernetesErrorFromResponse(res.status, body, `WATCH ${path}`);
    }
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      while (true) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (options.signal?.aborted) return;
          throw error;
        }
        if (chunk.done) return;
        buffer += chunk.value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === "ERROR") {
            const status = event.object as { code?: number };
            throw kubernetesErrorFromResponse(status.code ?? 500, event.object, `WATCH ${path}`);
          }
          yield event;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  /**
   * Opens a WebSocket to `path` (e.g. a Pod's `portforward` subresource) with
   * the client's credentials and the given subprotocols.
   */
  websocket(
    path: string,
    options: { query?: Record<string, QueryValue>; protocols?: string[] } = {},
  ): WebSocket {
    const url = this.#url(path, options.query).replace(/^http/, "ws");
    return new WebSocket(url, {
      client: this.#http,
      headers: this.#headers,
      protocols: options.protocols,
    } as WebSocketOptions);
  }

  /** Closes the HTTP client. */
  close(): Promise<void> {
    this.#http.close();
    return Promise.resolve();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
