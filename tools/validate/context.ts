/**
 * What the check groups of the validate suite share: the probe, the options,
 * the results so far, what earlier checks learned (schemas, the action, the
 * server's kind, its tools), and the WebSocket helpers that read replies.
 *
 * @module
 */
import { describeValue, isPlainObject, type JsonSchema } from "../json_schema.ts";
import type { Probe, ProbeResponse, ProbeSocket, SocketEvent } from "../probe.ts";
import {
  describeEvent,
  errorText,
  Fail,
  fail,
  fieldType,
  isCapacity,
  type Json,
  short,
  Skip,
  sleep,
  toolError,
} from "./helpers.ts";
import type { CheckResult, CheckStatus, ServerKind, ValidateOptions } from "./types.ts";

/** How long a check waits for a free session when the server is full. */
export const CAPACITY_WAIT_MS = 5000;

/** An observation or state seen during the run, for the schema checks. */
export interface Seen {
  /** Where it came from, e.g. `WebSocket reset`. */
  where: string;
  /** The value, with `reward` and `done` put back into an observation. */
  value: Json;
  /** Which call gave it. */
  call: "reset" | "step" | "state";
}

/** The state of one validate run. */
export class Context {
  /** Results so far, in order. */
  readonly results: CheckResult[] = [];
  /** The server's raw access. */
  readonly probe: Probe;
  /** The caller's options. */
  readonly options: ValidateOptions;
  /** What the server is; set by the `server.kind` check. */
  kind: ServerKind = "openenv";
  /** Why the suite thinks so. */
  kindEvidence = "";
  /** The published schemas, when `/schema` gave usable ones. */
  schemas?: { action: JsonSchema; observation: JsonSchema; state: JsonSchema };
  /** The action the step checks send. */
  action?: { value: Json; source: string };
  /** Why there is no action. */
  noActionReason = "";
  /** An action the schema refuses, and what was changed to make it. */
  invalid?: { value: Json; change: string; field?: string };
  /** Why there is no invalid action. */
  noInvalidReason = "";
  /** The env's MCP tools, once listed (`undefined`: not listed yet). */
  tools?: { name: string; description: string; input_schema: unknown }[];
  /** Why the env has no tools (the answer to list_tools). */
  noToolsReason = "";
  /** Observations received, for the schema check. */
  readonly observations: Seen[] = [];
  /** States received, for the schema check. */
  readonly states: Seen[] = [];
  /** The HTTP session the HTTP checks use (envtorch servers). */
  session?: string;

  constructor(probe: Probe, options: ValidateOptions) {
    this.probe = probe;
    this.options = options;
  }

  /** Whether the server has envtorch's extensions. */
  get envtorch(): boolean {
    return this.kind === "envtorch";
  }

  /** Runs one check and records its result; resolves to whether it passed. */
  async check(id: string, title: string, fn: () => Promise<string | void>): Promise<boolean> {
    this.options.signal?.throwIfAborted();
    this.options.onStart?.(id, title);
    const started = performance.now();
    let status: CheckStatus = "ok";
    let detail = "";
    try {
      detail = (await fn()) ?? "";
    } catch (error) {
      this.options.signal?.throwIfAborted();
      if (error instanceof Skip) status = "skip";
      else status = "fail";
      detail = error instanceof Fail || error instanceof Skip
        ? error.message
        : `unexpected error: ${(error as Error)?.message ?? error}`;
    }
    const result = {
      id,
      title,
      status,
      detail,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    };
    this.results.push(result);
    this.options.onCheck?.(result);
    return status === "ok";
  }

  /** Opens a WebSocket and sends `first`, waiting while the server is at capacity. */
  async openSession(
    first: unknown,
    options: { waitMs?: number } = {},
  ): Promise<{ socket: ProbeSocket; event: SocketEvent }> {
    const deadline = performance.now() + (options.waitMs ?? CAPACITY_WAIT_MS);
    while (true) {
      const socket = await this.probe.ws();
      const event = await socket.request(first);
      if (!isCapacity(event) || performance.now() >= deadline) return { socket, event };
      await socket.close();
      await sleep(100);
    }
  }

  /** Retries an HTTP call while it answers 503, for up to {@link CAPACITY_WAIT_MS}. */
  async withCapacityWait(fn: () => Promise<ProbeResponse>): Promise<ProbeResponse> {
    const deadline = performance.now() + CAPACITY_WAIT_MS;
    while (true) {
      const res = await fn();
      if (res.status !== 503 || performance.now() >= deadline) return res;
      await sleep(100);
    }
  }

