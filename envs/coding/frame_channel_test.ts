import assert from "node:assert/strict";
import { FrameChannel } from "./frame_channel.ts";
import { encodeFrame } from "./frames.ts";

/** Both ends of a real unix socket in a temp folder. */
async function socketPair(): Promise<
  { a: Deno.UnixConn; b: Deno.UnixConn; dispose(): Promise<void> }
> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const [a, b] = await Promise.all([listener.accept(), Deno.connect({ transport: "unix", path })]);
  listener.close();
  return {
    a: a as Deno.UnixConn,
    b,
    dispose: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("a frame channel over a connection", async (t) => {
  await t.step(
    "frames larger than its read buffer and the socket's arrive whole and in order",
    async () => {
      const pair = await socketPair();
      const near = new FrameChannel(pair.a, { maxFrameBytes: 1 << 22 });
      const far = new FrameChannel(pair.b, { maxFrameBytes: 1 << 22, maxQueued: 8 });
      const big = { op: "exec", code: "é".repeat(700_000) };
      // Sent at once, without waiting: the writes must not interleave.
      await Promise.all([near.send(big), near.send({ op: "ping" }), near.send(big, { op: "end" })]);
      assert.deepEqual(await far.receive(), big);
      assert.deepEqual(await far.receive(), { op: "ping" });
      assert.deepEqual(await far.receive(), big);
      assert.deepEqual(await far.receive(), { op: "end" });
      await near.close();
      assert.equal(await far.receive(), null);
      await far.close();
      assert.equal(await near.receive(), null);
      await pair.dispose();
    },
  );

  await t.step("a frame over the limit breaks the channel and closes the connection", async () => {
    const pair = await socketPair();
    const near = new FrameChannel(pair.a, { maxFrameBytes: 64 });
    await pair.b.write(encodeFrame({ op: "x".repeat(100) }));
    await assert.rejects(near.receive(), /over the limit of 64/);
    await near.ended;
    // The other side sees the end: the channel closed its connection.
    assert.equal(await pair.b.read(new Uint8Array(16)), null);
    pair.b.close();
    await pair.dispose();
  });

  await t.step("a send after the channel's close fails", async () => {
    const pair = await socketPair();
    const near = new FrameChannel(pair.a, { maxFrameBytes: 64 });
    await near.close();
    await assert.rejects(near.send({ op: "ping" }));
    pair.b.close();
    await pair.dispose();
  });
});

Deno.test("a frame channel over streams, byte stream or not", async (t) => {
  const messages = [{ op: "spawned", pid: 7 }, { op: "x".repeat(200) }, { op: "exited", pid: 7 }];
  const bytes = new Uint8Array(messages.flatMap((m) => [...encodeFrame(m)]));
  // Cut anywhere: frames arrive split across reads, and several in one read.
  const pieces = [bytes.subarray(0, 3), bytes.subarray(3, 150), bytes.subarray(150)];
  const sink = () => new WritableStream<Uint8Array>();
  await t.step("a byte stream is read into one reused buffer", async () => {
    let i = 0;
    const readable = new ReadableStream({
      type: "bytes",
      pull(controller) {
        const piece = pieces[i++];
        if (!piece) {
          controller.close();
          controller.byobRequest?.respond(0); // a pending BYOB read ends with done
          return;
        }
        controller.enqueue(piece.slice());
      },
    });
    const got: unknown[] = [];
    const channel = new FrameChannel(readable, sink(), {
      maxFrameBytes: 1024,
      onMessage: (m) => got.push(m),
    });
    await channel.ended;
    assert.deepEqual(got, messages);
  });
  await t.step("a stream of chunks works as well", async () => {
    const channel = new FrameChannel(
      ReadableStream.from(pieces.map((p) => p.slice())),
      sink(),
      { maxFrameBytes: 1024, maxQueued: 4 },
    );
    for (const m of messages) assert.deepEqual(await channel.receive(), m);
    assert.equal(await channel.receive(), null);
  });
});
