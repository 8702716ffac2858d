/**
 * A small JSON Schema checker: the subset that zod's `z.toJSONSchema` and
 * pydantic's `model_json_schema` produce (draft 2020-12 and draft-07 forms),
 * enough to check that what a server returns matches what its `/schema`
 * publishes. Keywords outside the subset (`format`, `if`/`then`, ...) are
 * ignored, never guessed at.
 *
 * Checked: `type`, `enum`, `const`, `properties`, `required`,
 * `additionalProperties`, `patternProperties`, `propertyNames`, `items`
 * (schema or draft-07 tuple), `prefixItems`, `minItems`, `maxItems`,
 * `uniqueItems`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`
 * (number or draft-04 boolean), `multipleOf`, `minLength`, `maxLength`,
 * `pattern`, `minProperties`, `maxProperties`, `anyOf`, `oneOf`, `allOf`,
 * `not`, `nullable` (OpenAPI), and local `$ref`s (`#`, `#/$defs/...`,
 * `#/definitions/...`).
 *
 * @module
 */

/** A JSON Schema, as a plain object (or `true`/`false`). */
export type JsonSchema = boolean | { [keyword: string]: unknown };

/** One way a value fails its schema. */
export interface SchemaIssue {
  /** Where in the value, e.g. `observation.items[2].name`; empty for the root. */
  path: string;
  /** What was wrong, e.g. `expected string, got number 5`. */
  message: string;
}

/** Options of {@link checkSchema}. */
export interface CheckSchemaOptions {
  /**
   * Prefix of every reported path.
   * @default ""
   */
  path?: string;
  /**
   * Most issues to report.
   * @default 20
   */
  maxIssues?: number;
}

/**
 * Whether a value looks like a JSON Schema of an object: an object with
 * `type: "object"`, `properties`, or a composition (`$ref`, `anyOf`, `oneOf`,
 * `allOf`) that may describe one.
 */
export function isObjectSchema(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const type = value.type;
  if (type === "object" || (Array.isArray(type) && type.includes("object"))) return true;
  if (type !== undefined) return false;
  return ["properties", "$ref", "anyOf", "oneOf", "allOf"].some((k) => k in value);
}

/**
 * Checks `value` against `schema`; returns the issues found (none: it matches).
 *
 * @example
 * ```ts
 * import { checkSchema } from "./json_schema.ts";
 * const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };
 * console.log(checkSchema(schema, { n: 1 })); // []
 * console.log(checkSchema(schema, { n: "1" })[0]?.message); // expected integer, got string "1"
 * ```
 */
export function checkSchema(
  schema: JsonSchema,
  value: unknown,
  options: CheckSchemaOptions = {},
): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  new Checker(schema, options.maxIssues ?? 20, issues).check(schema, value, options.path ?? "");
  return issues;
}

/** Joins a path and a property name or index the way issues report them. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  const safe = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  return path ? `${path}.${safe}` : safe;
}

/** Resolves a local `$ref` against the root schema, or undefined. */
export function resolveRef(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === "boolean" || isPlainObject(node) ? node as JsonSchema : undefined;
}

/** Describes a value briefly for an issue: `string "abc"`, `number 5`, `object`. */
export function describeValue(value: unknown): string {
  const type = jsonType(value);
  if (type === "string") {
    const s = value as string;
    return `string ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`;
  }
  if (type === "number" || type === "integer" || type === "boolean") return `${type} ${value}`;
  return type;
}

/** The JSON type of a value: `null`, `boolean`, `integer`, `number`, `string`, `array`, `object`. */
export function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "undefined") return "undefined";
  return typeof value;
}

