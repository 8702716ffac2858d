/**
 * Rubrics: how a step becomes a reward, as named parts a trainer can log.
 *
 * A {@link Rubric} scores one step from what the step did and what it gave
 * (`action`, `observation`, `step`, `done`) and answers a {@link Score}: the
 * value, and the value of each named part under it. Containers compose
 * rubrics: {@link weightedSum}, {@link allOf} and {@link gate} (hard
 * requirements), {@link atEpisodeEnd} and {@link trajectory} (parts scored
 * once the episode ends). An env puts `parts` in `observation.metadata.rubric`
 * ({@link applyRubric}); a rubric that reads only the observation can run
 * just as well on the trainer's side, on what the client received.
 *
 * The shape follows OpenEnv's rubrics (`openenv.core.rubrics`: a base with
 * named children, containers, trajectory rubrics) without the nn.Module
 * machinery: a rubric is a plain object with `score` and an optional
 * `reset`, containers name their children by the keys of a record, and
 * every part's value comes back with the score instead of being read off
 * the tree afterwards.
 *
 * @example
 * ```ts
 * import { evaluate, rubric, weightedSum } from "./rubric.ts";
 *
 * type In = { action: { code: string }; observation: { stdout: string }; step: number; done: boolean };
 * const r = weightedSum<In>({
 *   output: { rubric: (i) => (i.observation.stdout === "42\n" ? 1 : 0), weight: 0.8 },
 *   short: { rubric: rubric((i) => (i.action.code.length < 40 ? 1 : 0)), weight: 0.2 },
 * });
 * const score = await evaluate(r, {
 *   action: { code: "print(6 * 7)" },
 *   observation: { stdout: "42\n" },
 *   step: 1,
 *   done: false,
 * });
 * console.log(score); // { value: 1, parts: { output: 1, short: 1 } }
 * ```
 *
 * @module
 */

/** What a rubric scores: one step. */
export interface RubricInput<A = unknown, O = unknown> {
  /** The action the step ran. */
  action: A;
  /** What the step gave (its reward not yet set). */
  observation: O;
  /** Steps in the episode so far, this one included. */
  step: number;
  /** Whether the episode ends with this step. */
  done: boolean;
}

/** A rubric's answer: the value, and each named part's value (dot-separated paths). */
export interface Score {
  /** The reward this rubric gives. */
  value: number;
  /** Values of the named parts under it, e.g. `{ "tests": 0.5, "style.length": 1 }`. */
  parts: Record<string, number>;
}

/** Scores steps. Keep per-episode state (if any) and clear it in `reset`. */
export interface Rubric<I = RubricInput> {
  /** Scores one step. */
  score(input: I): Score | Promise<Score>;
  /** Called when a new episode starts. */
  reset?(): void;
}

/** A rubric, or a bare function giving a number (a leaf without parts). */
export type RubricLike<I = RubricInput> = Rubric<I> | ((input: I) => number | Promise<number>);

/** Options of {@link rubric}. */
export interface LeafOptions {
  /** Reports the value under this part name too. */
  name?: string;
}

/**
 * A leaf rubric from a function.
 *
 * @example
 * ```ts
 * import { evaluate, rubric } from "./rubric.ts";
 * const ok = rubric((i: { done: boolean }) => (i.done ? 1 : 0), { name: "finished" });
 * console.log(await evaluate(ok, { done: true })); // { value: 1, parts: { finished: 1 } }
 * ```
 */
export function rubric<I>(
  fn: (input: I) => number | Promise<number>,
  options: LeafOptions = {},
): Rubric<I> {
  const { name } = options;
  return {
    async score(input) {
      const value = checked(await fn(input), name ?? "");
      return { value, parts: name === undefined ? {} : { [name]: value } };
    },
  };
}

/** The rubric itself, or a leaf made of the function. */
export function toRubric<I>(r: RubricLike<I>): Rubric<I> {
  return typeof r === "function" ? rubric(r) : r;
}

/**
 * Scores a step and checks the answer: a rubric must give finite numbers.
 *
 * @example
 * ```ts
 * import { evaluate } from "./rubric.ts";
 * console.log(await evaluate(() => 0.5, {})); // { value: 0.5, parts: {} }
 * ```
 */
export async function evaluate<I>(r: RubricLike<I>, input: I): Promise<Score> {
  const score = await toRubric(r).score(input);
  return { value: checked(score.value, ""), parts: { ...score.parts } };
}

/** Clears the per-episode state of a rubric (and its children). */
export function resetRubric<I>(r: RubricLike<I>): void {
  if (typeof r !== "function") r.reset?.();
}

/**
 * Sets an observation's reward to the score's value and puts the parts in
 * `metadata.rubric`; returns a new observation.
 *
 * @example
 * ```ts
 * import { applyRubric } from "./rubric.ts";
 * const obs = applyRubric({ done: false, reward: null, metadata: {} }, { value: 1, parts: { tests: 1 } });
 * console.log(obs); // { done: false, reward: 1, metadata: { rubric: { tests: 1 } } }
 * ```
 */
export function applyRubric<O extends { reward?: unknown; metadata?: Record<string, unknown> }>(
  observation: O,
  score: Score,
): O {
  return {
    ...observation,
    reward: score.value,
    metadata: { ...observation.metadata, rubric: score.parts },
  };
}

/** A part of a {@link weightedSum}. */
export interface WeightedPart<I> {
  /** What scores the part. */
  rubric: RubricLike<I>;
  /** Its weight in the sum. */
  weight: number;
}

