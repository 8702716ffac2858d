/**
 * The conformance suite `envtorch validate` runs against any server that
 * speaks the wire protocol, envtorch's or OpenEnv's: every HTTP route and
 * WebSocket message of docs/protocol.md, the error codes, `/schema` validity and
 * the JSON types of every answer, session isolation, close twice, step
 * before reset, and seed determinism. The envtorch extensions (the
 * `envtorch-session` header, `DELETE /session`) are checked only when the
 * server shows it has them, so an OpenEnv server passes.
 *
 * The suite needs one action the env accepts to step it: the caller's
 * (`action`), else one derived from the action schema `/schema` publishes.
 * With none, the step-based checks are skipped with the reason.
 *
 * Validation resets sessions: run it against a server nobody else is using.
 *
 * @module
 */
import { firstDifference, pathMatcher } from "./json_diff.ts";
import {
  checkSchema,
  describeValue,
  isObjectSchema,
  isPlainObject,
  type JsonSchema,
  jsonType,
} from "./json_schema.ts";
import { SESSION_HEADER } from "../protocol/models.ts";
import { Probe, type ProbeResponse, type ProbeSocket, type SocketEvent } from "./probe.ts";
import { invalidFromSchema, sampleFromSchema } from "./schema_samples.ts";

/** How a check ended. */
export type CheckStatus = "ok" | "fail" | "skip";

/** One check of the suite. */
export interface CheckResult {
  /** Stable id, e.g. `http.health`, `ws.unknown_type`, `ext.delete_session`. */
  id: string;
  /** What the check looks at. */
  title: string;
  /** How it ended. */
  status: CheckStatus;
  /** What was found: why it failed or was skipped, or a note on a pass. */
  detail: string;
  /** How long it took, in milliseconds. */
  duration_ms: number;
}

/** What {@link validateServer} found. */
export interface ValidationReport {
  /** The server checked. */
  target: string;
  /** True when no check failed. */
  ok: boolean;
  /** Checks by outcome. */
  counts: Record<CheckStatus, number>;
  /** Every check, in the order run. */
  checks: CheckResult[];
  /** Whether the server has the envtorch extensions (session header, DELETE /session). */
  extensions: boolean;
  /** The action the step-based checks used, and where it came from. */
  action?: { value: Record<string, unknown>; source: string };
}

/** Options of {@link validateServer}. */
export interface ValidateOptions {
  /** An action the env accepts; by default one is derived from `/schema`. */
  action?: Record<string, unknown>;
  /**
   * Where `action` came from, for the report.
   * @default "the given action"
   */
  actionSource?: string;
  /**
   * Whether two resets with the same seed must give the same observation
   * (otherwise a difference is reported as a skip).
   * @default false
   */
  deterministic?: boolean;
  /**
   * The seed of the determinism check.
   * @default 42
   */
  seed?: number;
  /**
   * Seconds each request may take.
   * @default 30
   */
  timeoutS?: number;
  /** Aborts the run. */
  signal?: AbortSignal;
  /**
   * Token for a server that asks for one.
   * @default $ENVTORCH_TOKEN
   */
  token?: string;
  /** Called when a check starts, for progress. */
  onStart?: (id: string, title: string) => void;
  /** Called when a check ends. */
  onCheck?: (check: CheckResult) => void;
}

