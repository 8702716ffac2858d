/**
 * The determinism check: one seeded episode played twice with the same
 * actions must give the same observations at every step, not only the same
 * first observation (an env that ignores its seed can still reset the same).
 *
 * @module
 */
import { firstDifference, pathMatcher } from "../json_diff.ts";
import type { ProbeSocket } from "../probe.ts";
import type { Context } from "./context.ts";
import { fail, type Json, show, skip } from "./helpers.ts";

/** Fields that may differ between two plays of one episode. */
const IGNORED = pathMatcher([
  "**.episode_id",
  "**.duration_ms",
  "**.duration_s",
  "**.elapsed_ms",
  "**.elapsed_s",
  "**.timestamp",
]);

/** Plays the seeded episode twice on `socket` and compares the trajectories. */
export async function determinism(ctx: Context, socket: ProbeSocket): Promise<string> {
  const seed = ctx.options.seed ?? 42;
  const steps = ctx.options.determinismSteps ?? 3;
  const action = ctx.action?.value;
  const play = async (): Promise<Json[]> => {
    const trajectory = [
      ctx.expectObservation(
        await socket.request({ type: "reset", data: { seed } }),
        `reset with seed ${seed}`,
        "reset",
      ),
    ];
    for (let i = 1; action && i <= steps && trajectory.at(-1)!.done !== true; i++) {
      trajectory.push(
        ctx.expectObservation(await socket.request({ type: "step", data: action }), `step ${i}`),
      );
    }
    return trajectory;
  };
  const first = await play();
  const second = await play();
  const label = (i: number) => i === 0 ? "the reset" : `step ${i}`;
  let what: string | undefined;
  if (first.length !== second.length) {
    what = `seed ${seed}: the first play ended after ${first.length - 1} steps, the second after ${
      second.length - 1
    }`;
  } else {
    for (let i = 0; i < first.length && !what; i++) {
      const d = firstDifference({ observation: first[i] }, { observation: second[i] }, {
        ignore: IGNORED,
      });
      if (d) {
        what = `seed ${seed} gave different observations at ${label(i)}, ${d.path || "(root)"}: ${
          show(d.expected)
        } then ${show(d.actual)}`;
      }
    }
  }
  const played = `seed ${seed}, reset and ${first.length - 1} step(s)${
    action ? "" : " (no action: reset only)"
  }`;
  if (!what) return played;
  if (ctx.options.deterministic) fail(what);
  return skip(`${what}; not required (the env does not declare itself deterministic)`);
}
