/**
 * The WebSocket message protocol of one connection, apart from the socket:
 * text in, reply out. The server's `/ws` route wires a real socket to it and
 * the in-process transport calls it directly, so both run the same code.
 *
 * @module
 */
import { quote } from "../protocol/quote.ts";
import { z } from "npm:zod@4.6.7";
import {
  asEnvTorchError,
  type EnvTorchError,
  InvalidJsonError,
  PayloadTooLargeError,
  toWireError,
  UnknownTypeError,
  ValidationError,
} from "../protocol/errors.ts";
import { JsonObjectSchema, type WireStepResult } from "../protocol/models.ts";
import type { Metrics } from "./metrics.ts";
import { handleMcp, type JsonRpcResponse } from "./mcp.ts";
import type { Session, SessionManager } from "./sessions.ts";

/** A message the server sends. */
export type ServerMessage =
  | { type: "observation"; data: WireStepResult }
  | { type: "state"; data: Record<string, unknown> }
  | { type: "mcp"; data: JsonRpcResponse }
  | { type: "error"; data: ReturnType<typeof toWireError> };

const TimeoutS = z.number().positive().max(86_400);
const Data = JsonObjectSchema;
const ClientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("reset"), data: Data.optional() }),
  z.strictObject({
    type: z.literal("step"),
    data: Data,
    timeout_s: TimeoutS.optional(),
    request_id: z.string().max(255).optional(),
  }),
  z.strictObject({ type: z.literal("state") }),
  z.strictObject({ type: z.literal("close") }),
  z.strictObject({ type: z.literal("mcp"), data: z.unknown() }),
]);
const KNOWN_TYPES = new Set(["reset", "step", "state", "close", "mcp"]);

/** What handling one message gives: a reply to send, and whether to close. */
export interface WireReply {
  /** The message to send back, if any. */
  reply?: ServerMessage;
  /** Close the connection after sending the reply. */
  close?: boolean;
}

/** Builds an `error` message for an error. */
export function errorMessage(error: EnvTorchError): ServerMessage {
  return { type: "error", data: toWireError(error) };
}

/** Parses one client message; throws the protocol's typed errors. */
export function parseClientMessage(
  text: string,
  maxBytes: number,
): z.infer<typeof ClientMessage> {
  // A UTF-16 length over the limit is over it in UTF-8 too; under it, count bytes.
  if (
    text.length > maxBytes ||
    (text.length * 3 > maxBytes && new TextEncoder().encode(text).byteLength > maxBytes)
  ) {
    throw new PayloadTooLargeError(`Message is over the limit of ${maxBytes} bytes`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError(`Message is not valid JSON: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ValidationError('Message must be a JSON object with a "type"', [
      { loc: [], msg: "Expected an object", type: "invalid_type" },
    ]);
  }
  const type = (raw as Record<string, unknown>).type;
  if (typeof type !== "string" || !KNOWN_TYPES.has(type)) {
    throw new UnknownTypeError(
      `Unknown message type ${quote(type)}: expected reset, step, state, close or mcp`,
    );
  }
  if (isPlainStep(raw as Record<string, unknown>)) return raw as z.infer<typeof ClientMessage>;
  const parsed = ClientMessage.safeParse(raw);
  if (!parsed.success) throw ValidationError.fromZod(`${type} message`, parsed.error);
  return parsed.data;
}

/**
 * The common case, checked without zod: `{"type":"step","data":{...}}` and
 * nothing else. Anything else goes through the schema, which also words the errors.
 */
function isPlainStep(raw: Record<string, unknown>): boolean {
  if (raw.type !== "step") return false;
  const data = raw.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return false;
  let keys = 0;
  for (const key in raw) {
    if (!Object.hasOwn(raw, key)) continue;
    if (key !== "type" && key !== "data") return false;
    keys++;
  }
  return keys === 2;
}

/** Serves the messages of one connection against one session. */
export class WireSession {
  #session: Session;
  #maxBytes: number;
  #metrics?: Metrics;
  #sessions?: SessionManager;

  /**
   * Binds the protocol to a session; `maxBytes` caps each message. With
   * `sessions`, `mcp` messages may also close other MCP sessions.
   */
  constructor(session: Session, maxBytes: number, metrics?: Metrics, sessions?: SessionManager) {
    this.#session = session;
    this.#maxBytes = maxBytes;
    this.#metrics = metrics;
    this.#sessions = sessions;
  }

  /** The session behind this connection. */
  get session(): Session {
    return this.#session;
  }

  /** Handles one message (a text frame; binary frames are refused); never throws. */
  async handle(text: unknown): Promise<WireReply> {
    try {
      if (typeof text !== "string") {
        throw new InvalidJsonError("Binary frames are not supported: send JSON in a text frame");
      }
      const message = parseClientMessage(text, this.#maxBytes);
      switch (message.type) {
        case "reset": {
          return {
            reply: { type: "observation", data: await this.#session.reset(message.data ?? {}) },
          };
        }
        case "step": {
          const data = await this.#session.step(message.data, { timeoutS: message.timeout_s });
          return { reply: { type: "observation", data } };
        }
        case "state":
          return { reply: { type: "state", data: await this.#session.state() } };
        case "close":
          return { close: true };
        case "mcp": {
          // JSON-RPC inside this socket's session, as OpenEnv's `/ws` does.
          const data = await handleMcp(message.data, {
            session: this.#session,
            sessions: this.#sessions,
          });
          return { reply: { type: "mcp", data } };
        }
      }
    } catch (error) {
      const e = asEnvTorchError(error);
      this.#metrics?.error(e.code);
      return { reply: errorMessage(e) };
    }
  }
}

/** Opens a session for a new connection: a WireSession, or the error to send. */
export async function openWireSession(
  sessions: SessionManager,
  maxBytes: number,
): Promise<WireSession | EnvTorchError> {
  try {
    return new WireSession(await sessions.open("ws"), maxBytes, sessions.metrics, sessions);
  } catch (error) {
    const e = asEnvTorchError(error);
    sessions.metrics.error(e.code);
    return e;
  }
}
