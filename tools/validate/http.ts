/**
 * The HTTP checks: an episode over `POST /reset`, `POST /step` and `GET
 * /state`, the refusals (bad JSON, bad action, no action, bad seed), a bare
 * reset as curl sends it, and on envtorch servers the session extensions
 * (`envtorch-session`, `DELETE /session`).
 *
 * @module
 */
import { SESSION_HEADER } from "../../protocol/models.ts";
import { needAction, needInvalid } from "./basics.ts";
import type { Context } from "./context.ts";
import {
  expectDetailList,
  expectObject,
  expectStatus,
  fail,
  type Json,
  short,
  skip,
} from "./helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The episode id the HTTP checks reset with, to recognise their session's state. */
const HTTP_EPISODE_ID = "envtorch-validate-http";

function headers(ctx: Context): Record<string, string> {
  return ctx.session ? { [SESSION_HEADER]: ctx.session } : {};
}

/** Runs the HTTP checks, the extension checks among them. */
export async function httpChecks(ctx: Context): Promise<void> {
  await ctx.check("http.reset", "POST /reset gives {observation, reward, done}", async () => {
    const res = await ctx.withCapacityWait(() =>
      ctx.probe.http("/reset", {
        method: "POST",
        body: { episode_id: HTTP_EPISODE_ID },
        headers: { [SESSION_HEADER]: "new" },
      })
    );
    expectStatus(res, 200, "POST /reset");
    ctx.checkStepResult(res.json, "POST /reset", "reset");
    const id = res.headers.get(SESSION_HEADER);
    if (id && UUID.test(id)) {
      ctx.session = id;
      return `envtorch session ${id}`;
    }
    if (ctx.envtorch) fail(`an envtorch server answered with no ${SESSION_HEADER} header`);
    return "no envtorch-session header: each request may get a fresh env, as in OpenEnv";
  });
  await ctx.check("http.step", "POST /step gives {observation, reward, done}", async () => {
    const action = needAction(ctx);
    const res = await ctx.probe.http("/step", {
      method: "POST",
      body: { action },
      headers: headers(ctx),
    });
    if (res.status !== 200 && !ctx.envtorch) {
      skip(
        `HTTP ${res.status} ${
          short(res.text, 80)
        }: this server keeps no state between HTTP requests (as OpenEnv), so a step cannot follow a reset there; the WebSocket session is the way to step it`,
      );
    }
    expectStatus(res, 200, "POST /step");
    ctx.checkStepResult(res.json, "POST /step");
    if (ctx.session && res.headers.get(SESSION_HEADER) !== ctx.session) {
      fail(
        `POST /step with ${SESSION_HEADER}: ${ctx.session} answered from session ${
          res.headers.get(SESSION_HEADER)
        }`,
      );
    }
    return "";
  });
  await ctx.check("http.state", "GET /state gives the state", async () => {
    const res = await ctx.probe.http("/state", { headers: headers(ctx) });
    expectStatus(res, 200, "GET /state");
    const state = ctx.checkState(res.json, "GET /state");
    if (
      ctx.session && ctx.action && state.step_count !== 1 && state.episode_id !== HTTP_EPISODE_ID
    ) {
      fail(
        `GET /state of the session that was reset (episode_id ${HTTP_EPISODE_ID}) and stepped once reports step_count ${state.step_count}, episode_id ${
          JSON.stringify(state.episode_id)
        }`,
      );
    }
    return `step_count ${state.step_count}`;
  });
  await ctx.check(
    "http.invalid_json",
    "a body that is not JSON is refused with 400 or 422 and a detail",
    async () => {
      const res = await ctx.probe.http("/step", {
        method: "POST",
        body: '{"action": {',
        headers: headers(ctx),
      });
      if (res.status !== 400 && res.status !== 422) {
        fail(
          `POST /step with a broken body answered HTTP ${res.status}, expected 400 (envtorch) or 422 (FastAPI)`,
        );
      }
      const body = expectObject(res, "the error");
      if (!("detail" in body)) fail(`the error body has no "detail": ${short(res.text)}`);
      return `HTTP ${res.status}${typeof body.code === "string" ? ` ${body.code}` : ""}`;
    },
  );
  await ctx.check(
    "http.bad_action",
    "an invalid action is HTTP 422 with a detail naming the field",
    async () => {
      const invalid = needInvalid(ctx);
      const res = await ctx.probe.http("/step", {
        method: "POST",
        body: { action: invalid.value },
        headers: headers(ctx),
      });
      expectStatus(res, 422, `POST /step with an invalid action (${invalid.change})`);
      const detail = expectDetailList(res);
      if (invalid.field && !JSON.stringify(detail).includes(invalid.field)) {
        fail(
          `the 422 detail does not name the field ${invalid.field}: ${
            short(JSON.stringify(detail))
          }`,
        );
      }
      return `${invalid.change}: ${short(String((detail[0] as Json).msg), 60)}`;
    },
  );
  await ctx.check("http.bad_body", "a step body without an action is HTTP 422", async () => {
    const res = await ctx.probe.http("/step", { method: "POST", body: {}, headers: headers(ctx) });
    expectStatus(res, 422, "POST /step with {}");
    expectDetailList(res);
    return "";
  });
  await ctx.check("http.bad_reset", "a negative seed is HTTP 422", async () => {
    const res = await ctx.probe.http("/reset", {
      method: "POST",
      body: { seed: -1 },
      headers: headers(ctx),
    });
    expectStatus(res, 422, "POST /reset with seed -1");
    expectDetailList(res);
    return "";
  });
  await extensionChecks(ctx);
  await ctx.check(
    "http.no_session_header",
    "a bare POST /reset (as curl or an OpenEnv client sends it) works",
    async () => {
      const res = await ctx.withCapacityWait(() => ctx.probe.http("/reset", { method: "POST" }));
      expectStatus(res, 200, "POST /reset with no body and no header");
      ctx.checkStepResult(res.json, "bare POST /reset", "reset");
      if (ctx.envtorch) {
        // Free the default session again, for servers that hold one session at a time.
        const del = await ctx.probe.http("/session", { method: "DELETE" });
        if (del.status !== 204 && del.status !== 404) {
          fail(`DELETE /session of the default session answered HTTP ${del.status}`);
        }
      }
      return "";
    },
  );
}

