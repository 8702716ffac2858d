/**
 * The server's OpenAPI 3.1 document (`GET /openapi.json`), built from the
 * env's zod models with `z.toJSONSchema`, the same schemas `/schema` serves.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { type EnvModels, ResetOptions, wireObservation } from "../protocol/models.ts";

type Json = Record<string, unknown>;

function schemaOf(type: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _, ...schema } = z.toJSONSchema(type, { io, unrepresentable: "any" }) as Json;
  return schema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json) => ({ "application/json": { schema } });

/**
 * The OpenAPI document of an env's server.
 *
 * @example
 * ```ts
 * import { openApiDocument } from "./openapi.ts";
 * import { echoModels } from "../envs/echo/models.ts";
 * const doc = openApiDocument(echoModels);
 * console.log(Object.keys(doc.paths as object).includes("/step")); // true
 * ```
 */
export function openApiDocument(models: EnvModels, title = "envtorch env server"): Json {
  const stepResult = {
    type: "object",
    properties: {
      observation: { type: "object", additionalProperties: true },
      reward: { anyOf: [{ type: "number" }, { type: "boolean" }, { type: "null" }] },
      done: { type: "boolean" },
    },
    required: ["observation", "reward", "done"],
  };
  const validation = {
    description: "Validation error (FastAPI-style `detail` list)",
    content: json({
      type: "object",
      properties: { detail: { type: "array", items: { type: "object" } } },
    }),
  };
  const session = {
    name: "envtorch-session",
    in: "header",
    required: false,
    description: "Session id, or `new` on /reset; without it, the one implicit session",
    schema: { type: "string" },
  };
  return {
    openapi: "3.1.0",
    info: { title, version: "1.0.0" },
    paths: {
      "/reset": {
        post: {
          summary: "Reset the environment",
          parameters: [session],
          requestBody: { required: false, content: json(ref("ResetRequest")) },
          responses: { 200: { description: "First observation", content: json(stepResult) } },
        },
      },
      "/step": {
        post: {
          summary: "Execute an action in the environment",
          parameters: [session],
          requestBody: {
            required: true,
            content: json({
              type: "object",
              properties: {
                action: ref("Action"),
                timeout_s: { type: "number", exclusiveMinimum: 0 },
                request_id: { type: "string" },
              },
              required: ["action"],
              additionalProperties: true,
            }),
          },
          responses: {
            200: { description: "Observation", content: json(stepResult) },
            422: validation,
          },
        },
      },
      "/state": {
        get: {
          summary: "Get current environment state",
          parameters: [session],
          responses: { 200: { description: "State", content: json(ref("State")) } },
        },
      },
      "/schema": { get: { summary: "JSON schemas", responses: { 200: { description: "OK" } } } },
      "/metadata": { get: { summary: "Env metadata", responses: { 200: { description: "OK" } } } },
      "/health": { get: { summary: "Health check", responses: { 200: { description: "OK" } } } },
      "/mcp": {
        post: {
          summary: "MCP JSON-RPC 2.0 (tools/list, tools/call, openenv/session/*)",
          requestBody: { required: true, content: json({ type: "object" }) },
          responses: { 200: { description: "JSON-RPC response" } },
        },
      },
    },
    components: {
      schemas: {
        Action: schemaOf(models.action, "input"),
        Observation: schemaOf(wireObservation(models), "output"),
        State: schemaOf(models.state, "output"),
        ResetRequest: schemaOf(models.resetOptions ?? ResetOptions, "input"),
      },
    },
  };
}
