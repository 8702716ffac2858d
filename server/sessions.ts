/**
 * Sessions: one env instance per session, shared by the HTTP and WebSocket
 * transports. The manager caps how many exist, reaps idle ones, and runs each
 * session's calls one at a time.
 *
 * @module
 */
import type { EnvFactory, Environment } from "../protocol/environment.ts";
import { Metrics } from "./metrics.ts";
import {
  asEnvTorchError,
  CapacityError,
  ExecutionError,
  FactoryError,
  SessionError,
  TimeoutError,
  ValidationError,
} from "../protocol/errors.ts";
import { withDeadline } from "../protocol/deadline.ts";
import {
  type EnvModels,
  fieldsIntoMetadata,
  type Observation,
  ResetOptions,
  serializeObservation,
  type State,
  type WireStepResult,
} from "../protocol/models.ts";
import {
  callTool,
  CallToolAction,
  type CallToolResult,
  describeTools,
  isToolAction,
  ListToolsAction,
  type Tool,
  ToolCallError,
  type ToolInfo,
} from "../protocol/tools.ts";

/** Which transport opened a session. */
export type SessionKind = "http" | "ws" | "mcp" | "local";

/** Options of {@link Session.step}. */
export interface SessionStepOptions {
  /**
   * Seconds the env may take for this step (the request's `timeout_s`): the
   * env's step signal aborts when they pass. No limit when absent.
   */
  timeoutS?: number;
}

/** Options of a {@link SessionManager}. */
export interface SessionManagerOptions {
  /**
   * Most sessions open at once, HTTP and WebSocket together.
   * @default 64
   */
  maxSessions?: number;
  /**
   * A session with no call for this long is closed, in seconds; 0 disables.
   * @default 300
   */
  idleTimeoutS?: number;
  /**
   * How often idle sessions are looked for, in seconds.
   * @default min(idleTimeoutS / 4, 30)
   */
  reapIntervalS?: number;
  /**
   * When the server is full, how long a new session may wait for a free
   * slot before it gets CAPACITY_REACHED, in seconds; 0 refuses at once.
   * @default 0
   */
  admissionWaitS?: number;
  /**
   * Most callers waiting for a slot at once; past that, refused at once.
   * @default maxSessions
   */
  maxWaiting?: number;
  /** Where step timings and counts go; a new Metrics by default. */
  metrics?: Metrics;
  /** Called after a session is closed, with why. */
  onClose?: (session: Session, reason: string) => void;
}

/** One env instance and the bookkeeping of its episode. */
export class Session {
  /** Unguessable id of the session. */
  readonly id: string;
  /** The transport that opened it. */
  readonly kind: SessionKind;
  /** Last time a call started or ended, from `Date.now()` (cheap on the step path). */
  lastActive: number = Date.now();
  /** Calls running or waiting on this session. */
  pending = 0;
  #env: Environment;
  #models: EnvModels;
  #metrics?: Metrics;
  #started = false;
  #done = false;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #abort = new AbortController();
  #closeListeners: ((reason: string) => void)[] = [];
  #tools: readonly Tool[];

  /** Wraps an env; use {@link SessionManager.open} rather than this. */
  constructor(
    id: string,
    kind: SessionKind,
    env: Environment,
    models: EnvModels,
    metrics?: Metrics,
  ) {
    this.id = id;
    this.kind = kind;
    this.#env = env;
    this.#models = models;
    this.#metrics = metrics;
    this.#tools = env.tools;
  }

