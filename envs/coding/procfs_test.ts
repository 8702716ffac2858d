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

Deno.test("the process list includes this process under its uid", async () => {
  const me = await readProcess(Deno.pid);
  assert.ok(me);
  assert.equal(me.uids[0], Deno.uid());
  assert.ok((await listProcesses()).some((p) => p.pid === Deno.pid));
  assert.ok((await processesOfUid(Deno.uid()!)).some((p) => p.pid === Deno.pid));
  assert.equal(await readProcess(2 ** 30), undefined);
});
