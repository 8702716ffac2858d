/**
 * The `<url | env>` argument of the client commands (`validate`, `step`,
 * `repl`, `replay`): a server already running somewhere, or a bundled env
 * started for the command in a child process (the process provider) and
 * stopped after it.
 *
 * @module
 */
import type { EnvManifest } from "../protocol/manifest.ts";
import { parseBaseUrl } from "../client/transport.ts";
import { getEnv, isManifestSpecifier, loadManifest } from "../envs/registry.ts";
import { startProcess } from "../providers/process.ts";
import { UsageError } from "./common.ts";
import { quote } from "../protocol/quote.ts";
import { isPlainObject, type JsonSchema } from "../tools/json_schema.ts";
import { Probe } from "../tools/probe.ts";
import { sampleFromSchema } from "../tools/schema_samples.ts";

/** A server the command talks to. */
export interface Target extends AsyncDisposable {
  /** Where the server listens. */
  baseUrl: string;
  /** How to name it in output: the env name, or the URL. */
  label: string;
  /** The env's manifest, when the target was given by name. */
  manifest?: EnvManifest;
  /** Whether the command started the server (and stops it on close). */
  started: boolean;
  /** Stops the server if the command started it. */
  close(): Promise<void>;
}

/** Whether a target argument is a URL (`http(s)://`, `ws(s)://`, `unix:`) rather than an env name. */
export function isUrl(spec: string): boolean {
  return /^(https?|wss?):\/\//i.test(spec) || spec.startsWith("unix:");
}

/** Options of {@link openTarget}. */
export interface OpenTargetOptions {
  /** Aborts starting the env. */
  signal?: AbortSignal;
  /** Called before an env's server is started (for progress). */
  onStart?: (env: string) => void;
}

/**
 * Resolves `<url | env>`: checks a URL's form, or starts the named env with
 * the process provider. A malformed URL or an unknown env is a usage error.
 */
export async function openTarget(spec: string, options: OpenTargetOptions = {}): Promise<Target> {
  if (isUrl(spec)) {
    try {
      parseBaseUrl(spec);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const close = () => Promise.resolve();
    return { baseUrl: spec, label: spec, started: false, close, [Symbol.asyncDispose]: close };
  }
  const foreignScheme = /^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^file:/i.test(spec);
  const byPath = !foreignScheme && isManifestSpecifier(spec);
  if (foreignScheme || (!byPath && spec.includes(":"))) {
    throw new UsageError(
      `${
        JSON.stringify(spec)
      } is neither a URL (http://host:port, unix:/path.sock), a manifest path nor an env name`,
    );
  }
  const manifest = byPath ? await loadManifest(spec) : await getEnv(spec);
  options.onStart?.(manifest.name);
  const server = await startProcess(byPath ? spec : manifest.name, { signal: options.signal });
  const close = () => server.close();
  return {
    baseUrl: server.baseUrl,
    label: manifest.name,
    manifest,
    started: true,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Parses a flag whose value must be a JSON object. */
export function jsonObjectFlag(name: string, value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new UsageError(
      `--${name} must be a JSON object, got ${quote(value)}: ${(error as Error).message}`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(`--${name} must be a JSON object, got ${quote(value)}`);
  }
  return parsed as Record<string, unknown>;
}

/** Parses `--transport`: `websocket` (also `ws`) or `http`. */
export function transportFlag(value: string | undefined): "websocket" | "http" {
  if (value === undefined || value === "websocket" || value === "ws") return "websocket";
  if (value === "http") return "http";
  throw new UsageError(`--transport must be websocket or http, got ${JSON.stringify(value)}`);
}

/** The server's action schema from `GET /schema`, if it publishes one. */
export async function actionSchema(
  baseUrl: string,
  token?: string,
): Promise<JsonSchema | undefined> {
  try {
    await using probe = new Probe(baseUrl, { timeoutS: 10, token });
    const res = await probe.http("/schema");
    const body = res.json as Record<string, unknown> | undefined;
    return res.status === 200 && body && typeof body.action === "object"
      ? body.action as JsonSchema
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An action for a server given by URL when the user gave none: the smallest
 * action its `/schema` accepts, as `validate` derives it. Without a usable
 * schema it is a usage error asking for `--action JSON`.
 */
export async function deriveAction(
  baseUrl: string,
  token?: string,
): Promise<Record<string, unknown>> {
  // Unlike actionSchema(), an unreachable server is an error here (exit 1).
  const res = await (async () => {
    await using probe = new Probe(baseUrl, { timeoutS: 10, token });
    return await probe.http("/schema");
  })();
  const body = res.json as Record<string, unknown> | undefined;
  const schema = res.status === 200 && body && typeof body.action === "object"
    ? body.action as JsonSchema
    : undefined;
  if (!schema) {
    throw new UsageError(
      `${baseUrl} publishes no action schema (GET /schema) to derive an action from: give one with --action JSON`,
    );
  }
  const sample = sampleFromSchema(schema);
  if (!sample.ok || !isPlainObject(sample.value)) {
    throw new UsageError(
      `Cannot derive an action from the action schema of ${baseUrl} (${
        sample.ok ? "it is not an object" : sample.reason
      }): give one with --action JSON`,
    );
  }
  return sample.value as Record<string, unknown>;
}
