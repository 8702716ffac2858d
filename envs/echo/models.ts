/**
 * Models of the echo env: the action carries a message, the observation
 * echoes it back with its length.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import {
  Action,
  type ActionSchema,
  type EnvModels,
  Observation,
  type ObservationSchema,
  State,
  type StateSchema,
} from "../../protocol/models.ts";

/** Send a message to be echoed. */
export const EchoAction: ActionSchema<{ message: z.ZodString }> = Action.extend({
  /** The message to echo. */
  message: z.string(),
});
/** An echo action. */
export type EchoAction = z.infer<typeof EchoAction>;

/** The echoed message and its length in characters (code points). */
export const EchoObservation: ObservationSchema<{
  echoed_message: z.ZodString;
  message_length: z.ZodNumber;
}> = Observation.extend({
  echoed_message: z.string(),
  message_length: z.number().int().min(0),
});
/** An echo observation. */
export type EchoObservation = z.infer<typeof EchoObservation>;

/** Episode id, step count and the seed given at reset. */
export const EchoState: StateSchema<{ seed: z.ZodDefault<z.ZodNullable<z.ZodNumber>> }> = State
  .extend({
    seed: z.number().int().nullable().default(null),
  });
/** The echo env's state. */
export type EchoState = z.infer<typeof EchoState>;

/** The echo env's models, for the server and the client. */
export const echoModels: EnvModels = {
  action: EchoAction,
  observation: EchoObservation,
  state: EchoState,
};
