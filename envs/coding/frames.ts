/**
 * The framing of the worker's control pipes: each message is a 4-byte
 * big-endian length and that many bytes of UTF-8 JSON. The decoder never
 * trusts the other side: a frame over its limit, bytes that are not UTF-8 or
 * not JSON, and anything but a JSON object are errors.
 *
 * @module
 */
import { WorkerProtocolError } from "./errors.ts";

const encoder = new TextEncoder();

/**
 * Encodes one message as a frame.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./frames.ts";
 * const frame = encodeFrame({ op: "ping" });
 * console.log(frame.byteLength); // 17
 * ```
 */
export function encodeFrame(message: unknown): Uint8Array {
  return encodeRawFrame(encoder.encode(JSON.stringify(message)));
}

/** Frames bytes as they are (the runner's source is sent this way). */
export function encodeRawFrame(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.byteLength);
  new DataView(frame.buffer).setUint32(0, body.byteLength);
  frame.set(body, 4);
  return frame;
}

/**
 * Splits a byte stream into JSON object messages.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./frames.ts";
 * const decoder = new FrameDecoder(1024);
 * const bytes = encodeFrame({ op: "pong" });
 * console.log(decoder.push(bytes.subarray(0, 3))); // []
 * console.log(decoder.push(bytes.subarray(3))); // [ { op: "pong" } ]
 * ```
 */
export class FrameDecoder {
  #maxBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #decoder = new TextDecoder("utf-8", { fatal: true });

  /** Creates a decoder that rejects frames over `maxBytes`. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Adds bytes; returns every message they complete, in order. Throws
   * WorkerProtocolError. The decoder keeps a copy of what it has to wait
   * for, never `chunk` itself, so the caller may reuse its buffer.
   */
  push(chunk: Uint8Array): Record<string, unknown>[] {
    if (chunk.byteLength) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    const messages: Record<string, unknown>[] = [];
    try {
      while (this.#buffered >= 4) {
        const size = this.#size();
        if (size > this.#maxBytes) {
          throw new WorkerProtocolError(
            `Worker sent a frame of ${size} bytes, over the limit of ${this.#maxBytes}`,
          );
        }
        if (this.#buffered < 4 + size) break;
        this.#take(4);
        messages.push(this.#parse(this.#take(size)));
      }
    } finally {
      // What is left of `chunk` (the start of a frame) is copied: its buffer is the caller's.
      const last = this.#chunks.length - 1;
      if (last >= 0 && this.#chunks[last]!.buffer === chunk.buffer) {
        this.#chunks[last] = this.#chunks[last]!.slice();
      }
    }
    return messages;
  }

  #parse(body: Uint8Array): Record<string, unknown> {
    let value: unknown;
    try {
      value = JSON.parse(this.#decoder.decode(body));
    } catch (error) {
      throw new WorkerProtocolError(
        `Worker sent a frame that is not UTF-8 JSON: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new WorkerProtocolError("Worker sent a frame that is not a JSON object");
    }
    return value as Record<string, unknown>;
  }

  /** The next frame's length: the first 4 buffered bytes, big-endian, not consumed. */
  #size(): number {
    const first = this.#chunks[0]!;
    if (first.byteLength >= 4) {
      return ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0;
    }
    let size = 0;
    let left = 4;
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.byteLength && left > 0; i++, left--) size = size * 256 + chunk[i]!;
      if (left === 0) break;
    }
    return size;
  }

  /** Consumes the first `n` buffered bytes. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength > n) {
      this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    if (first.byteLength === n) {
      this.#chunks.shift();
      this.#buffered -= n;
      return first;
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0]!;
      const part = chunk.subarray(0, n - offset);
      out.set(part, offset);
      offset += part.byteLength;
      if (part.byteLength === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part.byteLength);
    }
    this.#buffered -= n;
    return out;
  }
}
