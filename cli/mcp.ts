/**
 * `envtorch mcp <env>`: serves an env as an MCP server over stdio.
 *
 * @module
 */
import { serveMcpStdio } from "../server/mcp_stdio.ts";
import { getEnv, isManifestSpecifier, loadManifest } from "../envs/registry.ts";
import { type Command, onePositional, parseFlags } from "./common.ts";

const usage = `Usage: envtorch mcp <env | path/to/manifest.ts>

Serves an env as an MCP server over stdio (JSON-RPC on stdin/stdout), for MCP
clients such as desktop agents and agent frameworks. The tools are the env's
own (echo: echo_message, echo_with_length; coding: run_python) plus reset,
step and state, which drive one episode. Logs go to stderr; the server stops
when stdin closes.

Options:
  -h, --help   show this help`;

export const mcpCommand: Command = {
  name: "mcp",
  summary: "serve an env as an MCP server over stdio",
  usage,
  async run(args) {
    const { positionals } = parseFlags(args, {});
    onePositional(positionals, "env", "mcp");
    const target = positionals[0]!;
    const manifest = isManifestSpecifier(target)
      ? await loadManifest(target)
      : await getEnv(target);
    console.error(`envtorch: serving ${manifest.name} over MCP on stdio`);
    await serveMcpStdio(manifest);
    return 0;
  },
};