class Fail extends Error {}
class Skip extends Error {}
const fail = (message: string): never => {
  throw new Fail(message);
};
const skip = (message: string): never => {
  throw new Skip(message);
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CAPACITY_WAIT_MS = 5000;
/** The episode id the HTTP checks reset with, to recognise their session's state. */
const HTTP_EPISODE_ID = "envtorch-validate-http";

/**
 * Runs the suite against the server at `baseUrl` (`http://host:port` or
 * `unix:/path.sock`) and returns one result per check.
 *
 * @example
 * ```ts
 * import { createApp, EchoEnvironment, echoModels, serve } from "../mod.ts";
 * import { validateServer } from "./validate.ts";
 * await using server = serve(createApp(() => new EchoEnvironment(), echoModels), { port: 0 });
 * const report = await validateServer(server.baseUrl, { action: { message: "hi" } });
 * console.log(report.ok, report.counts); // true { ok: …, fail: 0, skip: … }
 * ```
 */
export async function validateServer(
  baseUrl: string,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  await using probe = new Probe(baseUrl, {
    timeoutS: options.timeoutS,
    signal: options.signal,
    token: options.token,
  });
  const suite = new Suite(probe, options);
  await suite.run();
  const counts = { ok: 0, fail: 0, skip: 0 };
  for (const c of suite.results) counts[c.status]++;
  return {
    target: baseUrl,
    ok: counts.fail === 0,
    counts,
    checks: suite.results,
    extensions: suite.extensions,
    action: suite.action,
  };
}

type Json = Record<string, unknown>;

class Suite {
  results: CheckResult[] = [];
  extensions = false;
  action?: { value: Json; source: string };
  #probe: Probe;
  #options: ValidateOptions;
  #schemas?: { action: JsonSchema; observation: JsonSchema; state: JsonSchema };
  #invalid?: { value: Json; change: string; field?: string };
  #noActionReason = "";
  #noInvalidReason = "";
  #observations: { where: string; value: Json }[] = [];
  #states: { where: string; value: Json }[] = [];
  #session?: string;
  #wsOpen = false;

  constructor(probe: Probe, options: ValidateOptions) {
    this.#probe = probe;
    this.#options = options;
  }

  async #check(id: string, title: string, fn: () => Promise<string | void>): Promise<boolean> {
    this.#options.signal?.throwIfAborted();
    this.#options.onStart?.(id, title);
    const started = performance.now();
    let status: CheckStatus = "ok";
    let detail = "";
    try {
      detail = (await fn()) ?? "";
    } catch (error) {
      this.#options.signal?.throwIfAborted();
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
    this.#options.onCheck?.(result);
    return status === "ok";
  }

  async run(): Promise<void> {
    const healthy = await this.#check(
      "http.health",
      'GET /health answers {"status":"healthy"}',
      () => this.#health(),
    );
    if (!healthy && !(await this.#reachable())) {
      await this.#check(
        "server",
        "the server answers",
        () => fail(`${this.#probe.baseUrl} does not answer; the other checks cannot run`),
      );
      return;
    }
    await this.#check(
      "http.metadata",
      "GET /metadata names and describes the env",
      () => this.#metadata(),
    );
    await this.#check(
      "http.schema",
      "GET /schema gives JSON Schemas of action, observation, state",
      () => this.#schema(),
    );
    await this.#check("action", "an action to step the env with", () => this.#chooseAction());
    await this.#websocketChecks();
    await this.#httpChecks();
    await this.#check(
      "schema.observations",
      "every observation matches the published observation schema",
      () => this.#matchAll("observation", this.#observations),
    );
    await this.#check(
      "schema.states",
      "every state matches the published state schema",
      () => this.#matchAll("state", this.#states),
    );
  }

  async #reachable(): Promise<boolean> {
    try {
      await this.#probe.http("/health");
      return true;
    } catch {
      return false;
    }
  }

  // --- HTTP basics -------------------------------------------------------------------------

  async #health(): Promise<string> {
    const res = await this.#probe.http("/health");
    expectStatus(res, 200, "GET /health");
    const body = expectObject(res, "GET /health");
    if (body.status !== "healthy") {
      fail(`GET /health answered ${short(res.text)}, expected {"status":"healthy"}`);
    }
    return "";
  }

  async #metadata(): Promise<string> {
    const res = await this.#probe.http("/metadata");
    expectStatus(res, 200, "GET /metadata");
    const body = expectObject(res, "GET /metadata");
    const problems = [
      ...fieldType(body, "name", ["string"], true),
      ...fieldType(body, "description", ["string"], true),
      ...["version", "readme_content", "author", "documentation_url"].flatMap((k) =>
        fieldType(body, k, ["string", "null"], false)
      ),
    ];
    if (problems.length) fail(`GET /metadata: ${problems.join("; ")}`);
    return `${body.name}: ${short(String(body.description), 60)}`;
  }

  async #schema(): Promise<string> {
    const res = await this.#probe.http("/schema");
    expectStatus(res, 200, "GET /schema");
    const body = expectObject(res, "GET /schema");
    const bad = ["action", "observation", "state"].filter((k) => !isObjectSchema(body[k]));
    if (bad.length) {
      fail(
        `GET /schema: ${
          bad.map((k) => `${k} is ${k in body ? "not a JSON Schema of an object" : "missing"}`)
            .join("; ")
        }`,
      );
    }
    this.#schemas = {
      action: body.action as JsonSchema,
      observation: body.observation as JsonSchema,
      state: body.state as JsonSchema,
    };
    return "";
  }

  async #chooseAction(): Promise<string> {
    await Promise.resolve();
    const given = this.#options.action;
    if (given) {
      this.action = { value: given, source: this.#options.actionSource ?? "the given action" };
      if (this.#schemas) {
        const issues = checkSchema(this.#schemas.action, given);
        if (issues.length) {
          fail(
            `${this.action.source} ${
              short(JSON.stringify(given))
            } does not match the action schema: ${
              issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")
            }`,
          );
        }
      }
    } else if (!this.#schemas) {
      this.#noActionReason = "no action given and no usable /schema to derive one from";
      skip(`${this.#noActionReason}; give one with --action JSON`);
    } else {
      const sample = sampleFromSchema(this.#schemas.action);
      if (!sample.ok || !isPlainObject(sample.value)) {
        this.#noActionReason = `cannot derive an action from the action schema: ${
          sample.ok ? "it is not an object" : sample.reason
        }`;
        return skip(`${this.#noActionReason}; give one with --action JSON`);
      }
      this.action = { value: sample.value, source: "derived from the action schema" };
    }
    if (this.#schemas) {
      const invalid = invalidFromSchema(this.#schemas.action, this.action!.value);
      if (invalid.ok) this.#invalid = invalid.value;
      else this.#noInvalidReason = invalid.reason;
    } else {
      this.#noInvalidReason = "no usable /schema";
    }
    return `${short(JSON.stringify(this.action!.value), 80)} (${this.action!.source})`;
  }

  #needAction(): Json {
    if (!this.action) skip(`no action to step with: ${this.#noActionReason}`);
    return this.action!.value;
  }

  #needInvalid(): { value: Json; change: string; field?: string } {
    this.#needAction();
    if (!this.#invalid) skip(`cannot make an invalid action: ${this.#noInvalidReason}`);
    return this.#invalid!;
  }

  // --- WebSocket ---------------------------------------------------------------------------

  async #websocketChecks(): Promise<void> {
    let ws: ProbeSocket | undefined;
    let first: SocketEvent | undefined;
    await this.#check("ws.reset", "WebSocket reset gives an observation message", async () => {
      ({ socket: ws, event: first } = await this.#openSession({ type: "reset", data: {} }));
      this.#wsOpen = true;
      this.#expectObservation(first, "WebSocket reset");
      return "";
    });
    const live = () => ws && !ws.ended ? ws : skip("the WebSocket session could not be opened");
    await this.#check("ws.step", "WebSocket step gives an observation message", async () => {
      const action = this.#needAction();
      const socket = live();
      this.#expectObservation(
        await socket.request({ type: "step", data: action }),
        "WebSocket step",
      );
      return "";
    });
    await this.#check("ws.state", "WebSocket state gives a state message", async () => {
      const socket = live();
      const event = await socket.request({ type: "state" });
      const data = this.#expectState(event, "WebSocket state");
      return `step_count ${data.step_count}`;
    });
    const errorCheck = (
      id: string,
      title: string,
      code: string,
      message: () => unknown,
      options: { errors?: boolean; field?: string } = {},
    ) =>
      this.#check(id, title, async () => {
        const socket = live();
        const event = await socket.request(message());
        const data = expectError(event, code, title);
        if (options.errors && !Array.isArray(data.errors)) {
          fail(`the ${code} error has no "errors" list saying where and why`);
        }
        if (options.field && !JSON.stringify(data).includes(options.field)) {
          fail(
            `the ${code} error does not name the field ${options.field}: ${
              short(JSON.stringify(data))
            }`,
          );
        }
        await this.#stillServes(socket, `after ${code}`);
        return short(String(data.message), 80);
      });
    await errorCheck(
      "ws.invalid_json",
      "a message that is not JSON gives INVALID_JSON, and the session goes on",
      "INVALID_JSON",
      () => '{"type": "state",',
    );
    await errorCheck(
      "ws.unknown_type",
      "an unknown message type gives UNKNOWN_TYPE, and the session goes on",
      "UNKNOWN_TYPE",
      () => ({ type: "launch_missiles" }),
    );
    await errorCheck(
      "ws.bad_action",
      "a step with an invalid action gives VALIDATION_ERROR with errors, and the session goes on",
      "VALIDATION_ERROR",
      () => ({ type: "step", data: this.#needInvalid().value }),
      { errors: true, field: this.#invalid?.field },
    );
    await errorCheck(
      "ws.unknown_key",
      "a message with an unknown key gives VALIDATION_ERROR, and the session goes on",
      "VALIDATION_ERROR",
      () => ({ type: "state", envtorch_validate_unknown_key: 1 }),
      { errors: true },
    );
    await this.#check(
      "determinism",
      "two resets with the same seed give the same observation",
      async () => {
        const socket = live();
        const seed = this.#options.seed ?? 42;
        const a = this.#expectObservation(
          await socket.request({ type: "reset", data: { seed } }),
          "reset",
        );
        const b = this.#expectObservation(
          await socket.request({ type: "reset", data: { seed } }),
          "reset",
        );
        const ignore = pathMatcher([
          "**.episode_id",
          "**.duration_ms",
          "**.duration_s",
          "**.timestamp",
        ]);
        const d = firstDifference({ observation: a }, { observation: b }, { ignore });
        if (!d) return `seed ${seed}`;
        const what = `seed ${seed} gave different observations at ${d.path || "(root)"}: ${
          show(d.expected)
        } then ${show(d.actual)}`;
        if (this.#options.deterministic) fail(what);
        return skip(`${what}; not required (the env does not declare itself deterministic)`);
      },
    );
    await this.#check("ws.close", "a close message ends the connection with no reply", async () => {
      const socket = live();
      const event = await socket.request({ type: "close" }, 5);
      if (event.kind === "message") fail(`the server replied to close: ${short(event.raw)}`);
      this.#wsOpen = false;
      return `close code ${(event as { code: number }).code}`;
    });
    if (ws && !ws.ended) await ws.close();
    this.#wsOpen = false;

    await this.#check(
      "ws.close_twice",
      "two close messages in a row end the connection cleanly",
      async () => {
        const { socket, event } = await this.#openSession({ type: "state" });
        if (event.kind !== "message" || (event.message as Json)?.type !== "state") {
          fail(`a new connection's state message got ${describeEvent(event)}`);
        }
        socket.send({ type: "close" });
        socket.send({ type: "close" });
        const end = await socket.next(5);
        if (end.kind === "message") fail(`the server replied to close: ${short(end.raw)}`);
        return `close code ${(end as { code: number }).code}`;
      },
    );

    await this.#check(
      "ws.step_before_reset",
      "a step before any reset is refused clearly or served",
      async () => {
        const action = this.#needAction();
        const { socket, event } = await this.#openSession({ type: "step", data: action });
        try {
          if (event.kind === "closed") {
            fail(`the server closed the connection (code ${event.code}) instead of answering`);
          }
          const message = event.kind === "message" ? event.message as Json : undefined;
          let what: string;
          if (message?.type === "error") {
            const data = isPlainObject(message.data) ? message.data : {};
            if (typeof data.code !== "string" || typeof data.message !== "string") {
              fail(
                `the error has no code and message: ${
                  short(event.kind === "message" ? event.raw : "")
                }`,
              );
            }
            what = `refused: ${data.code} ${short(String(data.message), 60)}`;
          } else {
            this.#expectObservation(event, "step before reset");
            what = "served the step";
          }
          await this.#stillServes(socket, "after a step before reset");
          return what;
        } finally {
          await socket.close();
        }
      },
    );

    await this.#check("ws.isolation", "two WebSocket sessions do not share state", async () => {
      const action = this.#needAction();
      const a = await this.#openSession({ type: "reset", data: {} });
      try {
        this.#expectObservation(a.event, "session A reset");
        this.#expectObservation(
          await a.socket.request({ type: "step", data: action }),
          "session A step",
        );
        this.#expectObservation(
          await a.socket.request({ type: "step", data: action }),
          "session A step",
        );
        const before = this.#expectState(
          await a.socket.request({ type: "state" }),
          "session A state",
        );
        const b = await this.#openSession({ type: "reset", data: {} }, { waitMs: 0 });
        try {
          if (isCapacity(b.event)) {
            skip(`the server serves one session at a time (${errorText(b.event)})`);
          }
          this.#expectObservation(b.event, "session B reset");
          this.#expectObservation(
            await b.socket.request({ type: "step", data: action }),
            "session B step",
          );
          const stateB = this.#expectState(
            await b.socket.request({ type: "state" }),
            "session B state",
          );
          const after = this.#expectState(
            await a.socket.request({ type: "state" }),
            "session A state",
          );
          const d = firstDifference(before, after);
          if (d) {
            fail(
              `session B's reset and step changed session A's state at ${d.path}: ${
                show(d.expected)
              } became ${show(d.actual)}`,
            );
          }
          if (before.step_count === 2 && stateB.step_count !== 1) {
            fail(`session B reports step_count ${stateB.step_count} after its reset and one step`);
          }
          if (typeof before.episode_id === "string" && before.episode_id === stateB.episode_id) {
            fail(`both sessions report episode_id ${before.episode_id}`);
          }
          return `A: step_count ${before.step_count}, B: step_count ${stateB.step_count}`;
        } finally {
          await b.socket.close();
        }
      } finally {
        await a.socket.close();
      }
    });
  }

  /** Opens a WebSocket and sends `first`, waiting while the server is at capacity. */
  async #openSession(
    first: unknown,
    options: { waitMs?: number } = {},
  ): Promise<{ socket: ProbeSocket; event: SocketEvent }> {
    const deadline = performance.now() + (options.waitMs ?? CAPACITY_WAIT_MS);
    while (true) {
      const socket = await this.#probe.ws();
      const event = await socket.request(first);
      if (!isCapacity(event) || performance.now() >= deadline) return { socket, event };
      await socket.close();
      await sleep(100);
    }
  }

  async #stillServes(socket: ProbeSocket, when: string): Promise<void> {
    const event = await socket.request({ type: "state" });
    if (event.kind === "closed") {
      fail(`the server closed the session ${when} (code ${event.code}); an error must not end it`);
    }
    if (event.kind !== "message" || (event.message as Json)?.type !== "state") {
      fail(`${when}, a state message got ${describeEvent(event)}`);
    }
  }

  #expectObservation(event: SocketEvent | undefined, what: string): Json {
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
    return this.#checkStepResult(message.data, what);
  }

  #expectState(event: SocketEvent, what: string): Json {
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
    return this.#checkState(message.data, what);
  }

  /** Checks `{observation, reward, done}` and keeps the observation for the schema check. */
  #checkStepResult(data: unknown, what: string): Json {
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
    const observation = {
      ...(data.observation as Json),
      reward: data.reward,
      done: data.done,
    };
    this.#observations.push({ where: what, value: observation });
    return observation;
  }

  #checkState(data: unknown, what: string): Json {
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
    this.#states.push({ where: what, value: data });
    return data;
  }

  // --- HTTP episode ------------------------------------------------------------------------

  #headers(): Record<string, string> {
    return this.#session ? { [SESSION_HEADER]: this.#session } : {};
  }

  async #httpChecks(): Promise<void> {
    await this.#check("http.reset", "POST /reset gives {observation, reward, done}", async () => {
      const res = await this.#withCapacityWait(() =>
        this.#probe.http("/reset", {
          method: "POST",
          body: { episode_id: HTTP_EPISODE_ID },
          headers: { [SESSION_HEADER]: "new" },
        })
      );
      expectStatus(res, 200, "POST /reset");
      this.#checkStepResult(res.json, "POST /reset");
      const id = res.headers.get(SESSION_HEADER);
      if (id && UUID.test(id)) {
        this.extensions = true;
        this.#session = id;
        return `envtorch session ${id}`;
      }
      return "no envtorch-session header: each request may get a fresh env, as in OpenEnv";
    });
    await this.#check("http.step", "POST /step gives {observation, reward, done}", async () => {
      const action = this.#needAction();
      const res = await this.#probe.http("/step", {
        method: "POST",
        body: { action },
        headers: this.#headers(),
      });
      if (res.status !== 200 && !this.extensions) {
        skip(
          `HTTP ${res.status} ${
            short(res.text, 80)
          }: this server keeps no state between HTTP requests (as OpenEnv), so a step cannot follow a reset there; the WebSocket session is the way to step it`,
        );
      }
      expectStatus(res, 200, "POST /step");
      this.#checkStepResult(res.json, "POST /step");
      if (this.extensions && res.headers.get(SESSION_HEADER) !== this.#session) {
        fail(
          `POST /step with ${SESSION_HEADER}: ${this.#session} answered from session ${
            res.headers.get(SESSION_HEADER)
          }`,
        );
      }
      return "";
    });
    await this.#check("http.state", "GET /state gives the state", async () => {
      const res = await this.#probe.http("/state", { headers: this.#headers() });
      expectStatus(res, 200, "GET /state");
      const state = this.#checkState(res.json, "GET /state");
      if (
        this.extensions && this.action && state.step_count !== 1 &&
        state.episode_id !== HTTP_EPISODE_ID
      ) {
        fail(
          `GET /state of the session that was reset (episode_id ${HTTP_EPISODE_ID}) and stepped once reports step_count ${state.step_count}, episode_id ${
            JSON.stringify(state.episode_id)
          }`,
        );
      }
      return `step_count ${state.step_count}`;
    });
    await this.#check(
      "http.invalid_json",
      "a body that is not JSON is refused with 400 or 422 and a detail",
      async () => {
        const res = await this.#probe.http("/step", {
          method: "POST",
          body: '{"action": {',
          headers: this.#headers(),
        });
        if (res.status !== 400 && res.status !== 422) {
          fail(
            `POST /step with a broken body answered HTTP ${res.status}, expected 400 (envtorch) or 422 (FastAPI)`,
          );
        }
        const body = expectObject(res, "the error");
        if (!("detail" in body)) fail(`the error body has no "detail": ${short(res.text)}`);
        return `HTTP ${res.status}${typeof body.code === "string" ? ` ${body.code}` : ""}`;
      },
    );
    await this.#check(
      "http.bad_action",
      "an invalid action is HTTP 422 with a detail naming the field",
      async () => {
        const invalid = this.#needInvalid();
        const res = await this.#probe.http("/step", {
          method: "POST",
          body: { action: invalid.value },
          headers: this.#headers(),
        });
        expectStatus(res, 422, `POST /step with an invalid action (${invalid.change})`);
        const detail = expectDetailList(res);
        if (invalid.field && !JSON.stringify(detail).includes(invalid.field)) {
          fail(
            `the 422 detail does not name the field ${invalid.field}: ${
              short(JSON.stringify(detail))
            }`,
          );
        }
        return `${invalid.change}: ${short(String((detail[0] as Json).msg), 60)}`;
      },
    );
    await this.#check("http.bad_body", "a step body without an action is HTTP 422", async () => {
      const res = await this.#probe.http("/step", {
        method: "POST",
        body: {},
        headers: this.#headers(),
      });
      expectStatus(res, 422, "POST /step with {}");
      expectDetailList(res);
      return "";
    });
    await this.#check("http.bad_reset", "a negative seed is HTTP 422", async () => {
      const res = await this.#probe.http("/reset", {
        method: "POST",
        body: { seed: -1 },
        headers: this.#headers(),
      });
      expectStatus(res, 422, "POST /reset with seed -1");
      expectDetailList(res);
      return "";
    });
    await this.#extensionChecks();
    await this.#check(
      "http.no_session_header",
      "a bare POST /reset (as curl or an OpenEnv client sends it) works",
      async () => {
        const res = await this.#withCapacityWait(() =>
          this.#probe.http("/reset", { method: "POST" })
        );
        expectStatus(res, 200, "POST /reset with no body and no header");
        this.#checkStepResult(res.json, "bare POST /reset");
        if (this.extensions) {
          // Free the default session again, for servers that hold one session at a time.
          const del = await this.#probe.http("/session", { method: "DELETE" });
          if (del.status !== 204) {
            fail(
              `DELETE /session of the default session answered HTTP ${del.status}`,
            );
          }
        }
        return "";
      },
    );
  }

  async #extensionChecks(): Promise<void> {
    const ext = (id: string, title: string, fn: () => Promise<string | void>) =>
      this.#check(id, title, () => {
        if (!this.extensions) {
          return Promise.resolve(
            skip("not an envtorch server (no envtorch-session header): extension not checked"),
          );
        }
        return fn();
      });
    await ext(
      "ext.session_new",
      "envtorch-session: new opens a separate HTTP session",
      async () => {
        const res = await this.#probe.http("/reset", {
          method: "POST",
          body: {},
          headers: { [SESSION_HEADER]: "new" },
        });
        if (res.status === 503) skip(`the server holds one session at a time (HTTP 503)`);
        expectStatus(res, 200, "POST /reset with envtorch-session: new");
        const other = res.headers.get(SESSION_HEADER);
        try {
          if (!other || other === this.#session) {
            return fail(`a second new session got the id ${other}`);
          }
          const state = await this.#probe.http("/state", { headers: { [SESSION_HEADER]: other } });
          const fresh = this.#checkState(state.json, "GET /state of the new session");
          const mine = this.#checkState(
            (await this.#probe.http("/state", { headers: this.#headers() })).json,
            "GET /state",
          );
          if (fresh.step_count !== 0) {
            fail(
              `the new session reports step_count ${fresh.step_count} after a reset`,
            );
          }
          return `step_count ${mine.step_count} and ${fresh.step_count}`;
        } finally {
          if (other) {
            await this.#probe.http("/session", {
              method: "DELETE",
              headers: { [SESSION_HEADER]: other },
            });
          }
        }
      },
    );
    await ext("ext.unknown_session", "an unknown session id is HTTP 404", async () => {
      const res = await this.#probe.http("/state", {
        headers: { [SESSION_HEADER]: crypto.randomUUID() },
      });
      expectStatus(res, 404, "GET /state with an unknown session id");
      return "";
    });
    await ext("ext.malformed_session", "a malformed session id is HTTP 400", async () => {
      const res = await this.#probe.http("/state", {
        headers: { [SESSION_HEADER]: "../not-an-id" },
      });
      expectStatus(res, 400, "GET /state with a malformed session id");
      return "";
    });
    await ext(
      "ext.delete_session",
      "DELETE /session closes the session; closing it twice is 404",
      async () => {
        const headers = this.#headers();
        const first = await this.#probe.http("/session", { method: "DELETE", headers });
        expectStatus(first, 204, "DELETE /session");
        const after = await this.#probe.http("/state", { headers });
        expectStatus(after, 404, "GET /state of a deleted session");
        const again = await this.#probe.http("/session", { method: "DELETE", headers });
        expectStatus(again, 404, "a second DELETE /session");
        this.#session = undefined;
        return "";
      },
    );
  }

  async #withCapacityWait(fn: () => Promise<ProbeResponse>): Promise<ProbeResponse> {
    const deadline = performance.now() + CAPACITY_WAIT_MS;
    while (true) {
      const res = await fn();
      if (res.status !== 503 || performance.now() >= deadline) return res;
      await sleep(100);
    }
  }

  // --- schemas -----------------------------------------------------------------------------

  async #matchAll(
    kind: "observation" | "state",
    seen: { where: string; value: Json }[],
  ): Promise<string> {
    await Promise.resolve();
    if (!this.#schemas) skip("no usable /schema");
    if (!seen.length) skip(`no ${kind} was received`);
    const schema = this.#schemas![kind];
    for (const { where, value } of seen) {
      const issues = checkSchema(schema, value, { path: kind, maxIssues: 3 });
      if (issues.length) {
        fail(
          `the ${kind} from ${where} does not match /schema: ${
            issues.map((i) => `${i.path}: ${i.message}`).join("; ")
          }`,
        );
      }
    }
    return `${seen.length} checked`;
  }
}

