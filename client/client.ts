/**
 * The typed env client: `reset`, `step`, `state`, `close`, over a WebSocket
 * session (default), HTTP, or in-process, with results validated by the
 * env's own zod schemas.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { ConnectionError, ValidationError } from "../protocol/errors.ts";
import {
  Action,
  type EnvModels,
  fieldsFromMetadata,
  Observation,
  type ResetOptions,
  type Reward,
  State,
  type StepResult,
  type WireStepResult,
} from "../protocol/models.ts";
import { EpisodeRecorder, RecordingTransport } from "./recording.ts";
import {
  type CallOptions,
  type ClientRequest,
  HttpTransport,
  type Transport,
  WebSocketTransport,
} from "./transport.ts";

import type { ServerHandle } from "../protocol/provider.ts";
import { envToken, withToken } from "./token.ts";
import { ToolCallError, type ToolErrorType, type ToolInfo } from "../protocol/tools.ts";
/** A running server someone started for this client (a process, a container). */
export type { ServerHandle };

/** Options of an env client. */
export interface ClientOptions {
  /** `http://host:port`, `ws://host:port` or `unix:/path/to.sock`. */
  baseUrl?: string;
  /**
   * How to talk to the server: a WebSocket session, HTTP requests with an
   * `envtorch-session` header, or a ready Transport (such as `inProcess(app)`
   * from the server module, which serves the client in this process).
   * @default "websocket"
   */
  transport?: "websocket" | "http" | Transport;
  /**
   * Seconds a call may take before it fails with TimeoutError (a step with
   * `envTimeoutS` gets that much more).
   * @default 60
   */
  timeoutS?: number;
  /** Extra headers on requests (or the WebSocket handshake). */
  headers?: HeadersInit;
  /**
   * Token for a server that asks for one, sent as `Authorization: Bearer
   * <token>` on every request and on the WebSocket handshake. Pass `""` to
   * send none.
   * @default the server handle's token, else $ENVTORCH_TOKEN
   */
  token?: string;
  /** The fetch the HTTP transport uses (e.g. `app.request`, to stay in-process). */
  fetch?: (input: string, init: RequestInit & { client?: Deno.HttpClient }) => Promise<Response>;
  /** Aborts every call of this client. */
  signal?: AbortSignal;
  /** A server to stop when the client closes. */
  server?: ServerHandle;
  /**
   * Check every observation and state against the env's schemas. Turn off
   * only for a trusted server when every microsecond of the step counts: the
   * results are then taken as they come (with `reward`, `done` and `metadata`
   * filled in).
   * @default true
   */
  validate?: boolean;
  /**
   * Record every reset, step and state call, with the server's answers and
   * timings, to this JSONL file (or recorder); see client/recording.ts and
   * `envtorch replay`. The recorder is closed with the client.
   */
  recordTo?: string | URL | EpisodeRecorder;
}

/** Per-call options of reset, step and state. */
export interface RequestOptions {
  /** Aborts this call. */
  signal?: AbortSignal;
  /**
   * Seconds this call may take, waiting included, before it fails with
   * TimeoutError.
   * @default the client's `timeoutS`
   */
  timeoutS?: number;
}

/** Options of {@link HTTPEnvClient.step}; every duration in seconds. */
export interface StepCallOptions extends RequestOptions {
  /**
   * Seconds the server gives the env for this step (sent as the request's
   * `timeout_s`; the env's step is aborted when they pass). The call itself
   * then waits `timeoutS + envTimeoutS` unless `timeoutS` is given.
   */
  envTimeoutS?: number;
}

/** Options of {@link HTTPEnvClient.reset}: the protocol's reset fields, the env's own, and call options. */
export type ResetCallOptions = ResetOptions & RequestOptions & Record<string, unknown>;

type ClientClass = { models: EnvModels; envName?: string; name: string };

/**
 * A typed client of one env session. A subclass names its models:
 *
 * @example
 * ```ts
 * import { HTTPEnvClient } from "../mod.ts";
 * import {
 *   type EchoAction,
 *   type EchoObservation,
 *   echoModels,
 *   type EchoState,
 * } from "../envs/echo/models.ts";
 *
 * class MyEchoClient extends HTTPEnvClient<EchoAction, EchoObservation, EchoState> {
 *   static override models = echoModels;
 * }
 * const client = new MyEchoClient({ baseUrl: "http://127.0.0.1:8000" });
 * console.log(client.baseUrl);
 * await client.close();
 * ```
 */
export class HTTPEnvClient<
  A extends Action = Action,
  O extends Observation = Observation,
  S extends State = State,
  R extends Reward = number | null,
