/**
 * Frames over a byte stream, both ways: what the server uses to talk to the
 * zygote (its pipes) and to each worker (its unix socket). Everything that
 * comes in is untrusted: frames are size-capped and checked by
 * {@link FrameDecoder}, and a side that sends more frames than were asked
 * for breaks the channel instead of the server's memory.
 *
 * @module
 */
import { WorkerProtocolError } from "./errors.ts";
import { encodeFrame, FrameDecoder } from "./frames.ts";

/** Options of a {@link FrameChannel}. */
export interface FrameChannelOptions {
  /** Largest frame accepted, in bytes. */
  maxFrameBytes: number;
  /**
   * Messages kept while nobody waits for them; one more breaks the channel.
   * @default 4
   */
  maxQueued?: number;
  /** Takes every message instead of the queue (the zygote's events). */
  onMessage?: (message: Record<string, unknown>) => void;
}

/** A connection a {@link FrameChannel} can use directly (a `Deno.UnixConn`, say). */
export interface FrameConn {
  /** Reads into `p`; gives the number of bytes read, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; gives how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection (both ways). */
  close(): void;
}

/** How a channel moves bytes: a stream pair, or a connection's own read and write. */
interface ByteIo {
  /** The next bytes, valid until the next call; null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`, after any write still under way. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the writable side. */
  closeWrite(): Promise<void>;
  /** Stops reading (a read under way ends). */
  cancelRead(): Promise<void>;
}

/** Reads of a connection (into one reused buffer) go through this many bytes at a time. */
const READ_BUFFER_BYTES = 1 << 16;

function streamIo(
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
): ByteIo {
  const writer = writable.getWriter();
  const write = (bytes: Uint8Array) => writer.write(bytes);
  const closeWrite = () => writer.close();
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    // A byte stream (a child's stdout) reads into one buffer passed back and forth,
    // rather than into a fresh, zeroed 64 KiB chunk per read.
    byob = readable.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: its own chunks, below.
  }
  if (byob) {
    const reader = byob;
    let buffer = new ArrayBuffer(READ_BUFFER_BYTES);
    return {
      read: async () => {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done || !value) return null;
        buffer = value.buffer as ArrayBuffer; // the read transferred it: take it back
        return value;
      },
      write,
      closeWrite,
      cancelRead: () => reader.cancel(),
    };
  }
  const reader = readable.getReader();
  return {
    read: async () => {
      const { done, value } = await reader.read();
      return done ? null : value;
    },
    write,
    closeWrite,
    cancelRead: () => reader.cancel(),
  };
}

/**
 * A connection's own `read` and `write`, without the web streams around them:
 * on the per-step path they cost more than the system calls (a stream read
 * allocates and zeroes 64 KiB per message).
 */
function connIo(conn: FrameConn): ByteIo {
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  // Writes go out whole and in order: one that comes while another is under way waits.
  const queue: { bytes: Uint8Array; resolve(): void; reject(error: unknown): void }[] = [];
  let writing = false;
  let failed: unknown;
  let cancelled = false;
  const writeAll = async (bytes: Uint8Array): Promise<void> => {
    try {
      if (failed !== undefined) throw failed;
      for (let offset = 0; offset < bytes.byteLength;) {
        offset += await conn.write(offset ? bytes.subarray(offset) : bytes);
      }
    } catch (error) {
      // As a stream does: once a write fails, every later one fails too.
      failed ??= error;
      throw error;
    } finally {
      const next = queue.shift();
      if (next) writeAll(next.bytes).then(next.resolve, next.reject);
      else writing = false;
    }
  };
  return {
    read: async () => {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        // A read that the channel's own close ended is an end, as a cancelled stream's is.
        if (cancelled) return null;
        throw error;
      }
      return n === null ? null : buffer.subarray(0, n);
    },
    write: (bytes) => {
      if (!writing) {
        writing = true;
        return writeAll(bytes);
      }
      return new Promise((resolve, reject) => queue.push({ bytes, resolve, reject }));
    },
    closeWrite: () => {
      failed ??= new Deno.errors.BrokenPipe("The channel was closed");
      return Promise.resolve();
    },
    cancelRead: () => {
      cancelled = true;
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      return Promise.resolve();
    },
  };
}