async function extensionChecks(ctx: Context): Promise<void> {
  const ext = (id: string, title: string, fn: () => Promise<string | void>) =>
    ctx.check(id, title, () => {
      if (!ctx.envtorch) {
        return Promise.resolve(
          skip("not an envtorch server (see server.kind): extension not checked"),
        );
      }
      return fn();
    });
  const needSession = () =>
    ctx.session ?? fail(`no HTTP session: POST /reset gave no ${SESSION_HEADER} (see http.reset)`);
  await ext(
    "ext.session_new",
    "envtorch-session: new opens a separate HTTP session",
    async () => {
      const mine = needSession();
      const res = await ctx.probe.http("/reset", {
        method: "POST",
        body: {},
        headers: { [SESSION_HEADER]: "new" },
      });
      if (res.status === 503) skip(`the server holds one session at a time (HTTP 503)`);
      expectStatus(res, 200, "POST /reset with envtorch-session: new");
      const other = res.headers.get(SESSION_HEADER);
      try {
        if (!other || other === mine) return fail(`a second new session got the id ${other}`);
        const state = await ctx.probe.http("/state", { headers: { [SESSION_HEADER]: other } });
        const fresh = ctx.checkState(state.json, "GET /state of the new session");
        const own = ctx.checkState(
          (await ctx.probe.http("/state", { headers: headers(ctx) })).json,
          "GET /state",
        );
        if (fresh.step_count !== 0) {
          fail(`the new session reports step_count ${fresh.step_count} after a reset`);
        }
        return `step_count ${own.step_count} and ${fresh.step_count}`;
      } finally {
        if (other) {
          await ctx.probe.http("/session", {
            method: "DELETE",
            headers: { [SESSION_HEADER]: other },
          });
        }
      }
    },
  );
  await ext("ext.unknown_session", "an unknown session id is HTTP 404", async () => {
    const res = await ctx.probe.http("/state", {
      headers: { [SESSION_HEADER]: crypto.randomUUID() },
    });
    expectStatus(res, 404, "GET /state with an unknown session id");
    return "";
  });
  await ext("ext.malformed_session", "a malformed session id is HTTP 400", async () => {
    const res = await ctx.probe.http("/state", { headers: { [SESSION_HEADER]: "../not-an-id" } });
    expectStatus(res, 400, "GET /state with a malformed session id");
    return "";
  });
  await ext(
    "ext.delete_session",
    "DELETE /session closes the session; closing it twice is 404",
    async () => {
      const own = { [SESSION_HEADER]: needSession() };
      const first = await ctx.probe.http("/session", { method: "DELETE", headers: own });
      expectStatus(first, 204, "DELETE /session");
      const after = await ctx.probe.http("/state", { headers: own });
      expectStatus(after, 404, "GET /state of a deleted session");
      const again = await ctx.probe.http("/session", { method: "DELETE", headers: own });
      expectStatus(again, 404, "a second DELETE /session");
      ctx.session = undefined;
      return "";
    },
  );
}
