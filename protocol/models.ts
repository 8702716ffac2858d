/**
 * Base models of the wire protocol. An env declares its own models by
 * extending these zod schemas; the TypeScript types are `z.infer` of them, the
 * server validates with them, `/schema` is generated from them and the client
 * parses with them.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";

/** Header that names an HTTP session (see docs/protocol.md). */
export const SESSION_HEADER = "envtorch-session" as const;

/**
 * A JSON object passed through as it is, for the env's own schema to check
 * (no copy: a `__proto__` key stays an own key, which strict schemas reject).
 */
export const JsonObjectSchema: z.ZodCustom<Record<string, unknown>> = z.custom<
  Record<string, unknown>
>(
  (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  { message: "Expected a JSON object" },
);

/** Free-form metadata attached to actions and observations. */
export const Metadata: z.ZodRecord<z.ZodString, z.ZodUnknown> = z.record(z.string(), z.unknown());

/**
 * Base action: `metadata` plus the env's own fields. Unknown fields are
 * rejected (422 over HTTP, `VALIDATION_ERROR` over WebSocket).
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { Action } from "./models.ts";
 * const MoveAction = Action.extend({ direction: z.enum(["left", "right"]) });
 * MoveAction.parse({ direction: "left" });
 * ```
 */
export const Action: z.ZodObject<
  { metadata: z.ZodOptional<typeof Metadata> },
  z.core.$strict
> = z.strictObject({
  metadata: Metadata.optional(),
});
/** A base action. */
export type Action = z.infer<typeof Action>;

/** Reward carried by an observation: a number, a boolean, or none. */
export const Reward: z.ZodUnion<[z.ZodNumber, z.ZodBoolean, z.ZodNull]> = z.union([
  z.number(),
  z.boolean(),
  z.null(),
]);
/** A reward value. */
export type Reward = z.infer<typeof Reward>;

/** Base observation: `done`, `reward`, `metadata` plus the env's own fields. */
export const Observation: z.ZodObject<
  {
    done: z.ZodDefault<z.ZodBoolean>;
    reward: z.ZodDefault<typeof Reward>;
    metadata: z.ZodDefault<typeof Metadata>;
  },
  z.core.$strict
> = z.strictObject({
  done: z.boolean().default(false),
  reward: Reward.default(null),
  metadata: Metadata.default({}),
});
/** A base observation. */
export type Observation = z.infer<typeof Observation>;

/** Base state: the episode id and the step count; env fields are allowed. */
export const State: z.ZodObject<
  {
    episode_id: z.ZodDefault<z.ZodNullable<z.ZodString>>;
    step_count: z.ZodDefault<z.ZodNumber>;
  },
  z.core.$loose
> = z.looseObject({
  episode_id: z.string().nullable().default(null),
  step_count: z.number().int().min(0).default(0),
});
/** A base state. */
export type State = z.infer<typeof State>;

/**
 * Type of an env's action schema made with `Action.extend(shape)`, for an
 * explicit annotation (JSR asks public constants for one).
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { Action, type ActionSchema } from "./models.ts";
 * export const Move: ActionSchema<{ dx: z.ZodNumber }> = Action.extend({ dx: z.number() });
 * ```
 */
export type ActionSchema<S extends z.ZodRawShape> = z.ZodObject<
  typeof Action.shape & S,
  z.core.$strict
>;
/** Type of an env's observation schema made with `Observation.extend(shape)`. */
export type ObservationSchema<S extends z.ZodRawShape> = z.ZodObject<
  typeof Observation.shape & S,
  z.core.$strict
>;
/** Type of an env's state schema made with `State.extend(shape)`. */
export type StateSchema<S extends z.ZodRawShape> = z.ZodObject<
  typeof State.shape & S,
  z.core.$loose
>;

/** Base options of `reset`; an env may accept more. */
export const ResetOptions: z.ZodObject<
  {
    seed: z.ZodOptional<z.ZodNullable<z.ZodNumber>>;
    episode_id: z.ZodOptional<z.ZodNullable<z.ZodString>>;
  },
  z.core.$loose
> = z.looseObject({
  /** Seed of the episode; `null` is the same as leaving it out (as in OpenEnv). */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  /** Id of the episode; `null` is the same as leaving it out. */
  episode_id: z.string().max(255).nullable().optional(),
});
/** Options of `reset`. */
export type ResetOptions = z.infer<typeof ResetOptions>;

/**
 * What `reset` and `step` give the caller. `R` is the reward's type: typed
 * clients give `number | null` (a boolean reward from the wire becomes 1 or
 * 0), so `total += r.reward ?? 0` type-checks; the generic client keeps the
 * wire's `number | boolean | null`.
 */
export interface StepResult<O extends Observation = Observation, R extends Reward = Reward> {
  /** The observation, with `reward` and `done` inside it too. */
  observation: O;
  /** The reward of this step. */
  reward: R;
  /** Whether the episode has ended. */
  done: boolean;
}

/** The wire form of a step result: `observation` without `reward` and `done`. */
export interface WireStepResult {
  /** The observation without `reward` and `done`. */
  observation: Record<string, unknown>;
  /** The reward of the step. */
  reward: Reward;
  /** Whether the episode has ended. */
  done: boolean;
}

/** The set of schemas that describes one env. */
export interface EnvModels<
  A extends z.ZodType<Action> = z.ZodType<Action>,
  O extends z.ZodType<Observation> = z.ZodType<Observation>,
  S extends z.ZodType<State> = z.ZodType<State>,
> {
  /** Schema of an action. */
  action: A;
  /** Schema of an observation. */
  observation: O;
  /** Schema of the state. */
  state: S;
  /** Schema of reset options; defaults to {@link ResetOptions}. */
  resetOptions?: z.ZodType<ResetOptions>;
  /**
   * Observation fields that travel inside `metadata` on the wire, for
   * clients whose observation model forbids unknown fields (OpenEnv's
   * pydantic models). The server moves them there; envtorch's client lifts
   * them back, so typed code still reads `observation.field`.
   */
  wireMetadataFields?: readonly string[];
}

/**
 * Moves the observation fields named in `fields` into its `metadata`
 * (server side, before the observation goes on the wire).
 */
export function fieldsIntoMetadata<O extends Observation>(
  observation: O,
  fields: readonly string[] | undefined,
): O {
  if (!fields?.length) return observation;
  const out: Record<string, unknown> = { ...observation };
  const metadata: Record<string, unknown> = { ...observation.metadata };
  for (const field of fields) {
    if (Object.hasOwn(out, field)) {
      metadata[field] = out[field];
      delete out[field];
    }
  }
  out.metadata = metadata;
  return out as O;
}

/**
 * Lifts the fields named in `fields` out of a wire observation's `metadata`
 * back to the top level (client side, before the observation schema parses it).
 */
export function fieldsFromMetadata(
  observation: Record<string, unknown>,
  fields: readonly string[] | undefined,
): Record<string, unknown> {
  const metadata = observation.metadata;
  if (!fields?.length || metadata === null || typeof metadata !== "object") return observation;
  const out: Record<string, unknown> = { ...observation };
  const rest: Record<string, unknown> = { ...metadata as Record<string, unknown> };
  for (const field of fields) {
    if (!Object.hasOwn(out, field) && Object.hasOwn(rest, field)) {
      out[field] = rest[field];
      delete rest[field];
    }
  }
  out.metadata = rest;
  return out;
}

/**
 * Puts an observation on the wire: `reward` and `done` move up beside it and
 * `metadata` stays inside (unlike OpenEnv, which drops it).
 */
export function serializeObservation(observation: Observation): WireStepResult {
  const { reward, done, metadata, ...rest } = observation;
  return {
    observation: { ...rest, metadata: metadata ?? {} },
    reward: reward ?? null,
    done: done ?? false,
  };
}

/**
 * The observation schema as observations go on the wire: without the fields
 * that travel inside `metadata` (see {@link EnvModels.wireMetadataFields}).
 */
export function wireObservation(models: EnvModels): z.ZodType {
  const fields = models.wireMetadataFields;
  if (!fields?.length || !(models.observation instanceof z.ZodObject)) return models.observation;
  const mask = Object.fromEntries(fields.map((f) => [f, true as const])) as Record<never, true>;
  return (models.observation as z.ZodObject).omit(mask);
}

/** JSON Schemas of an env's models, as served at `GET /schema`. */
export function jsonSchemas(models: EnvModels): Record<string, unknown> {
  return {
    action: z.toJSONSchema(models.action, { io: "input", unrepresentable: "any" }),
    observation: z.toJSONSchema(wireObservation(models), { unrepresentable: "any" }),
    state: z.toJSONSchema(models.state, { unrepresentable: "any" }),
  };
}
