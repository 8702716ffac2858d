/**
 * Any env as a standard MCP server (the official MCP TypeScript SDK's
 * `McpServer`): the env's own tools, plus `reset`, `step` and `state` tools
 * that drive its episode, all in one session. `envtorch mcp <env>` serves it
 * over stdio for desktop agents and agent frameworks.
 *
 * @module
 */
import { McpServer } from "npm:@modelcontextprotocol/sdk@1.32.2/server/mcp.js";
import { StdioServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/stdio.js";
import process from "node:process";
import { z } from "npm:zod@4.6.7";
import type { EnvManifest } from "../protocol/manifest.ts";
import { ToolCallError } from "../protocol/tools.ts";
import { Session } from "./sessions.ts";

/** Options of {@link createMcpServer}. */
export interface McpServerOptions {
  /**
   * Version the server reports.
   * @default "0.1.0"
   */
  version?: string;
}

/** An env's MCP server and the session behind it. */
export interface EnvMcpServer extends AsyncDisposable {
  /** The SDK server; connect it to a transport. */
  server: McpServer;
  /** The one session the tools act on. */
  session: Session;
  /** Closes the server and the env. */
  close(): Promise<void>;
}

type Content = { content: { type: "text"; text: string }[]; isError?: boolean };

function textResult(value: unknown, structured?: Record<string, unknown>) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return {
    content: [{ type: "text" as const, text }],
    ...(structured ? { structuredContent: structured } : {}),
  };
}

function errorResult(error: unknown): Content {
  const message = error instanceof Error ? error.message : String(error);
  return { content: [{ type: "text", text: message }], isError: true };
}

/**
 * Builds an MCP server over a new env from `manifest`.
 *
 * @example
 * ```ts
 * import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
 * import { InMemoryTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/inMemory.js";
 * import { createMcpServer } from "./mcp_stdio.ts";
 * import { manifest } from "../envs/echo/manifest.ts";
 *
 * await using mcp = await createMcpServer(manifest);
 * const [a, b] = InMemoryTransport.createLinkedPair();
 * await mcp.server.connect(a);
 * const client = new Client({ name: "example", version: "1" });
 * await client.connect(b);
 * const result = await client.callTool({ name: "echo_message", arguments: { message: "hi" } });
 * console.log(result.structuredContent); // { result: "hi" }
 * await client.close();
 * ```
 */
export async function createMcpServer(
  manifest: EnvManifest,
  options: McpServerOptions = {},
): Promise<EnvMcpServer> {
  const env = await manifest.create();
  const session = new Session(crypto.randomUUID(), "local", env, manifest.models);
  const server = mcpServerFor(session, manifest.name, options);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await server.close().catch(() => {});
      await session.close("MCP server closed");
    })();
  return { server, session, close, [Symbol.asyncDispose]: close };
}

/**
 * An MCP server whose tools act on `session`: the env's own tools, plus
 * `reset`, `step` and `state`. Closing the server leaves the session open.
 */
export function mcpServerFor(
  session: Session,
  envName: string,
  options: McpServerOptions = {},
): McpServer {
  const server = new McpServer({
    name: `envtorch-${envName}`,
    version: options.version ?? "0.1.0",
  });

  for (const tool of session.tools) {
    server.registerTool(
      tool.name,
      { description: tool.description, inputSchema: tool.input },
      async (args: Record<string, unknown>) => {
        try {
          const result = await session.callTool(tool.name, args);
          const structured = result.structured_content ?? undefined;
          return textResult(result.data, structured);
        } catch (error) {
          if (error instanceof ToolCallError) return errorResult(error);
          throw error;
        }
      },
    );
  }

  const reset = z.looseObject({
    seed: z.number().int().min(0).optional().describe("Seed of the episode"),
    episode_id: z.string().optional().describe("Id of the episode"),
  });
  server.registerTool(
    "reset",
    {
      description: `Start a new episode of the ${envName} env; returns the first observation`,
      inputSchema: reset,
    },
    async (args: Record<string, unknown>) => {
      try {
        const result = await session.reset(args);
        return textResult(result, result as unknown as Record<string, unknown>);
      } catch (error) {
        return errorResult(error);
      }
    },
  );
  server.registerTool(
    "step",
    {
      description:
        `Apply one action to the ${envName} env; returns the observation, reward and done`,
      inputSchema: z.object({ action: z.record(z.string(), z.unknown()) }),
    },
    async ({ action }: { action: Record<string, unknown> }) => {
      try {
        const result = await session.step(action);
        return textResult(result, result as unknown as Record<string, unknown>);
      } catch (error) {
        return errorResult(error);
      }
    },
  );
  server.registerTool(
    "state",
    { description: `The ${envName} env's episode state`, inputSchema: z.object({}) },
    async () => {
      try {
        const state = await session.state();
        return textResult(state, state as Record<string, unknown>);
      } catch (error) {
        return errorResult(error);
      }
    },
  );

  return server;
}

/**
 * Serves an env over MCP on stdio until stdin ends or the process gets
 * SIGINT / SIGTERM; resolves once the env is closed. Nothing else may write
 * to stdout meanwhile.
 */
export async function serveMcpStdio(manifest: EnvManifest): Promise<void> {
  const mcp = await createMcpServer(manifest);
  const transport = new StdioServerTransport();
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  await mcp.server.connect(transport);
  mcp.server.server.onclose = () => resolve();
  const stop = () => void transport.close();
  process.stdin.once("end", stop);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await closed;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    process.stdin.off("end", stop);
    await mcp.close();
  }
}
