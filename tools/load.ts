/**
 * Load generation against an env server: many sessions stepping as fast as
 * they can, with latency percentiles. Used by `envtorch bench` and bench/.
 *
 * @module
 */
import { GenericEnvClient, type HTTPEnvClient } from "../client/client.ts";
import { envToken, withToken } from "../client/token.ts";
import type { Action, Observation, Reward, State } from "../protocol/models.ts";
import { EnvTorchError } from "../protocol/errors.ts";
import { httpClientFor, parseBaseUrl } from "../client/transport.ts";

/** Latency summary, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles of a list of durations (ms). */
export function summarize(samples: number[]): LatencySummary {
  if (samples.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Where the server is. */
  baseUrl: string;
  /** Concurrent sessions. */
  sessions: number;
  /** Steps per session. */
  stepsPerSession: number;
  /** The action each step sends. */
  action: Record<string, unknown>;
  /**
   * `websocket` (typed client), `http` (typed client, keep-alive), `raw-ws`
   * (a bare WebSocket: the server's cost without the client's) or `raw-http`
   * (bare fetch with keep-alive).
   * @default "websocket"
   */
  transport?: "websocket" | "http" | "raw-ws" | "raw-http";
  /**
   * Warm-up steps per session, not measured.
   * @default 20
   */
  warmupSteps?: number;
  /**
   * Sessions connecting at once while opening.
   * @default 64
   */
  connectConcurrency?: number;
  /**
   * Typed client only: check every observation against the schemas.
   * @default true
   */
  validate?: boolean;
  /** Called with progress text while running. */
  onProgress?: (text: string) => void;
  /**
   * Token for a server that asks for one.
   * @default $ENVTORCH_TOKEN
   */
  token?: string;
}

/** What {@link runLoad} measured. */
export interface LoadResult {
  sessions: number;
  /** Sessions that opened and ran every step. */
  completed: number;
  /** Steps that succeeded. */
  steps: number;
  /**
   * Episodes that ended (`done`) during the measured phase; each ended
   * episode is followed by a reset, which is not counted as a step.
   */
  episodes: number;
  /** Failures by error code (`CAPACITY_REACHED`, `CONNECTION_ERROR`, ...). */
  failures: Record<string, number>;
  /** Wall time of the measured phase, ms. */
  wallMs: number;
  /** Steps per second over the measured phase. */
  stepsPerSecond: number;
  /** Per-step latency. */
  latency: LatencySummary;
}

/** One session of {@link runLoad}; `step` resolves to the observation's `done`. */
interface Stepper {
  step(): Promise<boolean>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Runs `sessions` sessions of `stepsPerSession` steps each, all at once. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const transport = options.transport ?? "websocket";
  const warmup = options.warmupSteps ?? 20;
  const failures: Record<string, number> = {};
  const fail = (error: unknown) => {
    const code = error instanceof EnvTorchError ? error.code : (error as Error).name || "Error";
    failures[code] = (failures[code] ?? 0) + 1;
  };
  const steppers: (Stepper | undefined)[] = new Array(options.sessions);
  let next = 0;
  const opener = async () => {
    while (next < options.sessions) {
      const i = next++;
      try {
        const s = transport === "raw-ws"
          ? await rawStepper(options.baseUrl, options.action, options.token)
          : transport === "raw-http"
          ? rawHttpStepper(options.baseUrl, options.action, options.token)
          : clientStepper(
            new GenericEnvClient({
              baseUrl: options.baseUrl,
              token: options.token,
              transport,
              validate: options.validate,
            }),
            options.action,
          );
        await s.reset();
        for (let k = 0; k < warmup; k++) if (await s.step()) await s.reset();
        steppers[i] = s;
      } catch (error) {
        fail(error);
      }
      if (i % 256 === 0) options.onProgress?.(`opened ${i + 1}/${options.sessions} sessions`);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.connectConcurrency ?? 64, options.sessions) }, opener),
  );
  const latencies: number[] = [];
  let steps = 0;
  let episodes = 0;
  let completed = 0;
  const started = performance.now();
  await Promise.all(steppers.map(async (s) => {
    if (!s) return;
    try {
      for (let k = 0; k < options.stepsPerSession; k++) {
        const t0 = performance.now();
        const done = await s.step();
        latencies.push(performance.now() - t0);
        steps++;
        if (done) {
          episodes++;
          await s.reset();
        }
      }
      completed++;
    } catch (error) {
      fail(error);
    }
  }));
  const wallMs = performance.now() - started;
  await Promise.all(steppers.map((s) => s?.close().catch(() => {})));
  return {
    sessions: options.sessions,
    completed,
    steps,
    episodes,
    failures,
    wallMs,
    stepsPerSecond: steps / (wallMs / 1000),
    latency: summarize(latencies),
  };
}

