import assert from "node:assert/strict";
import { listProcesses, parseStatus, processesOfUid, readProcess } from "./procfs.ts";

Deno.test("parseStatus reads ids, state, groups and session", () => {
  const text = [
    "Name:\tpython3",
    "State:\tS (sleeping)",
    "PPid:\t41",
    "Uid:\t60600\t60600\t60600\t60600",
    "Gid:\t60600\t60600\t60600\t60600",
    "Groups:\t",
    "NSpgid:\t42",
    "NSsid:\t42",
    "NoNewPrivs:\t1",
  ].join("\n");
  assert.deepEqual(parseStatus(42, text), {
    pid: 42,
    ppid: 41,
    name: "python3",
    state: "S",
    uids: [60600, 60600, 60600, 60600],
    gids: [60600, 60600, 60600, 60600],
    groups: [],
    pgid: 42,
    sid: 42,
    noNewPrivs: true,
  });
});

Deno.test("parseStatus reads only whole keys, and a missing one as unknown", () => {
  const text = "Name:\tdeno\nUmask:\t0022\nState:\tR (running)\nUid:\t0\t0\t0\t0\nNSsid:\t1\t7\n";
  const info = parseStatus(7, text);
  assert.equal(info.name, "deno");
  assert.equal(info.state, "R");
  assert.deepEqual(info.uids, [0, 0, 0, 0]);
  assert.deepEqual(info.gids, [-1, -1, -1, -1]);
  assert.equal(info.ppid, -1);
  assert.deepEqual(info.groups, []);
  assert.equal(info.pgid, undefined);
  assert.equal(info.sid, 7);
  assert.equal(info.noNewPrivs, false);
});

Deno.test("this process's own status reads back as the runtime sees it", async () => {
  const me = await readProcess(Deno.pid);
  assert.ok(me);
  assert.equal(me.ppid, Deno.ppid);
  assert.equal(me.uids[1], Deno.uid());
  assert.equal(me.gids[1], Deno.gid());
  assert.match(me.state, /^[RS]$/);
  assert.equal(me.pid, Deno.pid);
});

Deno.test("the process list includes this process under its uid", async () => {
  const me = await readProcess(Deno.pid);
  assert.ok(me);
  assert.equal(me.uids[0], Deno.uid());
  assert.ok((await listProcesses()).some((p) => p.pid === Deno.pid));
  assert.ok((await processesOfUid(Deno.uid()!)).some((p) => p.pid === Deno.pid));
  assert.equal(await readProcess(2 ** 30), undefined);
});