/** A framed, two-way channel over a readable and a writable byte stream, or over a connection. */
export class FrameChannel {
  /** Resolves once the readable side has ended (closed, broken or cancelled). */
  readonly ended: Promise<void>;
  #io: ByteIo;
  #decoder: FrameDecoder;
  #maxQueued: number;
  #onMessage?: (message: Record<string, unknown>) => void;
  #messages: Record<string, unknown>[] = [];
  #waiters: { resolve(m: Record<string, unknown> | null): void; reject(e: unknown): void }[] = [];
  #eof = false;
  #failure?: WorkerProtocolError;

  /** Starts reading `readable` at once. */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    options: FrameChannelOptions,
  );
  /**
   * Starts reading `conn` at once, with its own `read` and `write` (no web
   * streams); {@link close} or a broken protocol closes it.
   */
  constructor(conn: FrameConn, options: FrameChannelOptions);
  constructor(
    source: ReadableStream<Uint8Array> | FrameConn,
    second: WritableStream<Uint8Array> | FrameChannelOptions,
    third?: FrameChannelOptions,
  ) {
    let options: FrameChannelOptions;
    if (source instanceof ReadableStream) {
      this.#io = streamIo(source, second as WritableStream<Uint8Array>);
      options = third!;
    } else {
      this.#io = connIo(source);
      options = second as FrameChannelOptions;
    }
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#maxQueued = options.maxQueued ?? 4;
    this.#onMessage = options.onMessage;
    this.ended = this.#pump();
  }

  /** Writes frames (bytes as they are, or messages to encode), in order. */
  send(...frames: (Uint8Array | Record<string, unknown>)[]): Promise<void> {
    if (frames.length === 1) return this.#io.write(toBytes(frames[0]!));
    return this.#sendAll(frames);
  }

  async #sendAll(frames: (Uint8Array | Record<string, unknown>)[]): Promise<void> {
    for (const frame of frames) await this.#io.write(toBytes(frame));
  }

  /**
   * The next message, or null once the other side has closed. Rejects with
   * WorkerProtocolError if it broke the protocol.
   */
  receive(): Promise<Record<string, unknown> | null> {
    const message = this.#messages.shift();
    if (message) return Promise.resolve(message);
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#eof) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Messages received and not yet taken by {@link receive}. */
  get unread(): number {
    return this.#messages.length;
  }

  /** Closes the writable side and stops reading. Safe to call twice. */
  async close(): Promise<void> {
    await this.#io.closeWrite().catch(() => {});
    await this.#io.cancelRead().catch(() => {});
    await this.ended;
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        const bytes = await this.#io.read();
        if (bytes === null) break;
        const messages = this.#decoder.push(bytes);
        for (let i = 0; i < messages.length; i++) this.#deliver(messages[i]!);
      }
      if (this.#decoder.buffered > 0) {
        this.#failure = new WorkerProtocolError("The Python side closed its channel mid-frame");
      }
    } catch (error) {
      this.#failure = error instanceof WorkerProtocolError ? error : new WorkerProtocolError(
        `Cannot read from the Python side: ${(error as Error).message}`,
        { cause: error },
      );
      await this.#io.cancelRead().catch(() => {});
    } finally {
      this.#eof = true;
      for (const waiter of this.#waiters.splice(0)) {
        if (this.#failure) waiter.reject(this.#failure);
        else waiter.resolve(null);
      }
    }
  }

  #deliver(message: Record<string, unknown>): void {
    if (this.#onMessage) return this.#onMessage(message);
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(message);
    else if (this.#messages.length < this.#maxQueued) this.#messages.push(message);
    else {
      // One request, one frame: a flood is an attack on the server's memory.
      throw new WorkerProtocolError(
        `The Python worker sent more than ${this.#maxQueued} frames nobody asked for`,
      );
    }
  }
}

function toBytes(frame: Uint8Array | Record<string, unknown>): Uint8Array {
  return frame instanceof Uint8Array ? frame : encodeFrame(frame);
}
