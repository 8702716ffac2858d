/**
 * Alternating rounds for latency benchmarks: every path runs a round in
 * turn, so drift on the machine hits them all alike, then each path's
 * samples are summarised the same way.
 *
 * @module
 */

/** A path measured in rounds: each call runs `n` steps and returns their times in ms. */
export interface Path {
  name: string;
  round: (n: number) => Promise<number[]>;
  /** Warm the path up before the first round. @default true */
  warmup?: boolean;
}

/** A round of `n` sequential calls of `step`, each timed. */
export function timed(step: () => Promise<unknown>): Path["round"] {
  return async (n) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await step();
      out.push(performance.now() - started);
    }
    return out;
  };
}

/** The `p`th percentile of sorted samples. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One path's summary. */
export interface PathRow {
  path: string;
  samples: number;
  p50_ms: number;
  p99_ms: number;
  steps_per_s: number;
}

/** Warms every path up, runs `rounds` alternating rounds of `perRound` steps, and summarises. */
export async function alternate(
  paths: Path[],
  options: { warmup: number; rounds: number; perRound: number },
): Promise<PathRow[]> {
  const samples = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  for (const path of paths) if (path.warmup !== false) await path.round(options.warmup);
  for (let round = 0; round < options.rounds; round++) {
    for (const path of paths) samples.get(path.name)!.push(...await path.round(options.perRound));
  }
  return paths.map((path) => {
    const sorted = samples.get(path.name)!.slice().sort((a, b) => a - b);
    const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    return {
      path: path.name,
      samples: sorted.length,
      p50_ms: percentile(sorted, 50),
      p99_ms: percentile(sorted, 99),
      steps_per_s: 1000 / mean,
    };
  });
}
