import assert from "node:assert/strict";
import { JsonProgressDecoder, progressError, progressText } from "./json_progress.ts";

async function decode(chunks: string[]) {
  const encoder = new TextEncoder();
  return await Array.fromAsync(
    ReadableStream.from(chunks.map((c) => encoder.encode(c))).pipeThrough(
      new JsonProgressDecoder(),
    ),
  );
}

Deno.test("json progress decoder", async (t) => {
  await t.step("parses one message per line", async () => {
    const messages = await decode([
      '{"stream":"Step 1/2 : FROM debian\\n"}\r\n',
      '{"stream":" ---\\u003e 1234\\n"}\r\n{"aux":{"ID":"sha256:abc"}}\r\n',
      '{"stream":"Successfully built abc\\n"}\r\n',
    ]);
    assert.equal(messages.length, 4);
    assert.equal(messages[2]!.aux?.ID, "sha256:abc");
    assert.deepEqual(messages.map(progressText), [
      "Step 1/2 : FROM debian",
      " ---> 1234",
      "",
      "Successfully built abc",
    ]);
  });

  await t.step("reassembles messages split mid-character", async () => {
    const text = '{"stream":"héllo wörld\\n"}\n{"status":"Importing","id":"layer1"}\n';
    const bytes = new TextEncoder().encode(text);
    const chunks = [...bytes].map((b) => new Uint8Array([b]));
    const messages = await Array.fromAsync(
      ReadableStream.from(chunks).pipeThrough(new JsonProgressDecoder()),
    );
    assert.deepEqual(messages.map(progressText), ["héllo wörld", "layer1 Importing"]);
  });

  await t.step("reports errors and keeps a last line with no newline", async () => {
    const messages = await decode([
      '{"errorDetail":{"message":"COPY failed: no such file"},"error":"COPY failed: no such file"}',
    ]);
    assert.equal(messages.length, 1);
    assert.equal(progressError(messages[0]!), "COPY failed: no such file");
    assert.equal(progressText(messages[0]!), "ERROR: COPY failed: no such file");
  });

  await t.step("lines that are not JSON objects are kept as text", async () => {
    const messages = await decode(["not json\n", "[1,2]\n"]);
    assert.deepEqual(messages, [{ stream: "not json" }, { stream: "[1,2]" }]);
  });
});