> implements AsyncDisposable {
  /** The env's models; a subclass overrides this. */
  static models: EnvModels = { action: Action, observation: Observation, state: State };
  /** The registry name of the env, for providers that start it by name. */
  static envName?: string;

  /** Where the server is (`in-process` for an in-process client). */
  readonly baseUrl: string;
  /** The models results are parsed with. */
  protected readonly models: EnvModels;
  #transport: Transport;
  #timeoutS: number;
  #signal?: AbortSignal;
  #server?: ServerHandle;
  #closing?: Promise<void>;
  #defaultCall?: CallOptions;
  #validate: boolean;

  /** Creates a client; it connects on the first call or on {@link connect}. */
  constructor(options: ClientOptions) {
    this.models = (this.constructor as unknown as ClientClass).models;
    this.#timeoutS = options.timeoutS ?? 60;
    this.#validate = options.validate ?? true;
    this.#signal = options.signal;
    this.#server = options.server;
    if (typeof options.transport === "object") {
      this.baseUrl = options.baseUrl ?? options.transport.name ?? "custom";
      this.#transport = options.transport;
    } else {
      if (!options.baseUrl) throw new TypeError("An env client needs a baseUrl or a transport");
      this.baseUrl = options.baseUrl;
      const token = options.token ?? options.server?.token ?? envToken();
      const net = { headers: withToken(options.headers, token), fetch: options.fetch };
      this.#transport = options.transport === "http"
        ? new HttpTransport(options.baseUrl, net)
        : new WebSocketTransport(options.baseUrl, net);
    }
    if (options.recordTo !== undefined) {
      const recorder = options.recordTo instanceof EpisodeRecorder
        ? options.recordTo
        : new EpisodeRecorder(options.recordTo);
      recorder.setTarget(this.baseUrl);
      this.#transport = new RecordingTransport(this.#transport, recorder);
    }
  }

  /**
   * False once the client knows its session is gone: closed, or (WebSocket)
   * the connection was lost. A pool uses this to replace dead envs.
   */
  get alive(): boolean {
    return !this.#closing && this.#transport.alive;
  }

  /** Opens the connection now rather than on the first call. */
  async connect(options: RequestOptions = {}): Promise<this> {
    const transport = this.#transport instanceof RecordingTransport
      ? this.#transport.inner
      : this.#transport;
    if (transport instanceof WebSocketTransport) {
      await transport.connect(this.#callOptions(options));
    }
    return this;
  }

  /**
   * Starts a new episode.
   * @param options `seed`, `episode_id` and any reset option the env takes.
   */
  async reset(options: ResetCallOptions = {}): Promise<StepResult<O, R>> {
    const { signal, timeoutS, ...data } = options;
    const reply = await this.#request(
      { type: "reset", data: stripUndefined(data) },
      { signal, timeoutS },
    );
    if (reply.type !== "observation") throw unexpected("reset", reply.type);
    return this._parseResult(reply.data);
  }

  /** Sends one action and returns the observation, reward and done flag. */
  async step(action: A, options?: StepCallOptions): Promise<StepResult<O, R>> {
    const request: ClientRequest = { type: "step", data: this._stepPayload(action) };
    let call: RequestOptions | undefined = options;
    if (options?.envTimeoutS !== undefined) {
      // The server may take envTimeoutS; wait that much longer than usual.
      request.timeout_s = options.envTimeoutS;
      call = {
        signal: options.signal,
        timeoutS: options.timeoutS ?? this.#timeoutS + options.envTimeoutS,
      };
    }
    const reply = await this.#request(request, call);
    if (reply.type !== "observation") throw unexpected("step", reply.type);
    return this._parseResult(reply.data);
  }

  /**
   * The env's MCP tools (a `list_tools` step action; works before reset),
   * from an envtorch or an OpenEnv server.
   */
  async listTools(options: RequestOptions = {}): Promise<ToolInfo[]> {
    const reply = await this.#request({ type: "step", data: { type: "list_tools" } }, options);
    if (reply.type !== "observation") throw unexpected("list_tools", reply.type);
    const tools = (reply.data.observation as { tools?: unknown }).tools;
    if (!Array.isArray(tools)) {
      throw new ConnectionError("The server's list_tools answer has no tools list");
    }
    return tools as ToolInfo[];
  }

  /**
   * Calls one of the env's MCP tools (a `call_tool` step action, so it counts
   * as a step) and returns the tool's value, as OpenEnv's `call_tool` does.
   * A failed call throws a {@link ToolCallError} with OpenEnv's error type;
   * for the step's reward, send the action with {@link step} instead.
   */
  async callTool(
    name: string,
    args: Record<string, unknown> = {},
    options: RequestOptions = {},
  ): Promise<unknown> {
    const reply = await this.#request(
      { type: "step", data: { type: "call_tool", tool_name: name, arguments: args } },
      options,
    );
    if (reply.type !== "observation") throw unexpected("call_tool", reply.type);
    const obs = reply.data.observation as {
      result?: { data?: unknown } | null;
      error?: { error_type: ToolErrorType; message: string } | null;
    };
    if (obs.error) throw new ToolCallError(obs.error.error_type, obs.error.message);
    return obs.result?.data ?? null;
  }

  /** The env's current state. */
  async state(options: RequestOptions = {}): Promise<S> {
    const reply = await this.#request({ type: "state" }, options);
    if (reply.type !== "state") throw unexpected("state", reply.type);
    return this._parseState(reply.data);
  }

  /** Ends the session, and stops the server if this client started it. Safe to call twice. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        await this.#transport.close();
      } finally {
        await this.#server?.close();
      }
    })();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Turns an action into the JSON sent on the wire; override to customise. */
  protected _stepPayload(action: A): Record<string, unknown> {
    return action as Record<string, unknown>;
  }

  /** Turns a wire step result into a typed StepResult; override to customise. */
  protected _parseResult(payload: WireStepResult): StepResult<O, R> {
    const reward = payload.reward ?? null;
    const done = payload.done ?? false;
    const raw = {
      metadata: {},
      ...fieldsFromMetadata(payload.observation ?? {}, this.models.wireMetadataFields),
      reward,
      done,
    };
    if (!this.#validate) {
      return { observation: raw as unknown as O, reward: this._parseReward(reward), done };
    }
    const parsed = this.models.observation.safeParse(raw);
    if (!parsed.success) {
      throw serverSent("observation", parsed.error);
    }
    const observation = parsed.data as O;
    return {
      observation,
      reward: this._parseReward(observation.reward),
      done: observation.done,
    };
  }

  /**
   * The reward as the result gives it: a number or null (a boolean from the
   * wire becomes 1 or 0). {@link GenericEnvClient} keeps the wire's value.
   */
  protected _parseReward(reward: Reward): R {
    return (typeof reward === "boolean" ? Number(reward) : reward) as R;
  }

  /** Turns the wire state into a typed State; override to customise. */
  protected _parseState(payload: Record<string, unknown>): S {
    if (!this.#validate) return payload as S;
    const parsed = this.models.state.safeParse(payload);
    if (!parsed.success) throw serverSent("state", parsed.error);
    return parsed.data as S;
  }

  #callOptions(options?: RequestOptions): CallOptions {
    // The common call (no signal, default timeout) shares one options object.
    if (!options?.signal && options?.timeoutS === undefined && !this.#signal) {
      return this.#defaultCall ??= { timeoutS: this.#timeoutS };
    }
    const signals = [options?.signal, this.#signal].filter((s): s is AbortSignal => !!s);
    return {
      timeoutS: options?.timeoutS ?? this.#timeoutS,
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    };
  }

  #request(request: ClientRequest, options?: RequestOptions) {
    if (this.#closing) return Promise.reject(new ConnectionError("Client is closed"));
    return this.#transport.request(request, this.#callOptions(options));
  }
}

