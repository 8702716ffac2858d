/**
 * Tooling over the protocol: `validateServer`, replay of recordings, JSON
 * Schema checks, schema samples and JSON diffs (the CLI's validate, replay
 * and bench commands are built on these).
 *
 * @module
 */
export {
  DEFAULT_IGNORED_FIELDS,
  type Divergence,
  type ReplayOptions,
  replayRecording,
  type ReplayReport,
} from "./replay.ts";
export {
  type CheckResult,
  type CheckStatus,
  type ServerKind,
  type ValidateOptions,
  validateServer,
  type ValidationReport,
} from "./validate/mod.ts";
export {
  checkSchema,
  type CheckSchemaOptions,
  type JsonSchema,
  type SchemaIssue,
} from "./json_schema.ts";
export {
  invalidFromSchema,
  type InvalidSample,
  type Sample,
  sampleFromSchema,
} from "./schema_samples.ts";
export {
  type Difference,
  type DiffOptions,
  firstDifference,
  type JsonPath,
  pathMatcher,
} from "./json_diff.ts";