/** Whether a value is a plain JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Deep equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length &&
      ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

class Checker {
  #root: JsonSchema;
  #max: number;
  #issues: SchemaIssue[];
  #depth = 0;

  constructor(root: JsonSchema, max: number, issues: SchemaIssue[]) {
    this.#root = root;
    this.#max = max;
    this.#issues = issues;
  }

  #add(path: string, message: string): void {
    if (this.#issues.length < this.#max) this.#issues.push({ path, message });
  }

  /** Whether `value` matches, without reporting (for anyOf/oneOf/not). */
  #matches(schema: JsonSchema, value: unknown, path: string): boolean {
    const probe: SchemaIssue[] = [];
    const checker = new Checker(this.#root, 1, probe);
    checker.#depth = this.#depth;
    checker.check(schema, value, path);
    return probe.length === 0;
  }

  check(schema: JsonSchema, value: unknown, path: string): void {
    if (schema === true) return;
    if (schema === false) return this.#add(path, "no value is allowed here");
    if (!isPlainObject(schema)) return;
    if (++this.#depth > 64) {
      this.#depth--;
      return this.#add(path, "schema nests too deeply (a recursive $ref?)");
    }
    try {
      this.#checkObject(schema, value, path);
    } finally {
      this.#depth--;
    }
  }

  #checkObject(s: Record<string, unknown>, value: unknown, path: string): void {
    if (typeof s.$ref === "string") {
      const target = resolveRef(this.#root, s.$ref);
      if (target === undefined) this.#add(path, `cannot resolve $ref ${s.$ref}`);
      else this.check(target, value, path);
    }
    if (s.nullable === true && value === null) return;
    if (!this.#checkType(s, value, path)) return;
    if (Array.isArray(s.enum) && !s.enum.some((e) => jsonEqual(e, value))) {
      this.#add(path, `expected one of ${JSON.stringify(s.enum)}, got ${describeValue(value)}`);
    }
    if ("const" in s && !jsonEqual(s.const, value)) {
      this.#add(path, `expected ${JSON.stringify(s.const)}, got ${describeValue(value)}`);
    }
    if (Array.isArray(s.allOf)) {
      for (const sub of s.allOf) this.check(sub as JsonSchema, value, path);
    }
    if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => this.#matches(sub, value, path))) {
      this.#add(path, `${describeValue(value)} matches none of the allowed forms (anyOf)`);
    }
    if (Array.isArray(s.oneOf)) {
      const n = s.oneOf.filter((sub) => this.#matches(sub, value, path)).length;
      if (n !== 1) {
        this.#add(
          path,
          `${describeValue(value)} matches ${n} of the forms of oneOf, expected exactly 1`,
        );
      }
    }
    if (s.not !== undefined && this.#matches(s.not as JsonSchema, value, path)) {
      this.#add(path, `${describeValue(value)} matches a form that is not allowed (not)`);
    }
    if (typeof value === "number") this.#checkNumber(s, value, path);
    else if (typeof value === "string") this.#checkString(s, value, path);
    else if (Array.isArray(value)) this.#checkArray(s, value, path);
    else if (isPlainObject(value)) this.#checkProperties(s, value, path);
  }

  #checkType(s: Record<string, unknown>, value: unknown, path: string): boolean {
    if (s.type === undefined) return true;
    const types = Array.isArray(s.type) ? s.type as string[] : [s.type as string];
    if (s.nullable === true) types.push("null");
    const actual = jsonType(value);
    const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
    if (!ok) {
      this.#add(path, `expected ${types.join(" or ")}, got ${describeValue(value)}`);
    }
    return ok;
  }

  #checkNumber(s: Record<string, unknown>, n: number, path: string): void {
    const num = (k: string) => typeof s[k] === "number" ? s[k] as number : undefined;
    const min = num("minimum");
    const max = num("maximum");
    if (min !== undefined && (s.exclusiveMinimum === true ? n <= min : n < min)) {
      this.#add(
        path,
        `expected a number ${s.exclusiveMinimum === true ? ">" : ">="} ${min}, got ${n}`,
      );
    }
    if (max !== undefined && (s.exclusiveMaximum === true ? n >= max : n > max)) {
      this.#add(
        path,
        `expected a number ${s.exclusiveMaximum === true ? "<" : "<="} ${max}, got ${n}`,
      );
    }
    const xmin = num("exclusiveMinimum");
    const xmax = num("exclusiveMaximum");
    if (xmin !== undefined && n <= xmin) this.#add(path, `expected a number > ${xmin}, got ${n}`);
    if (xmax !== undefined && n >= xmax) this.#add(path, `expected a number < ${xmax}, got ${n}`);
    const step = num("multipleOf");
    if (step !== undefined && step > 0) {
      const q = n / step;
      if (Math.abs(q - Math.round(q)) > 1e-9) {
        this.#add(path, `expected a multiple of ${step}, got ${n}`);
      }
    }
  }

  #checkString(s: Record<string, unknown>, text: string, path: string): void {
    const length = [...text].length;
    if (typeof s.minLength === "number" && length < s.minLength) {
      this.#add(path, `expected at least ${s.minLength} characters, got ${length}`);
    }
    if (typeof s.maxLength === "number" && length > s.maxLength) {
      this.#add(path, `expected at most ${s.maxLength} characters, got ${length}`);
    }
    if (typeof s.pattern === "string") {
      let re: RegExp | undefined;
      try {
        re = new RegExp(s.pattern, "u");
      } catch {
        // A pattern JavaScript cannot read is not checked.
      }
      if (re && !re.test(text)) {
        this.#add(path, `expected a string matching /${s.pattern}/, got ${describeValue(text)}`);
      }
    }
  }

  #checkArray(s: Record<string, unknown>, items: unknown[], path: string): void {
    if (typeof s.minItems === "number" && items.length < s.minItems) {
      this.#add(path, `expected at least ${s.minItems} items, got ${items.length}`);
    }
    if (typeof s.maxItems === "number" && items.length > s.maxItems) {
      this.#add(path, `expected at most ${s.maxItems} items, got ${items.length}`);
    }
    const tuple = Array.isArray(s.prefixItems)
      ? s.prefixItems as JsonSchema[]
      : Array.isArray(s.items)
      ? s.items as JsonSchema[]
      : [];
    const rest = Array.isArray(s.prefixItems)
      ? s.items
      : Array.isArray(s.items)
      ? s.additionalItems
      : s.items;
    items.forEach((item, i) => {
      const sub = i < tuple.length ? tuple[i] : rest;
      if (sub !== undefined) this.check(sub as JsonSchema, item, joinPath(path, i));
    });
    if (s.uniqueItems === true) {
      const dup = items.findIndex((a, i) => items.slice(0, i).some((b) => jsonEqual(a, b)));
      if (dup >= 0) this.#add(joinPath(path, dup), "expected unique items, got a repeat");
    }
  }

  #checkProperties(s: Record<string, unknown>, obj: Record<string, unknown>, path: string): void {
    const props = isPlainObject(s.properties) ? s.properties : {};
    if (Array.isArray(s.required)) {
      for (const key of s.required as string[]) {
        if (!Object.hasOwn(obj, key)) this.#add(joinPath(path, key), "required field is missing");
      }
    }
    const count = Object.keys(obj).length;
    if (typeof s.minProperties === "number" && count < s.minProperties) {
      this.#add(path, `expected at least ${s.minProperties} fields, got ${count}`);
    }
    if (typeof s.maxProperties === "number" && count > s.maxProperties) {
      this.#add(path, `expected at most ${s.maxProperties} fields, got ${count}`);
    }
    const patterns = isPlainObject(s.patternProperties)
      ? Object.entries(s.patternProperties).flatMap(([p, sub]) => {
        try {
          return [[new RegExp(p, "u"), sub] as const];
        } catch {
          return [];
        }
      })
      : [];
    for (const [key, child] of Object.entries(obj)) {
      const where = joinPath(path, key);
      if (s.propertyNames !== undefined) this.check(s.propertyNames as JsonSchema, key, where);
      let known = false;
      if (Object.hasOwn(props, key)) {
        known = true;
        this.check(props[key] as JsonSchema, child, where);
      }
      for (const [re, sub] of patterns) {
        if (re.test(key)) {
          known = true;
          this.check(sub as JsonSchema, child, where);
        }
      }
      if (known || s.additionalProperties === undefined) continue;
      if (s.additionalProperties === false) {
        this.#add(where, "unknown field (the schema allows no other fields)");
      } else {
        this.check(s.additionalProperties as JsonSchema, child, where);
      }
    }
  }
}