function clientStepper(
  client: HTTPEnvClient<Action, Observation, State, Reward>,
  action: Record<string, unknown>,
): Stepper {
  return {
    step: async () => (await client.step(action)).done,
    reset: async () => void await client.reset(),
    close: () => client.close(),
  };
}

/** A bare WebSocket session speaking the protocol, with no client library. */
export async function rawStepper(
  baseUrl: string,
  action: Record<string, unknown>,
  token: string | undefined = envToken(),
): Promise<Stepper> {
  const endpoint = parseBaseUrl(baseUrl);
  const client = httpClientFor(endpoint);
  const ws = new WebSocket(`${endpoint.wsBase}/ws`, {
    client,
    headers: withToken(undefined, token),
  } as WebSocketOptions);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`Cannot connect to ${baseUrl}`));
  });
  let waiting: ((data: string) => void) | undefined;
  let failed: Error | undefined;
  ws.onmessage = (e) => {
    const w = waiting;
    waiting = undefined;
    w?.(e.data as string);
  };
  ws.onclose = () => {
    failed = new Error("Connection closed");
    const w = waiting;
    waiting = undefined;
    w?.('{"type":"error","data":{"code":"CONNECTION_ERROR","message":"closed"}}');
  };
  const call = (message: string) =>
    new Promise<boolean>((resolve, reject) => {
      if (failed) return reject(failed);
      waiting = (data) => {
        if (data.startsWith('{"type":"error"')) {
          const err = new Error(data.slice(0, 500));
          err.name = JSON.parse(data).data.code;
          reject(err);
        } else resolve(isDone(data, (m) => (m as { data?: unknown }).data));
      };
      ws.send(message);
    });
  const stepMessage = JSON.stringify({ type: "step", data: action });
  return {
    step: () => call(stepMessage),
    reset: async () => void await call('{"type":"reset","data":{}}'),
    close: () => {
      ws.close();
      client?.close();
      return Promise.resolve();
    },
  };
}

/** Bare fetch calls speaking the protocol over HTTP keep-alive, with no client library. */
export function rawHttpStepper(
  baseUrl: string,
  action: Record<string, unknown>,
  token: string | undefined = envToken(),
): Stepper {
  const endpoint = parseBaseUrl(baseUrl);
  const client = httpClientFor(endpoint);
  let session = "new";
  const body = JSON.stringify({ action });
  const call = async (path: string, payload: string) => {
    const res = await fetch(endpoint.httpBase + path, {
      method: "POST",
      body: payload,
      headers: withToken(
        { "envtorch-session": session, "content-type": "application/json" },
        token,
      ),
      client,
    });
    session = res.headers.get("envtorch-session") ?? session;
    const text = await res.text();
    if (!res.ok) {
      const err = new Error(text.slice(0, 500));
      err.name = res.status === 503 ? "CAPACITY_REACHED" : `HTTP_${res.status}`;
      throw err;
    }
    return isDone(text, (m) => m);
  };
  return {
    step: () => call("/step", body),
    reset: async () => void await call("/reset", "{}"),
    close: () => Promise.resolve(client?.close()),
  };
}

/**
 * Whether a reply's `done` is true. The cheap text test rules out the common
 * case (not done) without parsing; a match is confirmed by parsing, so a
 * `"done": true` inside an observation's own fields does not count.
 */
function isDone(text: string, result: (message: unknown) => unknown): boolean {
  if (!/"done"\s*:\s*true/.test(text)) return false;
  try {
    const r = result(JSON.parse(text)) as { done?: unknown } | undefined;
    return r?.done === true;
  } catch {
    return false;
  }
}