// --- helpers -------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function short(text: string, max = 120): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

function show(value: unknown): string {
  return value === undefined ? "(absent)" : short(JSON.stringify(value), 60);
}

function expectStatus(res: ProbeResponse, status: number, what: string): void {
  if (res.status !== status) {
    fail(
      `${what} answered HTTP ${res.status}${
        res.text ? ` ${short(res.text)}` : ""
      }, expected ${status}`,
    );
  }
}

function expectObject(res: ProbeResponse, what: string): Json {
  if (!isPlainObject(res.json)) {
    return fail(
      `${what} answered ${
        res.json === undefined ? "a body that is not JSON" : describeValue(res.json)
      }: ${short(res.text)}`,
    );
  }
  return res.json;
}

function expectDetailList(res: ProbeResponse): unknown[] {
  const body = expectObject(res, "the 422 answer");
  const detail = body.detail;
  if (!Array.isArray(detail) || detail.length === 0) {
    return fail(`the 422 body has no "detail" list: ${short(res.text)}`);
  }
  const bad = detail.find((d) =>
    !isPlainObject(d) || !Array.isArray(d.loc) || typeof d.msg !== "string"
  );
  if (bad !== undefined) {
    fail(`a detail entry lacks "loc" (list) or "msg" (string): ${short(JSON.stringify(bad))}`);
  }
  return detail;
}

