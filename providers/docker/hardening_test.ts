import assert from "node:assert/strict";
import {
  checkHostConfig,
  checkMounts,
  hardenedHostConfig,
  hardeningFromLabels,
} from "./hardening.ts";
import { SECCOMP_SECURITY_OPT } from "./seccomp.ts";

Deno.test("hardened HostConfig", async (t) => {
  await t.step("defaults follow docs/security.md", () => {
    const hc = hardenedHostConfig();
    assert.deepEqual(hc.CapDrop, ["ALL"]);
    assert.deepEqual(hc.SecurityOpt, ["no-new-privileges", SECCOMP_SECURITY_OPT]);
    assert.equal(hc.IpcMode, "private");
    assert.equal(hc.ShmSize, 16 * 1024 ** 2);
    assert.deepEqual(hc.Sysctls, {
      "kernel.shmmax": "16777216",
      "kernel.shmall": "4096",
      "kernel.shmmni": "32",
      "kernel.shm_rmid_forced": "1",
      "kernel.msgmnb": "16384",
      "kernel.msgmni": "32",
      "fs.mqueue.queues_max": "16",
    });
    assert.equal(hc.ReadonlyRootfs, true);
    assert.equal(hc.Tmpfs?.["/tmp"], "rw,noexec,nosuid,nodev,size=64m");
    assert.equal(hc.Memory, 1024 ** 3);
    assert.equal(hc.MemorySwap, hc.Memory);
    assert.equal(hc.NanoCpus, 1e9);
    assert.equal(hc.PidsLimit, 128);
    assert.equal(hc.Init, true);
    assert.equal(hc.NetworkMode, "none");
    assert.equal(hc.LogConfig?.Type, "json-file");
  });

  await t.step("an engine-published port needs an explicit network, and is on 127.0.0.1", () => {
    const hc = hardenedHostConfig({ network: "bridge" }, { publish: { containerPort: 8000 } });
    assert.equal(hc.NetworkMode, "bridge");
    assert.deepEqual(hc.PortBindings, { "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
    assert.throws(
      () => hardenedHostConfig({}, { publish: { containerPort: 8000 } }),
      /needs a network: ask for network bridge explicitly/,
    );
    assert.throws(
      () => hardenedHostConfig({ network: "none" }, { publish: { containerPort: 8000 } }),
      /needs a network/,
    );
    assert.throws(() => hardenedHostConfig({ network: "host" }), /host is not allowed/);
  });

  await t.step("the read-back check catches what the engine did not apply", () => {
    const want = hardenedHostConfig({ network: "bridge" }, { publish: { containerPort: 8000 } });
    assert.deepEqual(checkHostConfig(want, structuredClone(want)), []);
    const got = structuredClone(want);
    delete got.PidsLimit; // e.g. a typo the engine ignored
    got.Privileged = true;
    got.Binds = ["/var/run/docker.sock:/var/run/docker.sock"];
    got.PortBindings = { "8000/tcp": [{ HostIp: "0.0.0.0", HostPort: "8000" }] };
    got.SecurityOpt = ["no-new-privileges", "seccomp=unconfined"];
    got.Sysctls = {};
    got.IpcMode = "shareable";
    const fields = checkHostConfig(want, got).map((m) => m.field);
    for (
      const f of [
        "HostConfig.PidsLimit",
        "HostConfig.Privileged",
        "HostConfig.Binds",
        "HostConfig.PortBindings.HostIp",
        "HostConfig.SecurityOpt",
        "HostConfig.Sysctls",
        "HostConfig.IpcMode",
      ]
    ) {
      assert.ok(fields.includes(f), `${f} not reported in ${fields.join(", ")}`);
    }
  });

  await t.step("key order of maps does not matter", () => {
    const want = hardenedHostConfig({ tmpfs: { "/a": "rw" } });
    const got = structuredClone(want);
    got.Tmpfs = { "/a": "rw", "/tmp": want.Tmpfs!["/tmp"]! };
    assert.deepEqual(checkHostConfig(want, got), []);
  });
});

Deno.test("image labels ask for capabilities and limits", async (t) => {
  await t.step("the coding image's labels become hardening options", () => {
    const asked = hardeningFromLabels({
      "envtorch.cap-add": "SETUID, setgid,CAP_KILL",
      "envtorch.memory": "2g",
      "envtorch.pids": "768",
      "envtorch.tmp-size": "512m",
      "envtorch.env": "coding",
    });
    assert.deepEqual(asked, {
      capAdd: ["SETUID", "SETGID", "KILL"],
      memoryBytes: 2 * 1024 ** 3,
      pids: 768,
      tmpSize: "512m",
    });
    const hc = hardenedHostConfig(asked);
    assert.deepEqual(hc.CapAdd, ["SETUID", "SETGID", "KILL"]);
    assert.deepEqual(hc.CapDrop, ["ALL"]);
    assert.equal(hc.Tmpfs?.["/tmp"], "rw,noexec,nosuid,nodev,size=512m");
  });

  await t.step("no labels ask for nothing", () => {
    assert.deepEqual(hardeningFromLabels({}), {});
    assert.deepEqual(hardeningFromLabels({ "envtorch.cap-add": "" }), {});
  });

  await t.step("a capability beyond SETUID, SETGID and KILL is refused, naming the label", () => {
    assert.throws(
      () => hardeningFromLabels({ "envtorch.cap-add": "SETUID,SYS_ADMIN" }),
      /capability SYS_ADMIN \(label envtorch\.cap-add\): only SETUID, SETGID and KILL/,
    );
  });

  await t.step("malformed limits are refused, naming the label", () => {
    assert.throws(() => hardeningFromLabels({ "envtorch.memory": "lots" }), /envtorch\.memory/);
    assert.throws(() => hardeningFromLabels({ "envtorch.pids": "-1" }), /envtorch\.pids/);
    assert.throws(
      () => hardeningFromLabels({ "envtorch.tmp-size": "1g,exec" }),
      /envtorch\.tmp-size/,
    );
  });
});

Deno.test("image labels are bounded: zero, negative and more than the ceiling are refused", async (t) => {
  const ceilings = { memoryBytes: 4 * 1024 ** 3, tmpBytes: 1024 ** 3, pids: 4096, cpus: 2 };
  await t.step("values within the ceilings are granted", () => {
    assert.deepEqual(
      hardeningFromLabels({
        "envtorch.memory": "2g",
        "envtorch.tmp-size": "512m",
        "envtorch.pids": "768",
        "envtorch.cpus": "1.5",
        "envtorch.shm-total": "64m",
      }, ceilings),
      {
        memoryBytes: 2 * 1024 ** 3,
        tmpSize: "512m",
        pids: 768,
        cpus: 1.5,
        ipc: { shmTotalBytes: 64 * 1024 ** 2, shmMaxBytes: 64 * 1024 ** 2 },
      },
    );
  });
  await t.step("cpus all is every core the ceiling allows", () => {
    assert.deepEqual(hardeningFromLabels({ "envtorch.cpus": "all" }, ceilings), { cpus: 2 });
  });
  const refused: [Record<string, string>, RegExp][] = [
    [
      { "envtorch.memory": "1000000g" },
      /memory "1000000g" \(label envtorch.memory\): more than the 4 GiB/,
    ],
    [{ "envtorch.memory": "0" }, /memory "0" \(label envtorch.memory\): it must be at least 6 MiB/],
    [{ "envtorch.memory": "-1g" }, /Invalid memory "-1g"/],
    [{ "envtorch.tmp-size": "0" }, /\/tmp size "0" .*0 would mean no limit/],
    [{ "envtorch.tmp-size": "2g" }, /\/tmp size "2g" .*more than the 1 GiB/],
    [{ "envtorch.pids": "0" }, /pids 0 .*8 to 4096/],
    [{ "envtorch.pids": "100000" }, /pids 100000 .*8 to 4096/],
    [{ "envtorch.pids": "-5" }, /Invalid pids "-5"/],
    [{ "envtorch.cpus": "0" }, /cpus 0 .*0.01 to 2/],
    [{ "envtorch.cpus": "64" }, /cpus 64 .*0.01 to 2/],
    [{ "envtorch.cpus": "most" }, /Invalid cpus "most" .*or all/],
    [{ "envtorch.shm-total": "8g" }, /shared memory "8g" .*more than the 256 MiB/],
  ];
  for (const [labels, message] of refused) {
    await t.step(`refuses ${JSON.stringify(labels)}`, () => {
      assert.throws(() => hardeningFromLabels(labels, ceilings), message);
    });
  }
  await t.step("the default ceiling is a quarter of the host's memory", () => {
    const quarter = Math.floor(Deno.systemMemoryInfo().total / 4);
    const over = `${Math.ceil(quarter / 1024 ** 2) + 1}m`;
    assert.throws(() => hardeningFromLabels({ "envtorch.memory": over }), /more than the/);
    assert.throws(() => hardeningFromLabels({ "envtorch.tmp-size": over }), /more than the/);
  });
  await t.step("a caller's /tmp of size 0 is refused too", () => {
    assert.throws(() => hardenedHostConfig({ tmpSize: "0" }), /0 would mean no limit/);
    assert.throws(() => hardenedHostConfig({ tmpfs: { "/x": "rw,size=0" } }), /size 0/);
  });
});

Deno.test("image volumes are covered by a sized tmpfs and Mounts is checked", () => {
  const socketDir = { hostPath: "/tmp/envtorch-docker-x/sock", containerPath: "/run/envtorch" };
  const hc = hardenedHostConfig({ tmpSize: "32m" }, { socketDir, volumes: ["/data"] });
  assert.equal(hc.Tmpfs?.["/data"], "rw,noexec,nosuid,nodev,size=32m");
  assert.deepEqual(
    checkMounts({ socketDir }, [
      { Type: "bind", Source: socketDir.hostPath, Destination: "/run/envtorch", RW: true },
    ]),
    [],
  );
  const mismatches = checkMounts({ socketDir }, [
    { Type: "volume", Source: "/var/lib/docker/volumes/x/_data", Destination: "/data", RW: true },
  ]);
  assert.equal(mismatches.length, 1);
  assert.match(String(mismatches[0]!.actual), /volume at \/data \(writable\)/);
});
