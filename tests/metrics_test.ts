/**
 * `GET /metrics`: Prometheus text with sessions, steps, the step latency
 * histogram and errors by code, as a scraper sees it.
 */
import assert from "node:assert/strict";
import { EchoEnvironment, echoModels } from "../mod.ts";
import { startTarget } from "./helpers/targets.ts";

function sample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  assert.ok(line, `metric ${name} is exposed`);
  return Number(line.slice(name.length + 1));
}

Deno.test("GET /metrics counts sessions, steps, latencies and errors", async () => {
  await using target = await startTarget("tcp", () => new EchoEnvironment(), echoModels, {
    maxSessions: 2,
  });
  const ws = await target.ws();
  ws.send(JSON.stringify({ type: "reset" }));
  await ws.next();
  for (let i = 0; i < 5; i++) {
    ws.send(JSON.stringify({ type: "step", data: { message: "m" } }));
    await ws.next();
  }
  ws.send("not json");
  await ws.next();
  const http = await target.http("/reset", {
    method: "POST",
    headers: { "envtorch-session": "new" },
  });
  await http.body?.cancel();
  const bad = await target.http("/step", {
    method: "POST",
    headers: { "envtorch-session": http.headers.get("envtorch-session")! },
    body: '{"action": {}}',
  });
  assert.equal(bad.status, 422);
  await bad.body?.cancel();
  const full = await target.http("/reset", {
    method: "POST",
    headers: { "envtorch-session": "new" },
  });
  assert.equal(full.status, 503);
  await full.body?.cancel();

  const res = await target.http("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0.0.4/);
  const text = await res.text();
  assert.equal(sample(text, 'envtorch_sessions_active{transport="ws"}'), 1);
  assert.equal(sample(text, 'envtorch_sessions_active{transport="http"}'), 1);
  assert.equal(sample(text, "envtorch_sessions_max"), 2);
  assert.equal(sample(text, "envtorch_steps_total"), 5);
  assert.equal(sample(text, "envtorch_resets_total"), 2);
  assert.equal(sample(text, "envtorch_step_duration_seconds_count"), 5);
  assert.equal(sample(text, 'envtorch_step_duration_seconds_bucket{le="+Inf"}'), 5);
  assert.ok(sample(text, "envtorch_step_duration_seconds_sum") > 0);
  assert.equal(sample(text, 'envtorch_errors_total{code="INVALID_JSON"}'), 1);
  assert.equal(sample(text, 'envtorch_errors_total{code="VALIDATION_ERROR"}'), 1);
  assert.equal(sample(text, 'envtorch_errors_total{code="CAPACITY_REACHED"}'), 1);
  assert.ok(
    sample(text, "envtorch_event_loop_lag_seconds_max") < 1,
    "the event loop was never stalled",
  );
  const buckets = [...text.matchAll(/_bucket\{le="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), "buckets are cumulative");
  ws.close();
  await ws.closed;
});
