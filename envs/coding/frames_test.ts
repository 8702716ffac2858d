import assert from "node:assert/strict";
import { WorkerProtocolError } from "./errors.ts";
import { encodeFrame, encodeRawFrame, FrameDecoder } from "./frames.ts";

Deno.test("frames round-trip one byte at a time and several at once", () => {
  const messages = [{ op: "done", stdout: "é\u0000\n" }, { op: "pong" }, { a: [1, 2] }];
  const bytes = new Uint8Array(messages.flatMap((m) => [...encodeFrame(m)]));
  const one = new FrameDecoder(1024);
  const got: unknown[] = [];
  for (const b of bytes) got.push(...one.push(new Uint8Array([b])));
  assert.deepEqual(got, messages);
  assert.equal(one.buffered, 0);
  assert.deepEqual(new FrameDecoder(1024).push(bytes), messages);
});

Deno.test("frames reject what an untrusted worker may send", async (t) => {
  await t.step("a frame over the limit, before its body arrives", () => {
    const header = encodeRawFrame(new Uint8Array(2000)).subarray(0, 4);
    assert.throws(() => new FrameDecoder(1024).push(header), WorkerProtocolError);
  });
  await t.step("a body that is not UTF-8", () => {
    const frame = encodeRawFrame(new Uint8Array([0x22, 0xff, 0x22]));
    assert.throws(() => new FrameDecoder(1024).push(frame), /not UTF-8 JSON/);
  });
  await t.step("a body that is not JSON", () => {
    const frame = encodeRawFrame(new TextEncoder().encode("{op:"));
    assert.throws(() => new FrameDecoder(1024).push(frame), /not UTF-8 JSON/);
  });
  await t.step("JSON that is not an object", () => {
    for (const body of ["[1]", "null", "3"]) {
      const frame = encodeRawFrame(new TextEncoder().encode(body));
      assert.throws(() => new FrameDecoder(1024).push(frame), /not a JSON object/);
    }
  });
});

Deno.test("the decoder keeps its own copy of a partial frame, so the caller may reuse its buffer", () => {
  const messages = [{ op: "done", stdout: "x".repeat(300) }, { op: "pong" }];
  const bytes = new Uint8Array(messages.flatMap((m) => [...encodeFrame(m)]));
  const decoder = new FrameDecoder(1024);
  const buffer = new Uint8Array(7);
  const got: unknown[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += buffer.byteLength) {
    const part = bytes.subarray(offset, offset + buffer.byteLength);
    buffer.set(part);
    got.push(...decoder.push(buffer.subarray(0, part.byteLength)));
    buffer.fill(0xff); // what a reused read buffer holds next
  }
  assert.deepEqual(got, messages);
});