  /** The env's MCP tools. */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /** Whether the session was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `fn` after every earlier call on this session has finished. An idle
   * session runs it at once (the common case: one call at a time); a busy one
   * queues it behind the last call, whether that call succeeds or fails.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new SessionError("Session is closed"));
    this.lastActive = Date.now();
    const go = () => this.#run(fn);
    const run = this.pending++ === 0 ? go() : this.#tail.then(go, go);
    this.#tail = run;
    return run;
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (this.#closed) throw new SessionError("Session is closed");
      return await fn();
    } finally {
      this.pending--;
      this.lastActive = Date.now();
    }
  }

  /** Validates the options and resets the env; gives the result as it goes on the wire. */
  reset(options: unknown = {}): Promise<WireStepResult> {
    const schema = this.#models.resetOptions ?? ResetOptions;
    const parsed = schema.safeParse(options ?? {});
    if (!parsed.success) {
      return Promise.reject(ValidationError.fromZod("reset options", parsed.error));
    }
    return this.#exclusive(async () => {
      const obs = await this.#call("reset", () => this.#env.reset(parsed.data));
      this.#started = true;
      if (this.#metrics) this.#metrics.resets++;
      return this.#finish(obs);
    });
  }

  /** Validates the action and steps the env; gives the result as it goes on the wire. */
  step(action: unknown, options: SessionStepOptions = {}): Promise<WireStepResult> {
    if (this.#tools.length > 0 && isToolAction(action)) return this.#toolStep(action, options);
    const parsed = this.#models.action.safeParse(action);
    if (!parsed.success) {
      return Promise.reject(ValidationError.fromZod("action", parsed.error));
    }
    const { timeoutS } = options;
    return this.#exclusive(async () => {
      if (!this.#started) {
        throw new SessionError("Episode not started: send reset before step");
      }
      if (this.#done) {
        throw new SessionError("Episode is done: send reset to start a new one");
      }
      const env = this.#env;
      const started = performance.now();
      try {
        const obs = await this.#call(
          "step",
          () =>
            timeoutS === undefined
              ? env.step(parsed.data, { signal: this.#abort.signal })
              : this.#stepWithin(timeoutS, parsed.data),
        );
        return this.#finish(obs);
      } finally {
        this.#metrics?.observeStep((performance.now() - started) / 1000);
      }
    });
  }

  /**
   * Steps the env with a signal that also aborts after `timeoutS`. An env
   * that fails because of it fails as any env error does (EXECUTION_ERROR),
   * with its own message and the time that passed.
   */
  async #stepWithin(timeoutS: number, action: unknown): Promise<unknown> {
    try {
      return await withDeadline(
        "Env step",
        { signal: this.#abort.signal, timeoutS },
        async ({ signal }) =>
          await this.#env.step(action as never, { timeout_s: timeoutS, signal }),
      );
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
      throw new ExecutionError(`Env step failed: ${cause} (its ${timeoutS} s timeout passed)`, {
        cause: error.cause,
      });
    }
  }

  /**
   * A `list_tools` or `call_tool` step action (OpenEnv's MCP actions):
   * `list_tools` works before reset; `call_tool` follows the rules of a step.
   * A failed call is an observation with `error` set, not an error reply.
   */
  #toolStep(action: unknown, options: SessionStepOptions): Promise<WireStepResult> {
    const listing = (action as Record<string, unknown>).type === "list_tools";
    const parsed = (listing ? ListToolsAction : CallToolAction).safeParse(action);
    if (!parsed.success) {
      return Promise.reject(ValidationError.fromZod("action", parsed.error));
    }
    if (listing) {
      const observation = { tools: this.listTools(), done: false, reward: null, metadata: {} };
      return Promise.resolve(serializeObservation(observation));
    }
    const call = parsed.data as { tool_name: string; arguments: Record<string, unknown> };
    return this.#exclusive(async () => {
      if (!this.#started) {
        throw new SessionError("Episode not started: send reset before step");
      }
      if (this.#done) {
        throw new SessionError("Episode is done: send reset to start a new one");
      }
      const started = performance.now();
      try {
        const done = await this.#withStepSignal(
          options.timeoutS,
          (signal) =>
            callTool(this.#tools, call.tool_name, call.arguments, {
              signal,
              timeout_s: options.timeoutS,
            }),
        );
        const { reward, metadata } = done.outcome;
        this.#done = done.outcome.done;
        const observation = {
          tool_name: call.tool_name,
          result: done.result,
          error: null,
          done: this.#done,
          reward,
          metadata,
        };
        return serializeObservation(observation);
      } catch (error) {
        if (!(error instanceof ToolCallError)) throw asEnvTorchError(error, "Tool call failed");
        const observation = {
          tool_name: call.tool_name,
          result: null,
          error: { error_type: error.errorType, message: error.message },
          done: false,
          reward: null,
          metadata: {},
        };
        return serializeObservation(observation);
      } finally {
        this.#metrics?.observeStep((performance.now() - started) / 1000);
      }
    });
  }

  /**
   * Runs a tool call with a signal that aborts when the session closes or,
   * with `timeoutS`, when that time is up (with a TimeoutError DOMException,
   * as `AbortSignal.timeout` does). One controller and one timer, both gone
   * when the call ends: no `AbortSignal.any` bookkeeping, and no timer left
   * pending for the whole timeout after a call that answered in time.
   */
  async #withStepSignal<T>(
    timeoutS: number | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const session = this.#abort.signal;
    if (timeoutS === undefined) return await fn(session);
    const controller = new AbortController();
    const onClose = () => controller.abort(session.reason);
    if (session.aborted) onClose();
    else session.addEventListener("abort", onClose, { once: true });
    const timer = setTimeout(() => {
      controller.abort(
        new DOMException("The operation was aborted due to timeout", "TimeoutError"),
      );
    }, timeoutS * 1000);
    try {
      return await fn(controller.signal);
    } finally {
      clearTimeout(timer);
      session.removeEventListener("abort", onClose);
    }
  }

  /** The env's tools as `list_tools` describes them. */
  listTools(): ToolInfo[] {
    return describeTools(this.#tools);
  }

  /**
   * Calls a tool for an MCP request (`tools/call`): no reset needed, no
   * episode bookkeeping; throws a ToolCallError when the call fails.
   */
  callTool(
    name: string,
    args: unknown,
    options: { timeout_s?: number } = {},
  ): Promise<CallToolResult> {
    return this.#exclusive(async () => {
      const done = await this.#withStepSignal(
        options.timeout_s,
        (signal) => callTool(this.#tools, name, args, { signal, timeout_s: options.timeout_s }),
      );
      return done.result;
    });
  }

  /** The env's state, checked against its State schema. */
  state(): Promise<State> {
    return this.#exclusive(async () => {
      const state = await this.#call("state", () => this.#env.state);
      const parsed = this.#models.state.safeParse(state);
      if (!parsed.success) {
        throw new ExecutionError(
          `Env returned an invalid state: ${
            ValidationError.fromZod("state", parsed.error).message
          }`,
        );
      }
      return parsed.data;
    });
  }

  /** Registers a listener called once when the session closes. */
  onClose(listener: (reason: string) => void): void {
    this.#closeListeners.push(listener);
  }

  /** Closes the env; later calls fail with a SessionError. Safe to call twice. */
  async close(reason = "closed"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new SessionError(`Session ${reason}`));
    for (const listener of this.#closeListeners) {
      try {
        listener(reason);
      } catch {
        // A listener's failure must not keep the env open.
      }
    }
    try {
      await this.#env.close();
    } catch {
      // The env is gone either way; nothing more to free.
    }
  }

  async #call<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw asEnvTorchError(error, `Env ${what} failed`);
    }
  }

  /** Checks the env's observation and puts it in its wire shape, once. */
  #finish(obs: unknown): WireStepResult {
    const parsed = this.#models.observation.safeParse(obs);
    if (!parsed.success) {
      throw new ExecutionError(
        `Env returned an invalid observation: ${
          ValidationError.fromZod("observation", parsed.error).message
        }`,
      );
    }
    const observation = fieldsIntoMetadata(
      parsed.data as Observation,
      this.#models.wireMetadataFields,
    );
    this.#done = observation.done === true;
    return serializeObservation(observation);
  }
}

