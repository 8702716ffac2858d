/**
 * A Pod's port on a local 127.0.0.1 port, through the API server's
 * `portforward` subresource over WebSocket (protocol `v4.channel.k8s.io`,
 * no SPDY): each local TCP connection gets its own WebSocket; binary frames
 * carry a channel byte (0 data, 1 error) and the server starts each channel
 * with the port as two bytes.
 *
 * @module
 */
import type { KubernetesClient } from "./client.ts";

/** The subprotocol envtorch speaks (binary frames, the same in v1.20 and current releases). */
export const PORT_FORWARD_PROTOCOL = "v4.channel.k8s.io";

/** Options of {@link PortForward.open}. */
export interface PortForwardOptions {
  /** Namespace of the Pod. */
  namespace: string;
  /** Pod name. */
  pod: string;
  /** The Pod's port. */
  port: number;
  /**
   * Local port on 127.0.0.1; 0 picks a free one.
   * @default 0
   */
  localPort?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/**
 * Forwards 127.0.0.1:`port` to a Pod's port while open.
 *
 * @example
 * ```ts ignore
 * await using forward = PortForward.open(kube, { namespace: "default", pod: "echo", port: 8000 });
 * const res = await fetch(`${forward.baseUrl}/health`);
 * ```
 */
export class PortForward implements AsyncDisposable {
  /** The local port. */
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly baseUrl: string;
  #kube: KubernetesClient;
  #options: PortForwardOptions;
  #listener: Deno.TcpListener;
  #conns = new Set<Deno.TcpConn>();
  #sockets = new Set<WebSocket>();
  #gone?: string;
  #lastError?: string;
  #closed = false;
  #accepting: Promise<void>;

  private constructor(kube: KubernetesClient, options: PortForwardOptions) {
    this.#kube = kube;
    this.#options = options;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: options.localPort ?? 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    this.#accepting = this.#accept();
  }

  /** Starts listening on 127.0.0.1; connections are forwarded as they come. */
  static open(kube: KubernetesClient, options: PortForwardOptions): PortForward {
    return new PortForward(kube, options);
  }

  /** The last error the API server or kubelet reported on a forwarded connection, if any. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /**
   * Marks the Pod gone: open connections are closed, and new ones are
   * answered `502` with `reason` (so an HTTP client sees why, not a hang).
   */
  markGone(reason: string): void {
    if (this.#gone) return;
    this.#gone = reason;
    for (const ws of this.#sockets) ws.close();
  }

  async #accept(): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // closed
      }
      this.#conns.add(conn);
      conn.setNoDelay(true);
      void this.#serve(conn).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed already */ }
      });
    }
  }

  async #refuse(conn: Deno.Conn, reason: string): Promise<void> {
    const body = JSON.stringify({ detail: reason, code: "CONNECTION_ERROR" });
    const head = `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\n` +
      `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n`;
    await writeAll(conn, encoder.encode(head + body)).catch(() => {});
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const { namespace, pod, port } = this.#options;
    const where = `Pod ${namespace}/${pod}`;
    if (this.#gone) return await this.#refuse(conn, `${where} is gone: ${this.#gone}`);
    let ws: WebSocket;
    try {
      ws = this.#kube.websocket(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${
          encodeURIComponent(pod)
        }/portforward`,
        { query: { ports: port }, protocols: [PORT_FORWARD_PROTOCOL] },
      );
    } catch (error) {
      return await this.#refuse(conn, `Cannot forward to ${where}: ${(error as Error).message}`);
    }
    ws.binaryType = "arraybuffer";
    this.#sockets.add(ws);
    const seen = [false, false];
    let errorText = "";
    let wrote = false;
    let writes = Promise.resolve();
    const opened = new Promise<boolean>((resolve) => {
      ws.onopen = () => resolve(true);
      ws.onclose = () => resolve(false);
    });
    const closed = new Promise<void>((resolve) => {
      ws.addEventListener("close", () => resolve());
    });
    ws.onerror = (event) => {
      const message = (event as ErrorEvent).message;
      if (message) this.#lastError = message;
    };
    ws.onmessage = (event) => {
      const frame = new Uint8Array(event.data as ArrayBuffer);
      const channel = frame[0];
      let payload = frame.subarray(1);
      if (channel === 0 || channel === 1) {
        if (!seen[channel]) {
          seen[channel] = true;
          payload = payload.subarray(2); // the port, once per channel
        }
      }
      if (!payload.length) return;
      if (channel === 0) {
        wrote = true;
        writes = writes.then(() => writeAll(conn, payload)).catch(() => ws.close());
      } else if (channel === 1) {
        errorText += decoder.decode(payload);
        this.#lastError = errorText;
      }
    };
    const pump = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          if (!(await opened) || ws.readyState !== WebSocket.OPEN) break;
          const frame = new Uint8Array(n + 1);
          frame[0] = 0;
          frame.set(buffer.subarray(0, n), 1);
          ws.send(frame);
        }
      } catch { /* the local side went away */ }
      ws.close();
    })();
    const ok = await opened;
    await closed;
    this.#sockets.delete(ws);
    await writes;
    if (!ok && !wrote) {
      // The upgrade failed (the Pod is gone, or no rights to forward): say why.
      const reason = this.#gone
        ? `${where} is gone: ${this.#gone}`
        : `Cannot forward to ${where}${this.#lastError ? `: ${this.#lastError}` : ""}`;
      await this.#refuse(conn, reason);
    }
    try {
      conn.close();
    } catch { /* closed already */ }
    await pump;
  }

  /** Stops listening and closes every forwarded connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const ws of this.#sockets) ws.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    await this.#accepting;
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