/** Problems with one field's JSON type: `name: expected string, got number 5`. */
function fieldType(obj: Json, key: string, types: string[], required: boolean): string[] {
  if (!Object.hasOwn(obj, key)) return required ? [`${key}: missing`] : [];
  const actual = jsonType(obj[key]);
  const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
  return ok ? [] : [`${key}: expected ${types.join(" or ")}, got ${describeValue(obj[key])}`];
}

function isCapacity(event: SocketEvent): boolean {
  if (event.kind !== "message" || !isPlainObject(event.message)) return false;
  const data = event.message.data;
  return event.message.type === "error" && isPlainObject(data) && data.code === "CAPACITY_REACHED";
}

function errorText(event: SocketEvent): string {
  if (event.kind !== "message" || !isPlainObject(event.message)) return describeEvent(event);
  const data = isPlainObject(event.message.data) ? event.message.data : {};
  return `${data.code ?? "(no code)"}: ${short(String(data.message ?? ""), 80)}`;
}

function describeEvent(event: SocketEvent): string {
  return event.kind === "closed"
    ? `the connection closed (code ${event.code})`
    : `the reply ${short(event.raw)}`;
}

function expectError(event: SocketEvent, code: string, what: string): Json {
  if (event.kind === "closed") {
    return fail(
      `the server closed the connection (code ${event.code}) instead of answering ${code}`,
    );
  }
  const message = event.message;
  if (!isPlainObject(message) || message.type !== "error" || !isPlainObject(message.data)) {
    return fail(`expected an error message with code ${code}, got ${short(event.raw)}`);
  }
  const data = message.data;
  if (data.code !== code) {
    return fail(
      `expected code ${code}, got ${JSON.stringify(data.code)}: ${
        short(String(data.message ?? ""))
      } (${what})`,
    );
  }
  if (typeof data.message !== "string" || !data.message) fail(`the ${code} error has no message`);
  return data;
}
