import assert from "node:assert/strict";
import {
  mountOf,
  parseMountInfo,
  parseNetDev,
  readSystemLimits,
  tmpfsSize,
} from "./system_limits.ts";

const MOUNTINFO = [
  "77 53 0:39 / / ro,relatime master:2 - overlay overlay rw,lowerdir=/a:/b",
  "78 77 0:42 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "93 79 0:47 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k",
  "95 77 0:48 / /tmp rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=524288k",
  "96 77 254:0 /x /run/envtorch rw,relatime - ext4 /dev/vda rw",
  "97 77 0:50 / /with\\040space rw - tmpfs tmpfs rw",
].join("\n");

Deno.test("system limits are read from /proc text", async (t) => {
  await t.step("network interfaces from /proc/net/dev", () => {
    const text = [
      "Inter-|   Receive",
      " face |bytes    packets",
      "    lo:       0       0    0",
      "  eth0:     100       1    0",
    ].join("\n");
    assert.deepEqual(parseNetDev(text), ["lo", "eth0"]);
  });

  await t.step("the mount holding a path, and the size of a tmpfs", () => {
    const mounts = parseMountInfo(MOUNTINFO);
    assert.equal(mounts.length, 6);
    assert.deepEqual(mountOf(mounts, "/")?.options.slice(0, 1), ["ro"]);
    assert.equal(mountOf(mounts, "/tmp/envtorch-coding-1/w")?.mountPoint, "/tmp");
    assert.equal(mountOf(mounts, "/tmpx")?.mountPoint, "/");
    assert.equal(mountOf(mounts, "/with space/a")?.mountPoint, "/with space");
    assert.equal(tmpfsSize(mountOf(mounts, "/tmp/a")), 512 * 1024 ** 2);
    assert.equal(tmpfsSize(mountOf(mounts, "/with space")), null);
    assert.equal(tmpfsSize(mountOf(mounts, "/run/envtorch")), null);
  });

  await t.step("this machine's limits read without error", async () => {
    const limits = await readSystemLimits(
      await Deno.makeTempDir().then(async (dir) => {
        await Deno.remove(dir);
        return dir;
      }),
    );
    assert.equal(typeof limits.networkBlocked, "boolean");
    assert.ok(limits.pidsMax === null || limits.pidsMax > 0);
  });
});
