/**
 * MCP tools an env declares: a name, a description, a zod input schema and
 * a handler. The server lists and calls them for `list_tools` / `call_tool`
 * step actions, WebSocket `mcp` messages, `POST /mcp`, WebSocket `/mcp` and
 * `envtorch mcp` over stdio; the shapes follow OpenEnv's `mcp_types.py`.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import type { MaybePromise } from "./environment.ts";
import { Metadata, type Reward } from "./models.ts";

/** What a tool handler gets besides its arguments. */
export interface ToolCallOptions {
  /** Aborted when the call's time is up or its session is closed. */
  signal?: AbortSignal;
  /** Time the caller allows, in seconds. */
  timeout_s?: number;
}

/**
 * A tool's answer with a reward or the end of the episode attached, for a
 * tool call made as a step. A handler that returns a plain value gives
 * reward `null` and `done: false`.
 */
export class ToolOutcome {
  /** The tool's result (any JSON value). */
  readonly value: unknown;
  /** Reward of the step that called the tool. */
  readonly reward: Reward;
  /** Whether the call ended the episode. */
  readonly done: boolean;
  /** Extra metadata for the step's observation. */
  readonly metadata: Record<string, unknown>;

  /** Wraps a value with the step's reward and done flag. */
  constructor(
    value: unknown,
    options: { reward?: Reward; done?: boolean; metadata?: Record<string, unknown> } = {},
  ) {
    this.value = value;
    this.reward = options.reward ?? null;
    this.done = options.done ?? false;
    this.metadata = options.metadata ?? {};
  }
}

/** One tool of an env. */
export interface Tool<S extends z.ZodObject = z.ZodObject> {
  /** Unique name; `reset`, `step`, `state` and `close` are reserved. */
  name: string;
  /** What the tool does, for an agent to read. */
  description: string;
  /** Schema of the arguments (an object schema). */
  input: S;
  /** Runs the tool; the value is the result, or a {@link ToolOutcome}. */
  handler: (args: z.infer<S>, options: ToolCallOptions) => MaybePromise<unknown>;
}

const RESERVED = new Set(["reset", "step", "state", "close"]);

/**
 * Declares a tool, with its argument type taken from the schema.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { defineTool } from "./tools.ts";
 * const shout = defineTool({
 *   name: "shout",
 *   description: "Upper-cases a message",
 *   input: z.object({ message: z.string() }),
 *   handler: ({ message }) => message.toUpperCase(),
 * });
 * console.log(shout.name); // shout
 * ```
 */
export function defineTool<S extends z.ZodObject>(tool: Tool<S>): Tool {
  if (RESERVED.has(tool.name)) {
    throw new RangeError(`Tool name ${tool.name} is reserved (reset, step, state, close)`);
  }
  return tool as unknown as Tool;
}

/** A tool as `list_tools` describes it (OpenEnv's `Tool`). */
export interface ToolInfo {
  /** The tool's name. */
  name: string;
  /** What it does. */
  description: string;
  /** JSON Schema of its arguments. */
  input_schema: Record<string, unknown>;
}

/** JSON Schema of a tool's arguments. */
export function toolInputSchema(tool: Tool): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(tool.input, {
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return schema;
}

/** The `list_tools` description of each tool. */
export function describeTools(tools: readonly Tool[]): ToolInfo[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: toolInputSchema(t),
  }));
}

/** OpenEnv's (FastMCP's) `CallToolResult`, as it goes on the wire. */
export interface CallToolResult {
  /** MCP content blocks: one text block with the value. */
  content: { type: "text"; text: string; annotations: null; meta: null }[];
  /** The value as an object: itself when it is one, else `{ result: value }`. */
  structured_content: Record<string, unknown> | null;
  /** Always null. */
  meta: null;
  /** The value itself: what OpenEnv's `call_tool()` returns. */
  data: unknown;
  /** Whether the tool reported an error. */
  is_error: boolean;
}

