/**
 * One conformance suite for every {@link Provider}, as Hono runs one router
 * suite over every router: each provider's test file calls
 * {@link providerConformance} with how to make the provider, the spec that
 * starts the echo env, a spec that cannot start, and how to see what the
 * provider still runs (processes, containers). The suite asserts only what a
 * user of the `Provider` interface sees.
 *
 * @module
 */
import assert from "node:assert/strict";
import { EchoEnv } from "../../envs/echo/client.ts";
import { ConnectionError, EnvTorchError } from "../../protocol/errors.ts";
import type { Provider, ProviderStartOptions, ServerHandle } from "../../protocol/provider.ts";
import { Probe } from "../../tools/probe.ts";

/** One provider under test. */
export interface ProviderCase<O extends ProviderStartOptions = ProviderStartOptions> {
  /** Names the tests: `provider conformance (<name>)`. */
  name: string;
  /** A fresh provider; the suite closes it. */
  provider(): Provider<O> | Promise<Provider<O>>;
  /** What starts the echo env with this provider (an env name, an image). */
  spec: string;
  /** Options every start gets (e.g. the test run's container labels). */
  startOptions?: O;
  /** A spec this provider cannot start (an unknown env, a missing image). */
  badSpec: string;
  /** The typed error a bad spec gives. */
  badSpecError: abstract new (...args: never[]) => EnvTorchError;
  /**
   * What this test's provider runs now (child processes, containers), one
   * string each: empty once everything is freed.
   */
  running(): Promise<string[]>;
  /** Runs after the suite (and the provider's close), pass or fail: remove leftovers. */
  cleanup?(): Promise<void>;
  /**
   * Registers the test (`Deno.test`, or `dockerTest` so that Docker tests
   * skip without an engine and fail under CI=true).
   * @default Deno.test
   */
  test?: (name: string, fn: (t: Deno.TestContext) => Promise<void>) => void;
}

const HELLO = "Hello, World!";

/** Registers the shared provider suite for one provider. */
export function providerConformance<O extends ProviderStartOptions>(c: ProviderCase<O>): void {
  const register = c.test ?? ((name, fn) => Deno.test(name, fn));
  const start = (provider: Provider<O>, spec: string, options: Partial<O> = {}) =>
    provider.start(spec, { ...c.startOptions, ...options } as O);

  register(`provider conformance (${c.name})`, async (t) => {
    const provider = await c.provider();
    try {
      const before = await c.running();
      let server: ServerHandle | undefined;

      await t.step("start gives a server that answers /health", async () => {
        server = await start(provider, c.spec);
        assert.match(server.baseUrl, /^(unix:\/|http:\/\/127\.0\.0\.1:\d+)/);
        await using probe = new Probe(server.baseUrl, { timeoutS: 10, token: server.token });
        const health = await probe.http("/health");
        assert.equal(health.status, 200);
        assert.deepEqual(health.json, { status: "healthy" });
        assert.ok((await c.running()).length > before.length, "the server shows in running()");
      });

      for (const transport of ["websocket", "http"] as const) {
        await t.step(`an episode over ${transport}`, async () => {
          // The handle carries the token its server asks for, if any.
          await using env = new EchoEnv({
            baseUrl: server!.baseUrl,
            transport,
            token: server!.token,
          });
          const reset = await env.reset({ episode_id: `ep-${transport}` });
          assert.equal(reset.observation.echoed_message, "Echo environment ready!");
          const step = await env.step({ message: HELLO });
          assert.equal(step.observation.echoed_message, HELLO);
          assert.equal(step.reward, 1.3);
          assert.equal(step.done, false);
          const state = await env.state();
          assert.equal(state.episode_id, `ep-${transport}`);
          assert.equal(state.step_count, 1);
        });
      }

      await t.step("close frees everything, and a second close is fine", async () => {
        const { baseUrl } = server!;
        await server!.close();
        await server!.close();
        assert.deepEqual(await c.running(), before);
        if (baseUrl.startsWith("unix:")) {
          await assert.rejects(Deno.stat(baseUrl.slice(5)), Deno.errors.NotFound);
        }
        await using probe = new Probe(baseUrl, { timeoutS: 5, token: server!.token });
        await assert.rejects(probe.http("/health"), ConnectionError);
      });

      await t.step("EnvClient.from starts, connects, and its close stops the server", async () => {
        const env = await EchoEnv.from(provider, c.spec, { start: c.startOptions });
        try {
          assert.ok(env.alive);
          await env.reset();
          assert.equal((await env.step({ message: "hi" })).reward, 0.2);
        } finally {
          await env.close();
        }
        assert.deepEqual(await c.running(), before);
      });

      await t.step(
        "start with an aborted signal rejects with its reason, starting nothing",
        async () => {
          const controller = new AbortController();
          const reason = new Error("caller gave up");
          controller.abort(reason);
          await assert.rejects(
            start(provider, c.spec, { signal: controller.signal } as Partial<O>),
            (error) => error === reason,
          );
          assert.deepEqual(await c.running(), before);
        },
      );

      await t.step(
        "a signal aborted during start rejects with its reason and frees all",
        async () => {
          const controller = new AbortController();
          const reason = new Error("caller gave up midway");
          const starting = start(provider, c.spec, { signal: controller.signal } as Partial<O>);
          setTimeout(() => controller.abort(reason), 50);
          await assert.rejects(starting, (error) => error === reason);
          assert.deepEqual(await c.running(), before);
        },
      );

      await t.step("a spec that cannot start is a typed error naming it", async () => {
        await assert.rejects(start(provider, c.badSpec), (error) => {
          assert.ok(
            error instanceof c.badSpecError,
            `expected ${c.badSpecError.name}, got ${(error as Error).name}: ${error}`,
          );
          assert.ok((error as Error).message.includes(c.badSpec), (error as Error).message);
          return true;
        });
        assert.deepEqual(await c.running(), before);
      });
    } finally {
      try {
        await provider.close();
      } finally {
        await c.cleanup?.();
      }
    }
  });
}
