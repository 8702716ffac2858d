import assert from "node:assert/strict";
import { decodeLogFrames, framesToText, LogFrameDecoder } from "./log_frames.ts";

function frame(type: number, text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, 8);
  return out;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("log frame decoder", async (t) => {
  await t.step("splits stdout and stderr frames", async () => {
    const frames = await decodeLogFrames(
      join(frame(1, "out 1\n"), frame(2, "err\n"), frame(1, "out 2\n")),
    );
    assert.deepEqual(frames.map((f) => f.stream), ["stdout", "stderr", "stdout"]);
    assert.equal(framesToText(frames), "out 1\nerr\nout 2\n");
    assert.equal(framesToText(frames, ["stderr"]), "err\n");
  });

  await t.step("reassembles frames split at every byte", async () => {
    const bytes = join(frame(1, "hello"), frame(2, ""), frame(2, "wörld"));
    const chunks = [...bytes].map((b) => new Uint8Array([b]));
    const frames = await Array.fromAsync(
      ReadableStream.from(chunks).pipeThrough(new LogFrameDecoder()),
    );
    assert.equal(frames.length, 3);
    assert.equal(framesToText(frames), "hellowörld");
  });

  await t.step("a stream cut inside a frame is an error", async () => {
    const bytes = frame(1, "truncated").slice(0, 12);
    await assert.rejects(decodeLogFrames(bytes), /ended inside a frame/);
  });

  await t.step("raw TTY output is refused with a hint", async () => {
    await assert.rejects(
      decodeLogFrames(new TextEncoder().encode("plain text, no framing")),
      /TTY/,
    );
  });
});
