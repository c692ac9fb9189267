/**
 * The byte-stream seam under distribution. A {@linkcode Transport} listens
 * and connects; a {@linkcode Connection} is a duplex byte stream. Sessions
 * see only these interfaces, so TCP, TLS (`Deno.listenTls`/`connectTls`), a
 * WebSocket or the in-memory transport of the tests plug in unchanged.
 *
 * TLS is `tlsTransport` (`tls_transport.ts`), on `node:tls`: Deno's own
 * `TlsConn` has no `setNoDelay`, and with Nagle's algorithm on, two small
 * writes then a read took 44 ms a round here, against 43 µs over TCP with
 * `TCP_NODELAY`.
 *
 * @module
 */

/** A host and port. */
export interface Address {
  /** Host name or IP address. */
  readonly host: string;
  /** Port number; `0` asks the OS to choose when listening. */
  readonly port: number;
}

/**
 * A duplex byte stream.
 *
 * Contract: `read` fills `buffer` from the start and resolves with the number
 * of bytes read, or `null` at end of stream; reads are never concurrent.
 * `write` resolves once all of `bytes` is handed to the OS (the caller may
 * reuse `bytes` after that) and rejects if the stream is broken; writes are
 * never concurrent. `close` is idempotent and makes a pending `read` resolve
 * `null` or reject; it never throws.
 */
export interface Connection {
  /** Reads into `buffer`; `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions. */
  close(): void;
  /** The peer's address, as far as the transport knows it. */
  readonly remoteAddr: Address;
  /**
   * Whether a read resolves only through the host's event loop, as a
   * socket's does, so the host keeps serving its timers and other I/O
   * while reads keep coming. A session then tells its runtime of each read,
   * which spares it the host timer it would otherwise set every few
   * milliseconds to give the host a turn (fairness, see `RuntimeOptions`).
   * Leave it out for a connection whose reads can resolve in microtasks
   * alone, such as the in-memory one: processes woken by its reads would
   * keep the host from its timers.
   */
  readonly readsInHostTurns?: boolean;
  /**
   * For a connection whose `close` takes time (TLS lets its last bytes
   * leave first): resolves once it has closed, never rejects. A session
   * counts as done, and a node as stopped, only after it resolves, so
   * nothing of the connection outlives them. Leave it out if `close` is
   * immediate.
   */
  readonly closed?: Promise<void>;
}

/**
 * A listening endpoint. Contract: `accept` resolves with the next incoming
 * connection, or `null` once the listener is closed; `close` is idempotent.
 */
export interface Listener {
  /** The address actually bound (the chosen port when 0 was asked). */
  readonly addr: Address;
  /** The next connection, or `null` after `close`. */
  accept(): Promise<Connection | null>;
  /** Stops listening. Connections already accepted stay open. */
  close(): void;
}

/** Options of {@linkcode Transport.connect}. */
export interface TransportConnectOptions {
  /**
   * Aborted when the node gives up on this connection: its setup deadline
   * (`handshakeTimeout`) has passed, or the node is stopping. The transport
   * should then stop trying and reject. A node does not wait for that: a
   * connection that comes after it gave up is closed at once.
   */
  readonly signal?: AbortSignal;
}

/** Listens and connects. */
export interface Transport {
  /** Starts listening on `addr`. */
  listen(addr: Address): Promise<Listener>;
  /** Opens a connection to `addr`; rejects if it cannot. */
  connect(
    addr: Address,
    options?: TransportConnectOptions,
  ): Promise<Connection>;
}

/**
 * TCP on `Deno.listen`/`Deno.connect`, with `TCP_NODELAY` on so small frames
 * leave at once. Needs `--allow-net` for the addresses used.
 *
 * @example
 * ```ts ignore
 * import { tcpTransport } from "./transport.ts";
 * const transport = tcpTransport();
 * const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export function tcpTransport(): Transport {
  return {
    listen(addr: Address): Promise<Listener> {
      const listener = Deno.listen({
        hostname: addr.host,
        port: addr.port,
        transport: "tcp",
      });
      const local = listener.addr as Deno.NetAddr;
      let closed = false;
      return Promise.resolve({
        addr: { host: local.hostname, port: local.port },
        async accept(): Promise<Connection | null> {
          if (closed) return null;
          try {
            return wrapTcp(await listener.accept());
          } catch (error) {
            if (closed) return null;
            throw error;
          }
        },
        close(): void {
          if (closed) return;
          closed = true;
          try {
            listener.close();
          } catch { /* already closed */ }
        },
      });
    },
    async connect(
      addr: Address,
      options?: TransportConnectOptions,
    ): Promise<Connection> {
      return wrapTcp(
        await Deno.connect({
          hostname: addr.host,
          port: addr.port,
          transport: "tcp",
          ...(options?.signal === undefined ? {} : { signal: options.signal }),
        }),
      );
    },
  };
}

function wrapTcp(conn: Deno.TcpConn): Connection {
  conn.setNoDelay(true);
  const remote = conn.remoteAddr;
  let closed = false;
  const writeRest = async (rest: Uint8Array): Promise<void> => {
    let off = 0;
    while (off < rest.length) off += await conn.write(rest.subarray(off));
  };
  return {
    remoteAddr: { host: remote.hostname, port: remote.port },
    // Deno resolves a socket read from its event loop, which also fires
    // due timers while reads keep coming (a 5 ms timer under a flood of
    // reads fired at most 9 ms late here).
    readsInHostTurns: true,
    // Deno's own promises, not async wrappers: a wrapper costs a microtask
    // and an allocation on every read and write, about 4% of a round trip
    // between two nodes in one process. A read pending when we close
    // rejects, as the Connection contract allows.
    read(buffer: Uint8Array): Promise<number | null> {
      if (closed) return Promise.resolve(null);
      return conn.read(buffer);
    },
    write(bytes: Uint8Array): Promise<void> {
      return conn.write(bytes).then((n) =>
        n === bytes.length ? undefined : writeRest(bytes.subarray(n))
      );
    },
    close(): void {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch { /* already closed */ }
    },
  };
}
