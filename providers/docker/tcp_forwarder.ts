/**
 * A port on 127.0.0.1 that forwards every connection to a unix socket: how
 * the Docker provider publishes a container's server while the container
 * keeps no network at all (`NetworkMode: none`). Bytes are copied as they
 * are, so HTTP and WebSocket both work through it.
 *
 * @module
 */

/** Options of {@link TcpForwarder.listen}. */
export interface TcpForwarderOptions {
  /** The unix socket every connection is forwarded to. */
  socketPath: string;
  /**
   * Port on 127.0.0.1; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Address to listen on. Only loopback addresses are accepted.
   * @default "127.0.0.1"
   */
  hostname?: string;
  /**
   * Most connections forwarded at once; more are closed as they arrive.
   * @default 512
   */
  maxConnections?: number;
}

/**
 * Listens on 127.0.0.1 and pipes each connection to a unix socket, both
 * ways, until either side closes.
 *
 * @example
 * ```ts ignore
 * import { TcpForwarder } from "./tcp_forwarder.ts";
 * await using forwarder = TcpForwarder.listen({ socketPath: "/tmp/x/env.sock" });
 * console.log(`http://127.0.0.1:${forwarder.port}`);
 * ```
 */
export class TcpForwarder implements AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  /** The address it listens on. */
  readonly hostname: string;
  #listener: Deno.TcpListener;
  #socketPath: string;
  #max: number;
  #open = new Set<Deno.Conn>();
  #pipes = new Set<Promise<void>>();
  #accepting: Promise<void>;
  #closed = false;

  private constructor(listener: Deno.TcpListener, options: TcpForwarderOptions) {
    this.#listener = listener;
    this.#socketPath = options.socketPath;
    this.#max = options.maxConnections ?? 512;
    this.port = listener.addr.port;
    this.hostname = listener.addr.hostname;
    this.#accepting = this.#accept();
  }

  /** Starts listening (throws `Deno.errors.AddrInUse` for a taken port). */
  static listen(options: TcpForwarderOptions): TcpForwarder {
    const hostname = options.hostname ?? "127.0.0.1";
    if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(hostname)) {
      throw new TypeError(`The forwarder listens on loopback only, not ${hostname}`);
    }
    const listener = Deno.listen({ hostname, port: options.port ?? 0, transport: "tcp" });
    return new TcpForwarder(listener, options);
  }

  /** Connections being forwarded now. */
  get connections(): number {
    return this.#open.size / 2;
  }

  async #accept(): Promise<void> {
    while (true) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      if (this.#closed || this.#open.size / 2 >= this.#max) {
        client.close();
        continue;
      }
      const pipe = this.#forward(client);
      this.#pipes.add(pipe);
      pipe.finally(() => this.#pipes.delete(pipe));
    }
  }

  async #forward(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.UnixConn;
    try {
      upstream = await Deno.connect({ transport: "unix", path: this.#socketPath });
    } catch {
      client.close();
      return;
    }
    this.#open.add(client);
    this.#open.add(upstream);
    const copy = async (from: Deno.Conn, to: Deno.TcpConn | Deno.UnixConn) => {
      // A plain read/write loop: about half the added latency of piping the connections' streams.
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          for (let offset = 0; offset < n;) offset += await to.write(buffer.subarray(offset, n));
        }
        await to.closeWrite();
      } catch {
        // Either side went away: both are closed below.
      }
    };
    // Both directions end, or one fails; then both connections close.
    await Promise.race([
      Promise.all([copy(client, upstream), copy(upstream, client)]),
      new Promise<void>((resolve) => this.#whenClosed.push(resolve)),
    ]);
    for (const conn of [client, upstream]) {
      this.#open.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  #whenClosed: (() => void)[] = [];

  /** Stops listening and closes every forwarded connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const resolve of this.#whenClosed.splice(0)) resolve();
    await this.#accepting;
    await Promise.allSettled([...this.#pipes]);
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