  /** Fails unless the session still answers a state message. */
  async stillServes(socket: ProbeSocket, when: string): Promise<void> {
    const event = await socket.request({ type: "state" });
    if (event.kind === "closed") {
      fail(`the server closed the session ${when} (code ${event.code}); an error must not end it`);
    }
    if (event.kind !== "message" || (event.message as Json)?.type !== "state") {
      fail(`${when}, a state message got ${describeEvent(event)}`);
    }
  }

  /** The observation of an `observation` message (checked and kept), or a failure. */
  expectObservation(
    event: SocketEvent | undefined,
    what: string,
    call: "reset" | "step" = "step",
  ): Json {
    if (!event) return fail(`${what}: no reply`);
    if (event.kind === "closed") {
      return fail(
        `${what}: the server closed the connection (code ${event.code}${
          event.reason ? `: ${event.reason}` : ""
        })`,
      );
    }
    const message = event.message;
    if (!isPlainObject(message)) {
      return fail(`${what}: the reply is not a JSON object: ${short(event.raw)}`);
    }
    if (message.type === "error") {
      return fail(`${what}: the server answered with an error: ${errorText(event)}`);
    }
    if (message.type !== "observation") {
      return fail(
        `${what}: expected an "observation" message, got type ${JSON.stringify(message.type)}`,
      );
    }
    return this.checkStepResult(message.data, what, call);
  }

  /** The state of a `state` message (checked and kept), or a failure. */
  expectState(event: SocketEvent, what: string): Json {
    if (event.kind === "closed") {
      return fail(`${what}: the server closed the connection (code ${event.code})`);
    }
    const message = event.message;
    if (!isPlainObject(message)) {
      return fail(`${what}: the reply is not a JSON object: ${short(event.raw)}`);
    }
    if (message.type === "error") {
      return fail(`${what}: the server answered with an error: ${errorText(event)}`);
    }
    if (message.type !== "state") {
      return fail(`${what}: expected a "state" message, got type ${JSON.stringify(message.type)}`);
    }
    return this.checkState(message.data, what);
  }

  /**
   * Checks `{observation, reward, done}`, keeps the observation for the
   * schema check, and fails a step whose tool call reports an error (an MCP
   * CallToolObservation with `error` set is a failed call, not a pass).
   */
  checkStepResult(
    data: unknown,
    what: string,
    call: "reset" | "step" = "step",
    options: { keep?: boolean; toolErrorOk?: boolean } = {},
  ): Json {
    if (!isPlainObject(data)) {
      return fail(`${what}: the result is ${describeValue(data)}, expected an object`);
    }
    const problems: string[] = [];
    if (!isPlainObject(data.observation)) {
      problems.push(`observation: expected object, got ${describeValue(data.observation)}`);
    }
    problems.push(...fieldType(data, "reward", ["number", "boolean", "null"], true));
    problems.push(...fieldType(data, "done", ["boolean"], true));
    problems.push(...fieldType(data, "metadata", ["object", "null"], false));
    const extra = Object.keys(data).filter((k) =>
      !["observation", "reward", "done", "metadata"].includes(k)
    );
    if (extra.length) {
      problems.push(`unexpected fields ${extra.join(", ")} beside observation, reward, done`);
    }
    if (problems.length) fail(`${what}: ${problems.join("; ")}`);
    const observation = { ...(data.observation as Json), reward: data.reward, done: data.done };
    const failed = call === "step" && !options.toolErrorOk ? toolError(observation) : undefined;
    if (failed) fail(`${what}: the tool call failed (${failed})`);
    if (options.keep !== false) this.observations.push({ where: what, value: observation, call });
    return observation;
  }

  /** Checks the base state fields and keeps the state for the schema check. */
  checkState(data: unknown, what: string): Json {
    if (!isPlainObject(data)) {
      return fail(`${what}: the state is ${describeValue(data)}, expected an object`);
    }
    const problems = [
      ...fieldType(data, "episode_id", ["string", "null"], true),
      ...fieldType(data, "step_count", ["integer"], true),
    ];
    if (typeof data.step_count === "number" && data.step_count < 0) {
      problems.push(`step_count: expected >= 0, got ${data.step_count}`);
    }
    if (problems.length) fail(`${what}: ${problems.join("; ")}`);
    this.states.push({ where: what, value: data, call: "state" });
    return data;
  }
}
