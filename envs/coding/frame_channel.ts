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

/** A framed, two-way channel over a readable and a writable byte stream. */
export class FrameChannel {
  /** Resolves once the readable side has ended (closed, broken or cancelled). */
  readonly ended: Promise<void>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
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
  ) {
    this.#writer = writable.getWriter();
    this.#reader = readable.getReader();
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#maxQueued = options.maxQueued ?? 4;
    this.#onMessage = options.onMessage;
    this.ended = this.#pump();
  }

  /** Writes frames (bytes as they are, or messages to encode). */
  async send(...frames: (Uint8Array | Record<string, unknown>)[]): Promise<void> {
    for (const frame of frames) {
      await this.#writer.write(frame instanceof Uint8Array ? frame : encodeFrame(frame));
    }
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
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel().catch(() => {});
    await this.ended;
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        for (const message of this.#decoder.push(value)) this.#deliver(message);
      }
      if (this.#decoder.buffered > 0) {
        this.#failure = new WorkerProtocolError("The Python side closed its channel mid-frame");
      }
    } catch (error) {
      this.#failure = error instanceof WorkerProtocolError ? error : new WorkerProtocolError(
        `Cannot read from the Python side: ${(error as Error).message}`,
        { cause: error },
      );
      await this.#reader.cancel().catch(() => {});
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