/** Creates, finds, caps and reaps sessions. */
export class SessionManager implements AsyncDisposable {
  /** The cap on open sessions. */
  readonly maxSessions: number;
  /** The idle timeout in seconds (0: never). */
  readonly idleTimeoutS: number;
  /** Sessions closed for being idle, since start. */
  reapedTotal = 0;
  /** Sessions opened since start. */
  openedTotal = 0;
  /** Step timings, counts and errors of this manager's sessions. */
  readonly metrics: Metrics;
  #admissionWaitS: number;
  #maxWaiting: number;
  #waiters: (() => void)[] = [];
  #closing = new Set<Promise<void>>();
  #shutDown = false;
  #factory: EnvFactory;
  #models: EnvModels;
  #sessions = new Map<string, Session>();
  #reserved = 0;
  #exempt = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #onClose?: (session: Session, reason: string) => void;

  /** Creates a manager; it starts its idle reaper at once. */
  constructor(factory: EnvFactory, models: EnvModels, options: SessionManagerOptions = {}) {
    this.#factory = factory;
    this.#models = models;
    this.maxSessions = options.maxSessions ?? 64;
    this.idleTimeoutS = options.idleTimeoutS ?? 300;
    this.#onClose = options.onClose;
    this.metrics = options.metrics ?? new Metrics();
    this.#admissionWaitS = options.admissionWaitS ?? 0;
    this.#maxWaiting = options.maxWaiting ?? this.maxSessions;
    if (this.maxSessions < 1) throw new RangeError("maxSessions must be at least 1");
    if (this.idleTimeoutS > 0) {
      const every = options.reapIntervalS ?? Math.min(this.idleTimeoutS / 4, 30);
      const timer = setInterval(() => this.reapIdle(), Math.max(every * 1000, 10));
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Sessions open now that count against the cap (including ones being created). */
  get size(): number {
    return this.#sessions.size - this.#exempt.size + this.#reserved;
  }

  /** Finds an open session by id. */
  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  /** Callers waiting for a free slot now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Open sessions by transport. */
  countByKind(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.#sessions.values()) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
    return counts;
  }

  /**
   * Opens a new session, or throws CapacityError / FactoryError. When full,
   * waits up to `admissionWaitS` for a slot first. An `exempt` session (the
   * server's one implicit HTTP session) does not count against the cap.
   */
  async open(
    kind: SessionKind,
    id: string = crypto.randomUUID(),
    options: { exempt?: boolean } = {},
  ): Promise<Session> {
    const exempt = options.exempt ?? false;
    if (!exempt && this.size >= this.maxSessions) await this.#waitForSlot();
    if (!exempt) this.#reserved++;
    let env: Environment;
    try {
      env = await this.#factory();
    } catch (error) {
      this.#waiters.shift()?.();
      const message = error instanceof Error ? error.message : String(error);
      throw new FactoryError(`Cannot create the env for a new session: ${message}`, {
        cause: error,
      });
    } finally {
      if (!exempt) this.#reserved--;
    }
    if (this.#shutDown) {
      await env.close();
      throw new FactoryError("Cannot open a session: the server is shutting down");
    }
    const session = new Session(id, kind, env, this.#models, this.metrics);
    this.#sessions.set(id, session);
    if (exempt) this.#exempt.add(id);
    this.openedTotal++;
    return session;
  }

  async #waitForSlot(): Promise<void> {
    const deadline = performance.now() + this.#admissionWaitS * 1000;
    while (this.size >= this.maxSessions) {
      const left = deadline - performance.now();
      if (left <= 0 || this.#waiters.length >= this.#maxWaiting || this.#shutDown) {
        throw new CapacityError(this.size, this.maxSessions);
      }
      // Woken by a freed slot, or by the deadline (then the loop refuses).
      await withDeadline(
        "Waiting for a session slot",
        { timeoutS: left / 1000 },
        (cancellation) =>
          new Promise<void>((resolve) => {
            this.#waiters.push(resolve);
            cancellation.onCancel(() => {
              const i = this.#waiters.indexOf(resolve);
              if (i >= 0) this.#waiters.splice(i, 1);
              resolve();
            });
          }),
      );
    }
  }

  /** Closes a session and frees its slot. */
  async close(id: string, reason = "closed"): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    if (!this.#exempt.delete(id)) this.#waiters.shift()?.();
    // Tracked so that closeAll also waits for closes already under way.
    const closing = session.close(reason);
    this.#closing.add(closing);
    try {
      await closing;
    } finally {
      this.#closing.delete(closing);
    }
    this.#onClose?.(session, reason);
  }

  /** Closes every session idle for longer than the timeout; returns how many. */
  reapIdle(now: number = Date.now()): number {
    if (this.idleTimeoutS <= 0) return 0;
    const limit = this.idleTimeoutS * 1000;
    let reaped = 0;
    for (const session of this.#sessions.values()) {
      if (session.pending === 0 && now - session.lastActive > limit) {
        reaped++;
        this.reapedTotal++;
        void this.close(session.id, `idle for more than ${this.idleTimeoutS} s`);
      }
    }
    return reaped;
  }

  /** Every open session. */
  list(): Session[] {
    return [...this.#sessions.values()];
  }

  /** Stops the reaper and closes every session. */
  async closeAll(reason = "server shutting down"): Promise<void> {
    this.#shutDown = true;
    for (const wake of this.#waiters.splice(0)) wake();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#sessions.keys()].map((id) => this.close(id, reason)));
    await Promise.all([...this.#closing]);
  }

  /** Same as {@link closeAll}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }
}
