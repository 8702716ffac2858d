import assert from "node:assert/strict";
import { z } from "npm:zod@4.6.7";
import {
  CapacityError,
  ConnectionError,
  errorFromHttp,
  errorFromWire,
  ExecutionError,
  PayloadTooLargeError,
  SessionError,
  toHttpBody,
  toWireError,
  ValidationError,
} from "./errors.ts";

Deno.test("ValidationError.fromZod says where and what, FastAPI-style", () => {
  const result = z.strictObject({ message: z.string() }).safeParse({ message: 1 });
  const error = ValidationError.fromZod("action", result.error!, ["body", "action"]);
  assert.equal(error.status, 422);
  assert.equal(error.code, "VALIDATION_ERROR");
  assert.deepEqual(error.errors[0]?.loc, ["body", "action", "message"]);
  assert.match(error.message, /^Invalid action: message: Invalid input: expected string/);
});

Deno.test("every error round-trips through the wire form to the same class", () => {
  const errors = [
    new CapacityError(3, 3),
    new SessionError("Episode not started: send reset before step"),
    new ExecutionError("Env step failed: boom"),
    new ConnectionError("Pod envs/echo-1 is gone: the Pod was deleted"),
    new ValidationError("Invalid action: x", [{ loc: ["x"], msg: "bad", type: "invalid_type" }]),
  ];
  for (const error of errors) {
    const back = errorFromWire(toWireError(error));
    assert.equal(back.constructor, error.constructor);
    assert.equal(back.message, error.message);
    assert.equal(back.code, error.code);
  }
  const capacity = errorFromWire(toWireError(new CapacityError(5, 8))) as CapacityError;
  assert.equal(capacity.activeSessions, 5);
  assert.equal(capacity.maxSessions, 8);
});

Deno.test("errors round-trip through HTTP bodies, FastAPI's included", () => {
  const session = errorFromHttp(
    404,
    toHttpBody(new SessionError("Unknown session x", { status: 404 })),
  );
  assert.ok(session instanceof SessionError);
  assert.equal(session.status, 404);
  const fastapi = errorFromHttp(422, {
    detail: [{ loc: ["body", "action", "message"], msg: "field required", type: "missing" }],
  });
  assert.ok(fastapi instanceof ValidationError);
  assert.match(fastapi.message, /body.action.message: field required/);
  assert.ok(errorFromHttp(413, { detail: "too big" }) instanceof PayloadTooLargeError);
  assert.ok(
    errorFromHttp(503, { detail: "full", code: "CAPACITY_REACHED" }) instanceof CapacityError,
  );
  assert.equal(errorFromHttp(500, "Internal Server Error").message, "Internal Server Error");
});

Deno.test("an unknown wire code keeps its code in the message", () => {
  const error = errorFromWire({ message: "Rate limited", code: "RATE_LIMITED" });
  assert.match(error.message, /Rate limited \(RATE_LIMITED\)/);
});
