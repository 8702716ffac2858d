/**
 * Sample values made from a JSON Schema: the smallest action a server's
 * `/schema` accepts, and one it must reject. `validate` uses them when it is
 * given no example action, so it can step any env, OpenEnv's included.
 *
 * @module
 */
import {
  checkSchema,
  isPlainObject,
  type JsonSchema,
  jsonType,
  resolveRef,
} from "./json_schema.ts";

/** A derived sample, or why none could be made. */
export type Sample<T> = { ok: true; value: T } | { ok: false; reason: string };

/** An invalid sample, with what makes it invalid. */
export interface InvalidSample {
  /** The value the schema rejects. */
  value: Record<string, unknown>;
  /** What was changed, e.g. `message set to a number (expected string)`. */
  change: string;
  /** The field the server should point at, if one. */
  field?: string;
}

/**
 * Makes the smallest value `schema` accepts: required fields only, each from
 * its `default`, `const`, first `enum` entry, or first example, else the
 * smallest value of its type within its bounds.
 *
 * @example
 * ```ts
 * import { sampleFromSchema } from "./schema_samples.ts";
 * const schema = { type: "object", properties: { message: { type: "string" } }, required: ["message"] };
 * console.log(sampleFromSchema(schema)); // { ok: true, value: { message: "x" } }
 * ```
 */
export function sampleFromSchema(schema: JsonSchema): Sample<unknown> {
  let value: unknown;
  try {
    value = build(schema, schema, 0);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const issues = checkSchema(schema, value);
  if (issues.length > 0) {
    const first = issues[0]!;
    return {
      ok: false,
      reason: `the schema's constraints could not be met (${
        first.path || "(root)"
      }: ${first.message})`,
    };
  }
  return { ok: true, value };
}

/**
 * Makes an object the schema rejects from a valid one: a required field of
 * a known type set to a value of another type, else (when the schema allows
 * no other fields) an unknown field added.
 */
export function invalidFromSchema(
  schema: JsonSchema,
  valid: Record<string, unknown>,
): Sample<InvalidSample> {
  const s = deref(schema, schema);
  if (!isPlainObject(s)) return { ok: false, reason: "the action schema is not an object schema" };
  const props = isPlainObject(s.properties) ? s.properties : {};
  const required = Array.isArray(s.required) ? s.required as string[] : [];
  for (const field of [...required, ...Object.keys(props).filter((k) => !required.includes(k))]) {
    const sub = deref(schema, props[field] as JsonSchema);
    const type = isPlainObject(sub) && typeof sub.type === "string" ? sub.type : undefined;
    if (!type) continue;
    const wrong = WRONG_VALUE[type];
    if (wrong === undefined) continue;
    const value = { ...valid, [field]: wrong };
    if (checkSchema(schema, value).length > 0) {
      return {
        ok: true,
        value: {
          value,
          field,
          change: `${field} set to ${jsonType(wrong)} ${JSON.stringify(wrong)} (expected ${type})`,
        },
      };
    }
  }
  if (s.additionalProperties === false) {
    const field = "__envtorch_validate_unknown_field__";
    return {
      ok: true,
      value: { value: { ...valid, [field]: true }, field, change: `unknown field ${field} added` },
    };
  }
  return {
    ok: false,
    reason: "the action schema has no typed field to break and allows unknown fields",
  };
}

const WRONG_VALUE: Record<string, unknown> = {
  string: 12345,
  integer: "not a number",
  number: "not a number",
  boolean: "not a boolean",
  object: "not an object",
  array: "not an array",
};

function deref(root: JsonSchema, schema: JsonSchema, depth = 0): JsonSchema {
  if (depth > 32) throw new Error("the schema's $refs nest too deeply");
  if (isPlainObject(schema) && typeof schema.$ref === "string") {
    const target = resolveRef(root, schema.$ref);
    if (target === undefined) throw new Error(`cannot resolve $ref ${schema.$ref}`);
    return deref(root, target, depth + 1);
  }
  return schema;
}

function build(root: JsonSchema, node: JsonSchema, depth: number): unknown {
  if (depth > 32) throw new Error("the schema nests too deeply to build a sample");
  const schema = deref(root, node);
  if (schema === true) return {};
  if (schema === false) throw new Error("a field allows no value at all");
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ("default" in schema && checkSchema(withRoot(root, schema), schema.default).length === 0) {
    return schema.default;
  }
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) {
      // Prefer a form that is not null, then the first one that can be built.
      const ordered = [...options].sort((a, b) => Number(isNull(a)) - Number(isNull(b)));
      for (const option of ordered) {
        try {
          const v = build(root, option as JsonSchema, depth + 1);
          if (checkSchema(withRoot(root, option as JsonSchema), v).length === 0) return v;
        } catch {
          // Try the next form.
        }
      }
      throw new Error(`no form of ${key} can be built`);
    }
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const parts = schema.allOf.map((p) => build(root, p as JsonSchema, depth + 1));
    return parts.every(isPlainObject) ? Object.assign({}, ...parts) : parts[0];
  }
  const types = Array.isArray(schema.type) ? schema.type as string[] : [schema.type as string];
  const type = types.find((t) => t !== "null") ?? types[0] ??
    (isPlainObject(schema.properties) ? "object" : undefined);
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = isPlainObject(schema.properties) ? schema.properties : {};
      for (const key of Array.isArray(schema.required) ? schema.required as string[] : []) {
        out[key] = key in props ? build(root, props[key] as JsonSchema, depth + 1) : "x";
      }
      return out;
    }
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 0;
      if (min === 0) return [];
      const item = isPlainObject(schema.items) || typeof schema.items === "boolean"
        ? build(root, schema.items as JsonSchema, depth + 1)
        : null;
      return Array.from({ length: min }, () => item);
    }
    case "string": {
      const min = typeof schema.minLength === "number" ? schema.minLength : 1;
      const max = typeof schema.maxLength === "number" ? schema.maxLength : Infinity;
      return "x".repeat(Math.min(Math.max(min, 1), max));
    }
    case "integer":
    case "number":
      return numberIn(schema, type === "integer");
    case "boolean":
      return false;
    case "null":
      return null;
    default:
      throw new Error("a field has no type to build a value from");
  }
}

/** A sub-schema that still resolves the root's local `$ref`s. */
function withRoot(root: JsonSchema, sub: JsonSchema): JsonSchema {
  if (!isPlainObject(root) || !isPlainObject(sub)) return sub;
  return { $defs: root.$defs, definitions: root.definitions, ...sub };
}

function isNull(schema: unknown): boolean {
  return isPlainObject(schema) && schema.type === "null";
}

function numberIn(schema: Record<string, unknown>, integer: boolean): number {
  const num = (k: string) => typeof schema[k] === "number" ? schema[k] as number : undefined;
  let low = num("minimum") ?? -Infinity;
  const xlow = num("exclusiveMinimum") ?? (schema.exclusiveMinimum === true ? low : undefined);
  if (xlow !== undefined) low = Math.max(low, integer ? Math.floor(xlow) + 1 : xlow + 1);
  let high = num("maximum") ?? Infinity;
  const xhigh = num("exclusiveMaximum") ?? (schema.exclusiveMaximum === true ? high : undefined);
  if (xhigh !== undefined) high = Math.min(high, integer ? Math.ceil(xhigh) - 1 : xhigh - 1);
  let n = Math.min(Math.max(0, low), high);
  if (integer) n = Math.ceil(n);
  const step = num("multipleOf");
  if (step && step > 0) n = Math.ceil(n / step) * step;
  return n;
}
