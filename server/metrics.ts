/**
 * Server metrics in the Prometheus text format, served at `GET /metrics`:
 * sessions, steps, a step latency histogram, errors by code, reaped sessions.
 *
 * @module
 */

/** Upper bounds of the step latency histogram, in seconds. */
export const STEP_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** What the metrics need to know about sessions at render time. */
export interface SessionCounts {
  /** Open sessions by transport. */
  active: Record<string, number>;
  /** The cap. */
  max: number;
  /** Callers waiting for a free slot. */
  waiting: number;
  /** Sessions opened since start. */
  opened: number;
  /** Sessions closed for being idle since start. */
  reaped: number;
}

/** Counters and a histogram, cheap enough for the step path. */
export class Metrics {
  /** Steps served (successful or not). */
  steps = 0;
  /** Resets served. */
  resets = 0;
  #bucketCounts: number[] = new Array(STEP_BUCKETS.length).fill(0);
  #stepSum = 0;
  #stepCount = 0;
  #errors = new Map<string, number>();
  #lagMax = 0;
  #lagTimer?: ReturnType<typeof setInterval>;

  /** Records the duration of one step, in seconds. */
  observeStep(seconds: number): void {
    this.steps++;
    this.#stepCount++;
    this.#stepSum += seconds;
    // Non-cumulative here; cumulated at render time.
    for (let i = 0; i < STEP_BUCKETS.length; i++) {
      if (seconds <= STEP_BUCKETS[i]!) {
        this.#bucketCounts[i]!++;
        return;
      }
    }
  }

  /**
   * Starts measuring event-loop lag: a timer due every `intervalMs` notes how
   * late it fires. The largest lag since the last scrape is exposed.
   */
  startLagMonitor(intervalMs = 50): void {
    if (this.#lagTimer !== undefined) return;
    let due = performance.now() + intervalMs;
    this.#lagTimer = setInterval(() => {
      const now = performance.now();
      this.#lagMax = Math.max(this.#lagMax, (now - due) / 1000);
      due = now + intervalMs;
    }, intervalMs);
    Deno.unrefTimer(this.#lagTimer);
  }

  /** Stops the lag monitor. */
  stopLagMonitor(): void {
    clearInterval(this.#lagTimer);
    this.#lagTimer = undefined;
  }

  /** Counts one error sent to a client, by wire code. */
  error(code: string): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  /** Errors sent so far, by code. */
  errors(): Record<string, number> {
    return Object.fromEntries(this.#errors);
  }

  /** The Prometheus text exposition (format 0.0.4). */
  render(sessions: SessionCounts): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    metric(
      "envtorch_sessions_active",
      "gauge",
      "Sessions open now, by transport.",
      Object.entries({ http: 0, ws: 0, ...sessions.active }).map((
        [k, v],
      ) => [`{transport="${k}"}`, v]),
    );
    metric("envtorch_sessions_max", "gauge", "The session cap.", [["", sessions.max]]);
    metric("envtorch_sessions_waiting", "gauge", "Callers waiting for a free session slot.", [[
      "",
      sessions.waiting,
    ]]);
    metric("envtorch_sessions_opened_total", "counter", "Sessions opened since start.", [[
      "",
      sessions.opened,
    ]]);
    metric("envtorch_sessions_reaped_total", "counter", "Sessions closed for being idle.", [[
      "",
      sessions.reaped,
    ]]);
    metric("envtorch_resets_total", "counter", "Resets served.", [["", this.resets]]);
    metric("envtorch_steps_total", "counter", "Steps served.", [["", this.steps]]);
    lines.push(
      "# HELP envtorch_step_duration_seconds Time the env took per step.",
      "# TYPE envtorch_step_duration_seconds histogram",
    );
    let cumulative = 0;
    for (let i = 0; i < STEP_BUCKETS.length; i++) {
      cumulative += this.#bucketCounts[i]!;
      lines.push(`envtorch_step_duration_seconds_bucket{le="${STEP_BUCKETS[i]}"} ${cumulative}`);
    }
    lines.push(
      `envtorch_step_duration_seconds_bucket{le="+Inf"} ${this.#stepCount}`,
      `envtorch_step_duration_seconds_sum ${this.#stepSum}`,
      `envtorch_step_duration_seconds_count ${this.#stepCount}`,
    );
    if (this.#lagTimer !== undefined) {
      metric(
        "envtorch_event_loop_lag_seconds_max",
        "gauge",
        "Largest event-loop delay seen since the previous scrape.",
        [["", Number(this.#lagMax.toFixed(6))]],
      );
      this.#lagMax = 0;
    }
    metric(
      "envtorch_errors_total",
      "counter",
      "Errors sent to clients, by code.",
      [...this.#errors].sort().map(([code, n]) => [`{code="${code}"}`, n]),
    );
    return lines.join("\n") + "\n";
  }
}