function stripUndefined(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
}

function unexpected(call: string, type: string): ConnectionError {
  return new ConnectionError(`Server answered ${call} with a ${type} message`);
}

function serverSent(what: string, error: z.ZodError): ValidationError {
  const e = ValidationError.fromZod(what, error);
  return new ValidationError(
    `Server sent an invalid ${what}: ${e.message.replace(/^Invalid \w+: /, "")}`,
    e.errors,
  );
}

/** A JSON object, as sent and received by {@link GenericEnvClient}. */
export type JsonObject = Record<string, unknown>;

/** Observation of any env: the base fields plus whatever the server sends. */
export const GenericObservation: z.ZodObject<typeof Observation.shape, z.core.$loose> = z
  .looseObject(Observation.shape);
/** An observation of any env. */
export type GenericObservation = z.infer<typeof GenericObservation>;

/**
 * A client for any server that speaks the protocol (OpenEnv's included):
 * actions and observations are raw JSON objects.
 *
 * @example
 * ```ts
 * import { GenericEnvClient } from "../mod.ts";
 * const env = new GenericEnvClient({ baseUrl: "http://127.0.0.1:8000" });
 * await env.close();
 * ```
 */
export class GenericEnvClient
  extends HTTPEnvClient<JsonObject & Action, GenericObservation, State, Reward> {
  /** The env's models, which results are parsed with. */
  static override models: EnvModels = {
    action: z.looseObject(Action.shape),
    observation: GenericObservation,
    state: State,
  };

  /** Keeps the reward as the wire sent it: a number, a boolean or null. */
  protected override _parseReward(reward: Reward): Reward {
    return reward;
  }
}
