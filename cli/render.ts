/**
 * Human text for what the client commands print: a refused action (which
 * field, what was wrong, what the schema expects) and an action schema as
 * a list of fields.
 *
 * @module
 */
import { type EnvTorchError, ValidationError } from "../protocol/errors.ts";
import { isPlainObject, type JsonSchema, resolveRef } from "../tools/json_schema.ts";

/** One field of an action schema: `message: string (required)`. */
export interface FieldDescription {
  /** Field name. */
  name: string;
  /** Expected type in words, e.g. `string`, `integer >= 0`, `"a" | "b"`. */
  type: string;
  /** Whether the field must be given. */
  required: boolean;
}

/** Lists the top-level fields of an object schema. */
export function describeFields(schema: JsonSchema): FieldDescription[] {
  const root = deref(schema, schema);
  if (!isPlainObject(root) || !isPlainObject(root.properties)) return [];
  const required = new Set(Array.isArray(root.required) ? root.required as string[] : []);
  return Object.entries(root.properties).map(([name, sub]) => ({
    name,
    type: describeType(schema, sub as JsonSchema),
    required: required.has(name),
  }));
}

/** A schema's expected value in words: `string`, `integer >= 0`, `"a" | "b"`, `string or null`. */
export function describeType(root: JsonSchema, node: JsonSchema, depth = 0): string {
  const s = deref(root, node);
  if (s === true) return "any value";
  if (s === false || depth > 8) return "no value";
  if ("const" in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(" | ");
  const options = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
  if (options) {
    return [...new Set(options.map((o) => describeType(root, o as JsonSchema, depth + 1)))].join(
      " or ",
    );
  }
  const types = Array.isArray(s.type) ? s.type as string[] : s.type ? [s.type as string] : [];
  if (!types.length) return isPlainObject(s.properties) ? "object" : "any value";
  const bounds: string[] = [];
  if (typeof s.minimum === "number" && s.minimum > -Number.MAX_SAFE_INTEGER) {
    bounds.push(`>= ${s.minimum}`);
  }
  if (typeof s.maximum === "number" && s.maximum < Number.MAX_SAFE_INTEGER) {
    bounds.push(`<= ${s.maximum}`);
  }
  if (typeof s.minLength === "number" && s.minLength > 0) bounds.push(`${s.minLength}+ chars`);
  if (typeof s.maxLength === "number") bounds.push(`at most ${s.maxLength} chars`);
  const type = types.join(" or ");
  return bounds.length ? `${type} ${bounds.join(", ")}` : type;
}

/**
 * Explains a refused call: for a validation error, one line per problem with
 * the field and, from the action schema when known, what it expects; then the
 * schema's fields.
 *
 * @example
 * ```ts
 * import { ValidationError } from "../protocol/errors.ts";
 * import { renderRefusal } from "./render.ts";
 * const error = new ValidationError("Invalid action", [
 *   { loc: ["body", "action", "message"], msg: "expected string, received number", type: "invalid_type" },
 * ]);
 * const schema = { type: "object", properties: { message: { type: "string" } }, required: ["message"] };
 * console.log(renderRefusal(error, { what: "action {\"message\":5}", actionSchema: schema }));
 * ```
 */
export function renderRefusal(
  error: EnvTorchError,
  options: { what: string; actionSchema?: JsonSchema },
): string {
  const lines: string[] = [];
  if (!(error instanceof ValidationError) || error.errors.length === 0) {
    return `The server refused ${options.what}: ${error.code}: ${error.message}`;
  }
  lines.push(`The server refused ${options.what} (${error.code}, HTTP ${error.status}):`);
  const fields = options.actionSchema ? describeFields(options.actionSchema) : [];
  for (const issue of error.errors) {
    const loc = (Array.isArray(issue.loc) ? issue.loc : []).map(String);
    while (loc[0] === "body" || loc[0] === "action" || loc[0] === "data") loc.shift();
    const where = loc.length ? loc.join(".") : "(the action)";
    const field = fields.find((f) => f.name === loc[0]);
    const expected = field && loc.length === 1
      ? ` (expected ${field.type}${field.required ? ", required" : ""})`
      : "";
    lines.push(`  ${where}: ${issue.msg}${expected}`);
  }
  if (fields.length) {
    lines.push(
      `The action takes: ${
        fields.map((f) => `${f.name}: ${f.type}${f.required ? " (required)" : ""}`).join(", ")
      }`,
    );
  }
  return lines.join("\n");
}

function deref(root: JsonSchema, schema: JsonSchema, depth = 0): JsonSchema {
  if (depth < 16 && isPlainObject(schema) && typeof schema.$ref === "string") {
    const target = resolveRef(root, schema.$ref);
    return target === undefined ? true : deref(root, target, depth + 1);
  }
  return schema;
}
