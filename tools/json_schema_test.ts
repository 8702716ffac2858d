import assert from "node:assert/strict";
import { jsonSchemas } from "../protocol/models.ts";
import { checkSchema, isObjectSchema, jsonEqual } from "./json_schema.ts";
import { echoModels } from "../envs/echo/models.ts";

const messages = (schema: unknown, value: unknown) =>
  checkSchema(schema as never, value).map((i) => `${i.path}: ${i.message}`);

Deno.test("checkSchema accepts what zod's schemas describe and says where others fail", () => {
  const { observation, state } = jsonSchemas(echoModels) as Record<string, unknown>;
  const good = { echoed_message: "hi", message_length: 2, done: false, reward: 0.2, metadata: {} };
  assert.deepEqual(messages(observation, good), []);
  assert.deepEqual(messages(observation, { ...good, echoed_message: 5 }), [
    "echoed_message: expected string, got integer 5",
  ]);
  assert.deepEqual(messages(observation, { ...good, message_length: -1 }), [
    "message_length: expected a number >= 0, got -1",
  ]);
  assert.deepEqual(messages(observation, { ...good, extra: 1 }), [
    "extra: unknown field (the schema allows no other fields)",
  ]);
  const { metadata: _m, ...noMetadata } = good;
  assert.deepEqual(messages(observation, noMetadata), ["metadata: required field is missing"]);
  assert.deepEqual(
    messages(state, { episode_id: null, step_count: 1, seed: null, more: true }),
    [],
  );
  assert.deepEqual(messages(state, { episode_id: 3, step_count: 1.5, seed: null }), [
    "episode_id: expected string or null, got integer 3",
    "step_count: expected integer, got number 1.5",
  ]);
});

Deno.test("checkSchema reads pydantic's forms: anyOf, $ref into $defs, nested arrays", () => {
  const schema = {
    $defs: { Item: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } },
    type: "object",
    properties: {
      items: { type: "array", items: { $ref: "#/$defs/Item" }, minItems: 1 },
      label: { anyOf: [{ type: "string", maxLength: 3 }, { type: "null" }] },
      kind: { enum: ["a", "b"] },
    },
  };
  assert.deepEqual(messages(schema, { items: [{ n: 1 }], label: null, kind: "a" }), []);
  assert.deepEqual(messages(schema, { items: [{ n: 1 }, { n: "2" }] }), [
    'items[1].n: expected integer, got string "2"',
  ]);
  assert.deepEqual(messages(schema, { items: [], label: "long", kind: "c" }), [
    "items: expected at least 1 items, got 0",
    'label: string "long" matches none of the allowed forms (anyOf)',
    'kind: expected one of ["a","b"], got string "c"',
  ]);
  assert.deepEqual(messages({ $ref: "#/$defs/Missing" }, 1), [
    ": cannot resolve $ref #/$defs/Missing",
  ]);
});

Deno.test("isObjectSchema and jsonEqual", () => {
  assert.equal(isObjectSchema({ type: "object" }), true);
  assert.equal(isObjectSchema({ properties: {} }), true);
  assert.equal(isObjectSchema({ $ref: "#/$defs/A" }), true);
  assert.equal(isObjectSchema({ type: "string" }), false);
  assert.equal(isObjectSchema([]), false);
  assert.equal(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), true);
  assert.equal(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
  assert.equal(jsonEqual({ a: 1 }, { a: 1, b: undefined }), false);
});
