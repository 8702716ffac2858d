import assert from "node:assert/strict";
import { checkSchema } from "./json_schema.ts";
import { jsonSchemas } from "../protocol/models.ts";
import { invalidFromSchema, sampleFromSchema } from "./schema_samples.ts";
import { echoModels } from "../envs/echo/models.ts";

Deno.test("sampleFromSchema makes the smallest valid action: required fields only", () => {
  const { action } = jsonSchemas(echoModels) as { action: Record<string, unknown> };
  assert.deepEqual(sampleFromSchema(action), { ok: true, value: { message: "x" } });
  const bounded = {
    type: "object",
    properties: {
      n: { type: "integer", exclusiveMinimum: 3, maximum: 10 },
      mode: { enum: ["fast", "slow"] },
      tags: { type: "array", items: { type: "string", minLength: 2 }, minItems: 2 },
      note: { anyOf: [{ type: "null" }, { type: "string" }] },
      kept: { type: "boolean", default: true },
      skipped: { type: "string" },
    },
    required: ["n", "mode", "tags", "note", "kept"],
  };
  const sample = sampleFromSchema(bounded);
  assert.deepEqual(sample, {
    ok: true,
    value: { n: 4, mode: "fast", tags: ["xx", "xx"], note: "x", kept: true },
  });
});

Deno.test("sampleFromSchema says why when no value can be made", () => {
  const r = sampleFromSchema({
    type: "object",
    properties: { code: { type: "string", pattern: "^[0-9]{4}$" } },
    required: ["code"],
  });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : "", /code: expected a string matching/);
  const none = sampleFromSchema({ type: "object", properties: { x: false }, required: ["x"] });
  assert.equal(none.ok, false);
});

Deno.test("invalidFromSchema breaks a typed field, else adds an unknown one", () => {
  const { action } = jsonSchemas(echoModels) as { action: Record<string, unknown> };
  const bad = invalidFromSchema(action, { message: "x" });
  assert.ok(bad.ok);
  assert.deepEqual(bad.value.value, { message: 12345 });
  assert.equal(bad.value.field, "message");
  assert.ok(checkSchema(action, bad.value.value).length > 0);
  const untyped = { type: "object", properties: { any: {} }, additionalProperties: false };
  const extra = invalidFromSchema(untyped, {});
  assert.ok(extra.ok && extra.value.change.startsWith("unknown field"));
  const open = invalidFromSchema({ type: "object", properties: { any: {} } }, {});
  assert.equal(open.ok, false);
});
