/**
 * Small helpers of the validate suite: failing or skipping a check, and
 * reading HTTP answers and WebSocket events with messages that say what was
 * wrong.
 *
 * @module
 */
import { describeValue, isPlainObject, jsonType } from "../json_schema.ts";
import type { ProbeResponse, SocketEvent } from "../probe.ts";

/** A JSON object. */
export type Json = Record<string, unknown>;

/** Thrown by a check that failed; its message is the report's detail. */
export class Fail extends Error {}
/** Thrown by a check that could not run; its message says why. */
export class Skip extends Error {}

/** Fails the running check. */
export const fail = (message: string): never => {
  throw new Fail(message);
};
/** Skips the running check. */
export const skip = (message: string): never => {
  throw new Skip(message);
};

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One line of at most `max` characters. */
export function short(text: string, max = 120): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/** A value as short JSON, or `(absent)`. */
export function show(value: unknown): string {
  return value === undefined ? "(absent)" : short(JSON.stringify(value), 60);
}

/** Fails unless the answer has `status`. */
export function expectStatus(res: ProbeResponse, status: number, what: string): void {
  if (res.status !== status) {
    fail(
      `${what} answered HTTP ${res.status}${
        res.text ? ` ${short(res.text)}` : ""
      }, expected ${status}`,
    );
  }
}

/** The answer's body as a JSON object, or a failure. */
export function expectObject(res: ProbeResponse, what: string): Json {
  if (!isPlainObject(res.json)) {
    return fail(
      `${what} answered ${
        res.json === undefined ? "a body that is not JSON" : describeValue(res.json)
      }: ${short(res.text)}`,
    );
  }
  return res.json;
}

/** The `detail` list of a 422 answer (FastAPI's shape), or a failure. */
export function expectDetailList(res: ProbeResponse): unknown[] {
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
export function fieldType(obj: Json, key: string, types: string[], required: boolean): string[] {
  if (!Object.hasOwn(obj, key)) return required ? [`${key}: missing`] : [];
  const actual = jsonType(obj[key]);
  const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
  return ok ? [] : [`${key}: expected ${types.join(" or ")}, got ${describeValue(obj[key])}`];
}

/** Whether a WebSocket event is a CAPACITY_REACHED error. */
export function isCapacity(event: SocketEvent): boolean {
  if (event.kind !== "message" || !isPlainObject(event.message)) return false;
  const data = event.message.data;
  return event.message.type === "error" && isPlainObject(data) && data.code === "CAPACITY_REACHED";
}

/** An error event as `CODE: message`. */
export function errorText(event: SocketEvent): string {
  if (event.kind !== "message" || !isPlainObject(event.message)) return describeEvent(event);
  const data = isPlainObject(event.message.data) ? event.message.data : {};
  return `${data.code ?? "(no code)"}: ${short(String(data.message ?? ""), 80)}`;
}

/** An event in words. */
export function describeEvent(event: SocketEvent): string {
  return event.kind === "closed"
    ? `the connection closed (code ${event.code})`
    : `the reply ${short(event.raw)}`;
}

/** The `data` of an error message with `code`, or a failure. */
export function expectError(event: SocketEvent, code: string, what: string): Json {
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

/**
 * The failure an MCP tool call reports inside its observation (OpenEnv's
 * CallToolObservation `error`: `{error_type, message}`), or undefined.
 */
export function toolError(observation: Json): string | undefined {
  const error = observation.error;
  if (!isPlainObject(error) || typeof error.error_type !== "string") return undefined;
  return `${error.error_type}: ${short(String(error.message ?? ""), 100)}`;
}
