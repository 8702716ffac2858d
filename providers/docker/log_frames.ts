/**
 * Decoder of the engine's multiplexed stream format, used by container logs,
 * attach and exec when the container has no TTY: each frame is an 8-byte
 * header (stream type, three zero bytes, payload size as a big-endian
 * uint32) followed by the payload.
 *
 * @module
 */

/** The stream a frame belongs to. */
export type LogStream = "stdin" | "stdout" | "stderr";

/** One decoded frame. */
export interface LogFrame {
  /** Which stream the bytes were written to. */
  stream: LogStream;
  /** The bytes, as written. */
  data: Uint8Array;
}

const STREAMS: Record<number, LogStream> = { 0: "stdin", 1: "stdout", 2: "stderr" };
const HEADER = 8;
/** The largest frame accepted (the engine splits output into far smaller ones). */
export const MAX_LOG_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * A stream transformer from raw multiplexed bytes to frames. Chunks may split
 * headers and payloads anywhere; a stream that ends inside a frame errors.
 *
 * @example
 * ```ts
 * import { LogFrameDecoder } from "./log_frames.ts";
 * const bytes = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
 * const frames = ReadableStream.from([bytes]).pipeThrough(new LogFrameDecoder());
 * for await (const frame of frames) console.log(frame.stream); // stdout
 * ```
 */
export class LogFrameDecoder extends TransformStream<Uint8Array, LogFrame> {
  /** Creates the decoder. */
  constructor() {
    let pending: Uint8Array = new Uint8Array(0);
    super({
      transform(chunk, controller) {
        pending = pending.length ? concat(pending, chunk) : chunk;
        let offset = 0;
        while (pending.length - offset >= HEADER) {
          const type = pending[offset]!;
          const stream = STREAMS[type];
          if (!stream || pending[offset + 1] || pending[offset + 2] || pending[offset + 3]) {
            throw new TypeError(
              `Invalid log frame header (stream byte ${type}): is the container attached to a TTY?`,
            );
          }
          const view = new DataView(pending.buffer, pending.byteOffset + offset + 4, 4);
          const size = view.getUint32(0);
          if (size > MAX_LOG_FRAME_BYTES) {
            throw new TypeError(
              `Log frame of ${size} bytes announced: more than the ${MAX_LOG_FRAME_BYTES} accepted`,
            );
          }
          if (pending.length - offset - HEADER < size) break;
          const start = offset + HEADER;
          controller.enqueue({ stream, data: pending.slice(start, start + size) });
          offset = start + size;
        }
        pending = pending.slice(offset);
      },
      flush() {
        if (pending.length) {
          throw new TypeError(`Log stream ended inside a frame (${pending.length} bytes left)`);
        }
      },
    });
  }
}

/** Decodes a complete buffer of multiplexed bytes into frames. */
export async function decodeLogFrames(bytes: Uint8Array): Promise<LogFrame[]> {
  const frames: LogFrame[] = [];
  for await (const frame of ReadableStream.from([bytes]).pipeThrough(new LogFrameDecoder())) {
    frames.push(frame);
  }
  return frames;
}

/** Joins the frames of the given streams into text (invalid UTF-8 replaced). */
export function framesToText(
  frames: LogFrame[],
  streams: LogStream[] = ["stdout", "stderr"],
): string {
  const decoder = new TextDecoder();
  return frames.filter((f) => streams.includes(f.stream)).map((f) => decoder.decode(f.data))
    .join("");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
