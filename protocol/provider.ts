/**
 * The one interface every provider implements: given an env (a bundled env's
 * name, a manifest path/URL, or an image), start its server somewhere and hand
 * back where to reach it. The process, Docker and Kubernetes providers all
 * implement it, and `EnvClient.from(provider, spec)` connects a typed client
 * to whatever they start.
 *
 * This module holds types only, so the client can name a provider without
 * loading any provider's code.
 *
 * @module
 */

/** A running env server, wherever it runs. */
export interface ServerHandle {
  /** Where the server listens: `http://127.0.0.1:PORT` or `unix:/path/to.sock`. */
  baseUrl: string;
  /** The token the server asks for, if the provider gave it one; clients send it. */
  token?: string;
  /** Stops the server and frees everything it holds; safe to call twice. */
  close(): Promise<void>;
}

/** Options every provider's `start` accepts; each provider adds its own. */
export interface ProviderStartOptions {
  /** Aborts the start; whatever was created is removed. */
  signal?: AbortSignal;
  /**
   * Seconds to wait for the server's `/health`.
   * @default 30
   */
  startupTimeoutS?: number;
  /** Extra environment variables for the server. */
  env?: Record<string, string>;
}

/**
 * Starts env servers. `spec` is what the provider starts: an env name or
 * manifest URL for the process provider, an image for Docker and Kubernetes.
 *
 * @example
 * ```ts ignore
 * const server = await provider.start("echo-env:latest");
 * try {
 *   console.log(server.baseUrl);
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export interface Provider<
  O extends ProviderStartOptions = ProviderStartOptions,
  H extends ServerHandle = ServerHandle,
> {
  /** Short name for messages and the CLI: `process`, `docker`, `kubernetes`. */
  readonly name: string;
  /** Starts one server and waits until it answers `/health`. */
  start(spec: string, options?: O): Promise<H>;
  /** Frees what the provider itself holds (engine connections, reapers). */
  close(): Promise<void>;
}
