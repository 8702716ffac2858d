import assert from "node:assert/strict";
import { REMOVED_SYSCALLS, SECCOMP_PROFILE, SECCOMP_SECURITY_OPT } from "./seccomp.ts";

Deno.test("seccomp profile", async (t) => {
  const allowed = new Set(
    SECCOMP_PROFILE.syscalls.filter((s) => s.action === "SCMP_ACT_ALLOW" && !("args" in s))
      .flatMap((s) => s.names),
  );

  await t.step("refuses what is not listed, with EPERM", () => {
    assert.equal(SECCOMP_PROFILE.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(SECCOMP_PROFILE.defaultErrnoRet, 1);
  });

  await t.step("no removed call is allowed", () => {
    for (const [group, names] of Object.entries(REMOVED_SYSCALLS)) {
      for (const name of names) assert.ok(!allowed.has(name), `${name} (${group}) is allowed`);
    }
    assert.ok(!allowed.has("io_uring_setup"));
  });

  await t.step("what Python and Deno need is allowed", () => {
    for (
      const name of ["read", "write", "openat", "mmap", "futex", "execve", "wait4", "socket"]
    ) {
      assert.ok(allowed.has(name), `${name} is not allowed`);
    }
  });

  await t.step("clone only without namespace flags, clone3 answers ENOSYS", () => {
    const clone = SECCOMP_PROFILE.syscalls.find((s) => s.names.includes("clone"));
    assert.deepEqual(clone?.args, [{
      index: 0,
      value: 0x7e020000,
      valueTwo: 0,
      op: "SCMP_CMP_MASKED_EQ",
    }]);
    const clone3 = SECCOMP_PROFILE.syscalls.find((s) => s.names.includes("clone3"));
    assert.deepEqual([clone3?.action, clone3?.errnoRet], ["SCMP_ACT_ERRNO", 38]);
  });

  await t.step("the SecurityOpt entry carries the JSON itself", () => {
    assert.ok(SECCOMP_SECURITY_OPT.startsWith("seccomp={"));
    assert.deepEqual(JSON.parse(SECCOMP_SECURITY_OPT.slice("seccomp=".length)), SECCOMP_PROFILE);
  });
});
