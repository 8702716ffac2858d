/**
 * The client base every bundled env client extends: {@link HTTPEnvClient}
 * plus one way to get a server, {@link EnvClient.from} a {@link Provider}.
 * `fromProcess`, `fromDockerImage` and `fromKubernetes` are one-liners over it that load their
 * provider only when called, so importing a client loads no provider code.
 *
 * @module
 */
import { type ClientOptions, HTTPEnvClient } from "./client.ts";
import type { Action, Observation, Reward, State } from "../protocol/models.ts";
import type { Provider, ProviderStartOptions, ServerHandle } from "../protocol/provider.ts";
import type { ProcessOptions } from "../providers/process.ts";
import type {
  DockerStartOptions,
  LocalDockerProviderOptions,
} from "../providers/docker/local_docker_provider.ts";
import type {
  KubernetesProviderOptions,
  KubernetesStartOptions,
} from "../providers/kubernetes/kubernetes_provider.ts";

/** Client options when a provider supplies the server. */
export type ProvidedClientOptions = Omit<ClientOptions, "baseUrl" | "server">;

/** Options of {@link EnvClient.from}. */
export type FromProviderOptions<O extends ProviderStartOptions = ProviderStartOptions> =
  & ProvidedClientOptions
  & {
    /** Options for the provider's `start`. */
    start?: O;
    /**
     * Close the provider too when the client closes (for a provider made
     * just for this client).
     * @default false
     */
    closeProvider?: boolean;
  };

/** An env client class whose static methods can start its server. */
export type EnvClientClass<T> = {
  new (options: ClientOptions): T;
  envName?: string;
  manifestUrl?: URL;
  name: string;
};

/** Base class of env clients that can start their own server. */
export class EnvClient<
  A extends Action = Action,
  O extends Observation = Observation,
  S extends State = State,
> extends HTTPEnvClient<A, O, S> {
  /**
   * The env's manifest module: how a child process or container finds the
   * env wherever envtorch was imported from (a checkout, JSR, a URL).
   */
  static manifestUrl?: URL;

  /**
   * Starts `spec` with `provider` and returns a connected client; the
   * client's `close()` stops the server (and the provider, with
   * `closeProvider`). If connecting fails, the server is stopped.
   *
   * @example
   * ```ts ignore
   * import { EchoEnv } from "../envs/echo/client.ts";
   * import { ProcessProvider } from "../providers/process.ts";
   * await using env = await EchoEnv.from(new ProcessProvider(), "echo");
   * console.log((await env.step({ message: "hi" })).reward); // 0.2
   * ```
   */
  static async from<
    T extends HTTPEnvClient<Action, Observation, State, Reward>,
    PO extends ProviderStartOptions,
  >(
    this: EnvClientClass<T>,
    provider: Provider<PO>,
    spec: string,
    options: FromProviderOptions<PO> = {},
  ): Promise<T> {
    const { start, closeProvider = false, ...client } = options;
    let handle: ServerHandle;
    try {
      handle = await provider.start(spec, { signal: client.signal, ...start } as PO);
    } catch (error) {
      if (closeProvider) await provider.close();
      throw error;
    }
    const server: ServerHandle = closeProvider
      ? {
        baseUrl: handle.baseUrl,
        token: handle.token,
        close: async () => {
          try {
            await handle.close();
          } finally {
            await provider.close();
          }
        },
      }
      : handle;
    const connected = new this({ ...client, baseUrl: server.baseUrl, server });
    try {
      return await connected.connect();
    } catch (error) {
      await connected.close();
      throw error;
    }
  }

  /**
   * Starts the env's server as a child process on a unix socket (no Docker)
   * and returns a connected client; `close()` stops the process.
   */
  static async fromProcess<T extends HTTPEnvClient<Action, Observation, State, Reward>>(
    this: EnvClientClass<T>,
    options: ProvidedClientOptions & { process?: ProcessOptions } = {},
  ): Promise<T> {
    const env = this.manifestUrl?.href ?? this.envName;
    if (!env) {
      throw new TypeError(`${this.name} does not name its env (static manifestUrl or envName)`);
    }
    const { process, ...client } = options;
    const { ProcessProvider } = await import("../providers/process.ts");
    return await EnvClient.from.call(this, new ProcessProvider(), env, {
      ...client,
      start: process,
    }) as T;
  }

  /**
   * Starts `image` as a hardened container and returns a connected client;
   * `close()` stops and removes the container.
   *
   * @example
   * ```ts ignore
   * import { EchoEnv } from "../envs/echo/client.ts";
   * await using env = await EchoEnv.fromDockerImage("echo-env:latest");
   * const result = await env.step({ message: "Hello, World!" });
   * console.log(result.reward); // 1.3
   * ```
   */
  static async fromDockerImage<T extends HTTPEnvClient<Action, Observation, State, Reward>>(
    this: EnvClientClass<T>,
    image: string,
    options: ProvidedClientOptions & {
      docker?: DockerStartOptions & Omit<LocalDockerProviderOptions, "engine">;
    } = {},
  ): Promise<T> {
    const { docker = {}, ...client } = options;
    const { host, apiVersion, timeoutS, reapOnStart, reapIntervalS, ...start } = docker;
    const { LocalDockerProvider } = await import("../providers/docker/local_docker_provider.ts");
    const provider = new LocalDockerProvider({
      host,
      apiVersion,
      timeoutS,
      reapOnStart,
      reapIntervalS,
    });
    return await EnvClient.from.call(this, provider, image, {
      ...client,
      start,
      closeProvider: true,
    }) as T;
  }

  /**
   * Starts `image` as a hardened Pod on the kubeconfig's cluster and returns
   * a connected client; `close()` deletes the Pod. For many clients (a pool)
   * share one provider instead: `EchoEnv.from(k8s, image, { start })`.
   *
   * @example
   * ```ts ignore
   * import { EchoEnv } from "../envs/echo/client.ts";
   * await using env = await EchoEnv.fromKubernetes("echo-env:latest", {
   *   kubernetes: { namespace: "envs" },
   * });
   * await env.reset();
   * console.log((await env.step({ message: "hi" })).reward); // 0.2
   * ```
   */
  static async fromKubernetes<T extends HTTPEnvClient<Action, Observation, State>>(
    this: EnvClientClass<T>,
    image: string,
    options: ProvidedClientOptions & {
      kubernetes?: KubernetesStartOptions & Pick<KubernetesProviderOptions, "path" | "context">;
    } = {},
  ): Promise<T> {
    const { kubernetes = {}, ...client } = options;
    const { path, context, ...start } = kubernetes;
    const { KubernetesProvider } = await import(
      "../providers/kubernetes/kubernetes_provider.ts"
    );
    const provider = new KubernetesProvider({ path, context, namespace: start.namespace });
    return await EnvClient.from.call(this, provider, image, {
      ...client,
      start,
      closeProvider: true,
    }) as T;
  }
}
