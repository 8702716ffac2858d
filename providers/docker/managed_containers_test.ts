import assert from "node:assert/strict";
import { containerLabels } from "./labels.ts";
import { socketDirOf } from "./managed_containers.ts";

Deno.test("a socket folder is only one the container really has mounted", () => {
  const dir = "/tmp/envtorch-docker-abc123";
  const labels = { "envtorch.socket-dir": dir };
  const mount = { Type: "bind", Source: `${dir}/sock`, Destination: "/run/envtorch" };
  assert.equal(socketDirOf(labels, [mount]), dir);
  assert.equal(socketDirOf(labels, []), undefined, "a label alone names no folder");
  assert.equal(socketDirOf(labels, [{ ...mount, Destination: "/elsewhere" }]), undefined);
  assert.equal(socketDirOf({ "envtorch.socket-dir": "/home/me" }, [mount]), undefined);
  assert.equal(
    socketDirOf({ "envtorch.socket-dir": "/tmp/../etc/envtorch-docker-x" }, [
      { ...mount, Source: "/tmp/../etc/envtorch-docker-x/sock" },
    ]),
    undefined,
  );
});

Deno.test("an image's envtorch.* labels are blanked; the provider's win over the caller's", () => {
  assert.deepEqual(
    containerLabels(
      { "envtorch.socket-dir": "/home/me", "envtorch.expires": "2999", "org.example": "kept" },
      { "envtorch.test": "run-1", "envtorch.managed": "false" },
      { "envtorch.managed": "true", "envtorch.expires": "2026" },
    ),
    {
      "envtorch.socket-dir": "",
      "envtorch.expires": "2026",
      "envtorch.test": "run-1",
      "envtorch.managed": "true",
    },
  );
});
