/**
 * The client base every bundled env client extends: {@link HTTPEnvClient}
 * plus the ways to start a server for it.
 *
 * @module
 */
import { type ClientOptions, HTTPEnvClient, type ServerHandle } from "../core/client.ts";
import type { Action, Observation, State } from "../core/models.ts";
import { type ProcessOptions, startProcess } from "./process.ts";
import {
  type DockerStartOptions,
  LocalDockerProvider,
  type LocalDockerProviderOptions,
} from "./docker/local_docker_provider.ts";

/** Client options when a provider supplies the server. */
export type ProvidedClientOptions = Omit<ClientOptions, "baseUrl" | "server" | "app">;

/** An env client class whose static methods can start its server. */
export type EnvClientClass<T> = {
  new (options: ClientOptions): T;
  envName?: string;
  manifestUrl?: URL;
  name: string;
};

/**
 * Connects a client of class `cls` to a server a provider started; the
 * client's `close()` stops the server. If connecting fails, the server is stopped.
 */
export async function connectTo<T extends HTTPEnvClient<Action, Observation, State>>(
  cls: EnvClientClass<T>,
  server: ServerHandle,
  options: ProvidedClientOptions = {},
): Promise<T> {
  const client = new cls({ ...options, baseUrl: server.baseUrl, server });
  try {
    return await client.connect();
  } catch (error) {
    await client.close();
    throw error;
  }
}

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
   * Starts the env's server as a child process on a unix socket (no Docker)
   * and returns a connected client; `close()` stops the process.
   */
  static async fromProcess<T extends HTTPEnvClient<Action, Observation, State>>(
    this: EnvClientClass<T>,
    options: ProvidedClientOptions & { process?: ProcessOptions } = {},
  ): Promise<T> {
    const env = this.manifestUrl?.href ?? this.envName;
    if (!env) {
      throw new TypeError(`${this.name} does not name its env (static manifestUrl or envName)`);
    }
    const { process, ...client } = options;
    const server = await startProcess(env, process);
    return await connectTo(this, server, client);
  }

  /**
   * Starts `image` as a hardened container (SECURITY.md) and returns a
   * connected client; `close()` stops and removes the container.
   *
   * @example
   * ```ts ignore
   * import { EchoEnv } from "../envs/echo/client.ts";
   * await using env = await EchoEnv.fromDockerImage("echo-env:latest");
   * const result = await env.step({ message: "Hello, World!" });
   * console.log(result.reward); // 1.3
   * ```
   */
  static async fromDockerImage<T extends HTTPEnvClient<Action, Observation, State>>(
    this: EnvClientClass<T>,
    image: string,
    options: ProvidedClientOptions & {
      docker?: DockerStartOptions & Omit<LocalDockerProviderOptions, "engine">;
    } = {},
  ): Promise<T> {
    const { docker = {}, ...client } = options;
    const { host, apiVersion, timeoutS, reapOnStart, reapIntervalS, ...start } = docker;
    const provider = new LocalDockerProvider({
      host,
      apiVersion,
      timeoutS,
      reapOnStart,
      reapIntervalS,
    });
    let container;
    try {
      container = await provider.start(image, { signal: client.signal, ...start });
    } catch (error) {
      await provider.close();
      throw error;
    }
    const server: ServerHandle = {
      baseUrl: container.baseUrl,
      close: async () => {
        try {
          await container.stop();
        } finally {
          await provider.close();
        }
      },
    };
    return await connectTo(this, server, client);
  }
}