/** Why a tool call failed before or while running (OpenEnv's `ToolErrorType`). */
export type ToolErrorType =
  | "execution_error"
  | "invalid_args"
  | "transport_error"
  | "tool_not_found"
  | "timeout";

/** A failed tool call, as `call_tool` reports it. */
export class ToolCallError extends Error {
  /** The error class name. */
  override name = "ToolCallError";
  /** OpenEnv's category of the failure. */
  readonly errorType: ToolErrorType;

  /** Creates the error. */
  constructor(errorType: ToolErrorType, message: string, options?: ErrorOptions) {
    super(message, options);
    this.errorType = errorType;
  }
}

/** What a successful tool call gives: the wire result and the step's outcome. */
export interface ToolCallDone {
  /** The wire form of the result. */
  result: CallToolResult;
  /** Reward, done flag and metadata of the step. */
  outcome: ToolOutcome;
}

/** Wraps a tool's value as OpenEnv's `CallToolResult`. */
export function toCallToolResult(value: unknown): CallToolResult {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? null);
  const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
  return {
    content: [{ type: "text", text, annotations: null, meta: null }],
    structured_content: isObject ? value as Record<string, unknown> : { result: value ?? null },
    meta: null,
    data: value ?? null,
    is_error: false,
  };
}

/**
 * Finds a tool, checks the arguments against its schema and runs it.
 * Throws a {@link ToolCallError} naming what went wrong.
 */
export async function callTool(
  tools: readonly Tool[],
  name: string,
  args: unknown,
  options: ToolCallOptions = {},
): Promise<ToolCallDone> {
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    const known = tools.map((t) => t.name).join(", ") || "none";
    throw new ToolCallError("tool_not_found", `Unknown tool: '${name}' (tools: ${known})`);
  }
  const parsed = tool.input.safeParse(args ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) =>
      `${i.path.length ? i.path.join(".") : "arguments"}: ${i.message}`
    );
    throw new ToolCallError(
      "invalid_args",
      `Invalid arguments for tool ${name}: ${issues.join("; ")}`,
    );
  }
  let value: unknown;
  try {
    value = await tool.handler(parsed.data, options);
  } catch (error) {
    if (error instanceof ToolCallError) throw error;
    if (options.signal?.aborted) {
      throw new ToolCallError("timeout", `Tool ${name} was cancelled: ${errorText(error)}`, {
        cause: error,
      });
    }
    throw new ToolCallError("execution_error", `Tool ${name} failed: ${errorText(error)}`, {
      cause: error,
    });
  }
  const outcome = value instanceof ToolOutcome ? value : new ToolOutcome(value);
  return { result: toCallToolResult(outcome.value), outcome };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `list_tools` step action. */
export const ListToolsAction: z.ZodObject<{
  type: z.ZodLiteral<"list_tools">;
  metadata: z.ZodOptional<typeof Metadata>;
}, z.core.$strict> = z.strictObject({
  type: z.literal("list_tools"),
  metadata: Metadata.optional(),
});

/** The `call_tool` step action. */
export const CallToolAction: z.ZodObject<{
  type: z.ZodLiteral<"call_tool">;
  tool_name: z.ZodString;
  arguments: z.ZodDefault<z.ZodRecord<z.ZodString, z.ZodUnknown>>;
  metadata: z.ZodOptional<typeof Metadata>;
}, z.core.$strict> = z.strictObject({
  type: z.literal("call_tool"),
  tool_name: z.string(),
  arguments: z.record(z.string(), z.unknown()).default({}),
  metadata: Metadata.optional(),
});

/** Whether an action is a tool action (`type` is `list_tools` or `call_tool`). */
export function isToolAction(action: unknown): boolean {
  if (action === null || typeof action !== "object" || Array.isArray(action)) return false;
  const type = (action as Record<string, unknown>).type;
  return type === "list_tools" || type === "call_tool";
}
