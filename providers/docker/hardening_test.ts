import assert from "node:assert/strict";
import { checkHostConfig, hardenedHostConfig, hardeningFromLabels } from "./hardening.ts";

Deno.test("hardened HostConfig", async (t) => {
  await t.step("defaults follow SECURITY.md", () => {
    const hc = hardenedHostConfig();
    assert.deepEqual(hc.CapDrop, ["ALL"]);
    assert.deepEqual(hc.SecurityOpt, ["no-new-privileges"]);
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

  await t.step("a published port is on 127.0.0.1 with a bridge network", () => {
    const hc = hardenedHostConfig({}, { publish: { containerPort: 8000 } });
    assert.equal(hc.NetworkMode, "bridge");
    assert.deepEqual(hc.PortBindings, { "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
    assert.throws(
      () => hardenedHostConfig({ network: "none" }, { publish: { containerPort: 8000 } }),
      /needs a network/,
    );
    assert.throws(() => hardenedHostConfig({ network: "host" }), /host is not allowed/);
  });

  await t.step("the read-back check catches what the engine did not apply", () => {
    const want = hardenedHostConfig({}, { publish: { containerPort: 8000 } });
    assert.deepEqual(checkHostConfig(want, structuredClone(want)), []);
    const got = structuredClone(want);
    delete got.PidsLimit; // e.g. a typo the engine ignored
    got.Privileged = true;
    got.Binds = ["/var/run/docker.sock:/var/run/docker.sock"];
    got.PortBindings = { "8000/tcp": [{ HostIp: "0.0.0.0", HostPort: "8000" }] };
    got.SecurityOpt = ["no-new-privileges", "seccomp=unconfined"];
    const fields = checkHostConfig(want, got).map((m) => m.field);
    for (
      const f of [
        "HostConfig.PidsLimit",
        "HostConfig.Privileged",
        "HostConfig.Binds",
        "HostConfig.PortBindings.HostIp",
        "HostConfig.SecurityOpt",
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