/**
 * The weighted sum of named parts (weights are used as given, not normalised).
 *
 * @example
 * ```ts
 * import { evaluate, weightedSum } from "./rubric.ts";
 * const r = weightedSum({ a: { rubric: () => 1, weight: 0.25 }, b: { rubric: () => 0.5, weight: 1 } });
 * console.log(await evaluate(r, {})); // { value: 0.75, parts: { a: 1, b: 0.5 } }
 * ```
 */
export function weightedSum<I>(parts: Record<string, WeightedPart<I>>): Rubric<I> {
  const entries = Object.entries(parts).map(([name, p]) => {
    checked(p.weight, `weight of ${name}`);
    return [name, toRubric(p.rubric), p.weight] as const;
  });
  return {
    async score(input) {
      let value = 0;
      const out: Record<string, number> = {};
      for (const [name, r, weight] of entries) {
        const s = await r.score(input);
        value += weight * checked(s.value, name);
        nest(out, name, s);
      }
      return { value, parts: out };
    },
    reset: () => entries.forEach(([, r]) => r.reset?.()),
  };
}

/** Options of {@link allOf} and {@link gate}. */
export interface ThresholdOptions {
  /**
   * A part passes at or above this value.
   * @default 1
   */
  threshold?: number;
}

/**
 * 1 when every named part reaches the threshold, else 0. Parts are scored in
 * order and the first that falls short ends it: the parts after it are not
 * scored (nor reported).
 *
 * @example
 * ```ts
 * import { allOf, evaluate } from "./rubric.ts";
 * const r = allOf({ compiles: () => 1, tests: () => 0.5, style: () => 1 });
 * console.log(await evaluate(r, {})); // { value: 0, parts: { compiles: 1, tests: 0.5 } }
 * ```
 */
export function allOf<I>(
  parts: Record<string, RubricLike<I>>,
  options: ThresholdOptions = {},
): Rubric<I> {
  const threshold = options.threshold ?? 1;
  const entries = Object.entries(parts).map(([name, r]) => [name, toRubric(r)] as const);
  return {
    async score(input) {
      const out: Record<string, number> = {};
      for (const [name, r] of entries) {
        const s = await r.score(input);
        nest(out, name, s);
        if (!(checked(s.value, name) >= threshold)) return { value: 0, parts: out };
      }
      return { value: 1, parts: out };
    },
    reset: () => entries.forEach(([, r]) => r.reset?.()),
  };
}

/**
 * The rubric's value when it reaches the threshold, else 0 (a hard
 * requirement, such as "all tests must pass").
 *
 * @example
 * ```ts
 * import { evaluate, gate } from "./rubric.ts";
 * console.log((await evaluate(gate(() => 0.9), {})).value); // 0
 * console.log((await evaluate(gate(() => 0.9, { threshold: 0.5 }), {})).value); // 0.9
 * ```
 */
export function gate<I>(r: RubricLike<I>, options: ThresholdOptions = {}): Rubric<I> {
  const threshold = options.threshold ?? 1;
  const inner = toRubric(r);
  return {
    async score(input) {
      const s = await inner.score(input);
      return { value: checked(s.value, "gate") >= threshold ? s.value : 0, parts: s.parts };
    },
    reset: () => inner.reset?.(),
  };
}

/** Options of {@link atEpisodeEnd} and {@link trajectory}. */
export interface EpisodeEndOptions {
  /**
   * The value of every step before the last.
   * @default 0
   */
  intermediate?: number;
}

/**
 * Scores only the step that ends the episode; every earlier step gets
 * `intermediate` (and reports no parts).
 *
 * @example
 * ```ts
 * import { atEpisodeEnd, evaluate } from "./rubric.ts";
 * const r = atEpisodeEnd((i: { done: boolean }) => 1);
 * console.log((await evaluate(r, { done: false })).value); // 0
 * console.log((await evaluate(r, { done: true })).value); // 1
 * ```
 */
export function atEpisodeEnd<I extends { done: boolean }>(
  r: RubricLike<I>,
  options: EpisodeEndOptions = {},
): Rubric<I> {
  const inner = toRubric(r);
  const intermediate = options.intermediate ?? 0;
  return {
    score: (input) => input.done ? inner.score(input) : { value: intermediate, parts: {} },
    reset: () => inner.reset?.(),
  };
}

/**
 * Keeps the episode's steps and scores them all together once it ends (a
 * game won or lost, a plan that worked or not); `reset` forgets them.
 *
 * @example
 * ```ts
 * import { evaluate, trajectory } from "./rubric.ts";
 * const fewSteps = trajectory((steps: readonly { done: boolean }[]) => 1 / steps.length);
 * await evaluate(fewSteps, { done: false });
 * console.log((await evaluate(fewSteps, { done: true })).value); // 0.5
 * ```
 */
export function trajectory<I extends { done: boolean }>(
  fn: (steps: readonly I[]) => number | Promise<number>,
  options: EpisodeEndOptions = {},
): Rubric<I> {
  let steps: I[] = [];
  const intermediate = options.intermediate ?? 0;
  return {
    async score(input) {
      steps.push(input);
      if (!input.done) return { value: intermediate, parts: {} };
      return { value: checked(await fn(steps), "trajectory"), parts: {} };
    },
    reset: () => (steps = []),
  };
}

function nest(out: Record<string, number>, name: string, score: Score): void {
  out[name] = score.value;
  for (const [path, value] of Object.entries(score.parts)) out[`${name}.${path}`] = value;
}

function checked(value: number, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(
      `Rubric ${what ? `${what} ` : ""}gave ${String(value)}, not a finite number`,
    );
  }
  return value;
}
