/**
 * Decoder of the engine's streamed JSON progress (image build, import and
 * pull): one JSON object per line, split across chunks anywhere.
 *
 * @module
 */

/** One progress message of the engine. */
export interface ProgressMessage {
  /** Build output, e.g. `Step 2/7 : RUN ...\n`. */
  stream?: string;
  /** A status line, e.g. `Downloading` or an imported image's id. */
  status?: string;
  /** The layer or item the status is about. */
  id?: string;
  /** A rendered progress bar. */
  progress?: string;
  /** Progress in numbers. */
  progressDetail?: { current?: number; total?: number };
  /** Set when the operation failed. */
  error?: string;
  /** Details of the failure. */
  errorDetail?: { code?: number; message?: string };
  /** Extra results, e.g. `{ ID: "sha256:..." }` for a built image. */
  aux?: { ID?: string; [key: string]: unknown };
}

/** The longest progress line read (the engine's are far shorter). */
const MAX_PROGRESS_LINE = 1024 * 1024;

/**
 * A stream transformer from raw progress bytes to parsed messages. A line
 * that is not a JSON object becomes `{ stream: line }`, so nothing is lost.
 *
 * @example
 * ```ts
 * import { JsonProgressDecoder } from "./json_progress.ts";
 * const bytes = new TextEncoder().encode('{"stream":"Step 1/2 : FROM x\\n"}\r\n{"aux":{"ID":"sha256:1"}}\r\n');
 * const messages = ReadableStream.from([bytes]).pipeThrough(new JsonProgressDecoder());
 * for await (const m of messages) console.log(m);
 * ```
 */
export class JsonProgressDecoder extends TransformStream<Uint8Array, ProgressMessage> {
  /** Creates the decoder. */
  constructor() {
    const decoder = new TextDecoder();
    let pending = "";
    const emit = (line: string, controller: TransformStreamDefaultController<ProgressMessage>) => {
      const text = line.trim();
      if (!text) return;
      try {
        const value = JSON.parse(text);
        controller.enqueue(
          value && typeof value === "object" && !Array.isArray(value)
            ? value as ProgressMessage
            : { stream: text },
        );
      } catch {
        controller.enqueue({ stream: text });
      }
    };
    super({
      transform(chunk, controller) {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) emit(line, controller);
        if (pending.length > MAX_PROGRESS_LINE) {
          throw new TypeError(
            `Docker engine sent a progress line of more than ${MAX_PROGRESS_LINE} characters`,
          );
        }
      },
      flush(controller) {
        pending += decoder.decode();
        emit(pending, controller);
      },
    });
  }
}

/** The failure a message reports, if any. */
export function progressError(message: ProgressMessage): string | undefined {
  return message.error ?? message.errorDetail?.message;
}

/** A message as one line of readable text (empty when it carries no text). */
export function progressText(message: ProgressMessage): string {
  const error = progressError(message);
  if (error) return `ERROR: ${error}`;
  if (message.stream !== undefined) return message.stream.replace(/\n$/, "");
  if (message.status !== undefined) {
    return [message.id, message.status, message.progress].filter(Boolean).join(" ");
  }
  return "";
}
