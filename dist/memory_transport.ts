/**
 * An in-memory {@linkcode Transport} for tests: no sockets, no permissions,
 * and links that a test can cut or stall deterministically.
 *
 * @module
 */
import type { Address, Connection, Listener, Transport } from "./transport.ts";
import { describe, InvalidArgumentError } from "../actor/errors.ts";

/** One end of an in-memory connection, with controls for tests. */
export interface MemoryConnection extends Connection {
  /**
   * Stops delivering bytes to this end until {@linkcode MemoryConnection.resume}:
   * a frozen peer. As with TCP, once more than a window (256 KiB) of bytes
   * waits for it, the other end's writes wait too.
   */
  stall(): void;
  /** Delivers what was held back by {@linkcode MemoryConnection.stall}. */
  resume(): void;
  /**
   * Breaks the link silently at this end: nothing more arrives here and
   * what this end writes is dropped, and neither end is told. Closing this
   * end later (as a heartbeat timeout does) still ends the other end's
   * stream, as a live host's RST would; cut both ends for a peer that
   * vanished.
   *
   * With `closeUnseen`, closing this end later is not seen at the other end
   * either, as when the FIN is lost in a partition: the other end learns of
   * it only when it writes, which fails and ends its stream (the RST a host
   * sends for a connection it has closed), unless that end is cut too.
   *
   * @example
   * ```ts
   * import { type MemoryConnection, MemoryTransport } from "./memory_transport.ts";
   * const t = new MemoryTransport();
   * const listener = await t.listen({ host: "mem", port: 0 });
   * const client = await t.connect(listener.addr) as MemoryConnection;
   * const server = (await listener.accept())!;
   * client.cut({ closeUnseen: true });
   * client.close(); // the server is not told...
   * let failed = false;
   * await server.write(new Uint8Array([1])).catch(() => failed = true);
   * if (!failed) throw new Error(); // ...until it writes
   * if (await server.read(new Uint8Array(8)) !== null) throw new Error();
   * server.close(); listener.close();
   * ```
   */
  cut(options?: { closeUnseen?: boolean }): void;
}

/** Bytes a pipe holds before its writer has to wait, like a TCP window. */
const WINDOW_BYTES = 256 * 1024;

class Pipe {
  chunks: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  stalled = false;
  // Its reader closed without the writer being told (cut, closeUnseen).
  unseenClose = false;
  waiter: (() => void) | undefined;
  writers: (() => void)[] = [];
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
  /** Lets waiting writers go once the window has room, or the pipe ended. */
  wakeWriters(): void {
    if (this.bytes > WINDOW_BYTES && !this.ended) return;
    const writers = this.writers;
    this.writers = [];
    for (const w of writers) w();
  }
}

function end(
  inbox: Pipe,
  outbox: Pipe,
  remoteAddr: Address,
  onClose: () => void,
): MemoryConnection {
  let closed = false;
  let cut = false;
  let closeUnseen = false;
  return {
    remoteAddr,
    async read(buffer: Uint8Array): Promise<number | null> {
      for (;;) {
        if (closed) return null;
        if (!inbox.stalled && !cut && inbox.chunks.length > 0) {
          const chunk = inbox.chunks[0]!;
          const n = Math.min(chunk.length, buffer.length);
          buffer.set(chunk.subarray(0, n));
          if (n === chunk.length) inbox.chunks.shift();
          else inbox.chunks[0] = chunk.subarray(n);
          inbox.bytes -= n;
          inbox.wakeWriters();
          return n;
        }
        if (inbox.ended && inbox.chunks.length === 0) return null;
        await new Promise<void>((resolve) => inbox.waiter = resolve);
      }
    },
    write(bytes: Uint8Array): Promise<void> {
      if (closed) return Promise.reject(new Error("connection closed"));
      if (outbox.unseenClose) {
        if (cut) return Promise.resolve();
        // The peer's host answers with a RST: this end's stream ends too.
        inbox.ended = true;
        inbox.wake();
        return Promise.reject(new Error("connection reset"));
      }
      if (outbox.ended) return Promise.reject(new Error("connection closed"));
      if (cut) return Promise.resolve();
      outbox.chunks.push(bytes.slice());
      outbox.bytes += bytes.length;
      outbox.wake();
      if (outbox.bytes <= WINDOW_BYTES) return Promise.resolve();
      return new Promise<void>((resolve) => outbox.writers.push(resolve));
    },
    close(): void {
      if (closed) return;
      closed = true;
      if (closeUnseen) {
        inbox.unseenClose = true;
        // This end's own writes waiting for room end with it.
        const writers = outbox.writers;
        outbox.writers = [];
        for (const w of writers) w();
      } else {
        outbox.ended = true;
        outbox.wake();
        outbox.wakeWriters();
      }
      inbox.wake();
      inbox.ended = true;
      // Nothing reads this end any more; what came in unread goes (the
      // transport keeps every end it made, for tests to look at).
      inbox.chunks = [];
      inbox.bytes = 0;
      inbox.wakeWriters();
      onClose();
    },
    stall(): void {
      inbox.stalled = true;
    },
    resume(): void {
      inbox.stalled = false;
      inbox.wake();
    },
    cut(options?: { closeUnseen?: boolean }): void {
      cut = true;
      if (options?.closeUnseen === true) closeUnseen = true;
    },
  };
}

/**
 * A transport whose listeners live in this object only: two nodes given the
 * same `MemoryTransport` can reach each other; nothing else can.
 *
 * @example
 * ```ts
 * import { MemoryTransport } from "./memory_transport.ts";
 * const t = new MemoryTransport();
 * const listener = await t.listen({ host: "mem", port: 0 });
 * const client = await t.connect(listener.addr);
 * const server = (await listener.accept())!;
 * await client.write(new Uint8Array([1, 2, 3]));
 * const buf = new Uint8Array(8);
 * if (await server.read(buf) !== 3) throw new Error();
 * client.close(); server.close(); listener.close();
 * ```
 */
export class MemoryTransport implements Transport {
  #listeners = new Map<
    string,
    { queue: Connection[]; waiter: (() => void) | undefined; closed: boolean }
  >();
  #nextPort = 1;
  /** Every connection end made so far, newest last (both ends of each pair). */
  readonly connections: MemoryConnection[] = [];

  /**
   * Listens on `addr` (port 0 picks a free one, from 1 to 65535 in turn, so
   * the ports of closed listeners come round again as with TCP: a port past
   * 65535 could not travel in a peer list).
   */
  listen(addr: Address): Promise<Listener> {
    const bad = addressError(addr, true);
    if (bad !== undefined) return Promise.reject(bad);
    const port = addr.port === 0 ? this.#freePort(addr.host) : addr.port;
    if (port === undefined) {
      return Promise.reject(new Error(`no free port on ${addr.host}`));
    }
    const key = `${addr.host}:${port}`;
    if (this.#listeners.has(key)) {
      return Promise.reject(new Error(`address in use: ${key}`));
    }
    const state = {
      queue: [] as Connection[],
      waiter: undefined as (() => void) | undefined,
      closed: false,
    };
    this.#listeners.set(key, state);
    const listeners = this.#listeners;
    return Promise.resolve({
      addr: { host: addr.host, port },
      async accept(): Promise<Connection | null> {
        for (;;) {
          if (state.closed) return null;
          const conn = state.queue.shift();
          if (conn !== undefined) return conn;
          await new Promise<void>((resolve) => state.waiter = resolve);
        }
      },
      close(): void {
        if (state.closed) return;
        state.closed = true;
        listeners.delete(key);
        for (const c of state.queue) c.close();
        state.queue.length = 0;
        const w = state.waiter;
        state.waiter = undefined;
        w?.();
      },
    });
  }

  #freePort(host: string): number | undefined {
    for (let tries = 0; tries < 65535; tries++) {
      const port = this.#nextPort;
      this.#nextPort = port === 65535 ? 1 : port + 1;
      if (!this.#listeners.has(`${host}:${port}`)) return port;
    }
    return undefined;
  }

  /** Connects to a listener of this transport. */
  connect(addr: Address): Promise<Connection> {
    const bad = addressError(addr, false);
    if (bad !== undefined) return Promise.reject(bad);
    const state = this.#listeners.get(`${addr.host}:${addr.port}`);
    if (state === undefined || state.closed) {
      return Promise.reject(
        new Error(`connection refused: ${addr.host}:${addr.port}`),
      );
    }
    const a = new Pipe();
    const b = new Pipe();
    let open = 2;
    const done = () => void --open;
    const client = end(a, b, addr, done);
    const server = end(b, a, { host: "memory", port: 0 }, done);
    this.connections.push(client, server);
    state.queue.push(server);
    const w = state.waiter;
    state.waiter = undefined;
    w?.();
    return Promise.resolve(client);
  }
}

/** Why `addr` is no `{ host, port }` (port 0 only to listen), or undefined. */
function addressError(
  addr: unknown,
  listening: boolean,
): InvalidArgumentError | undefined {
  const { host, port } =
    (typeof addr === "object" && addr !== null ? addr : {}) as {
      host?: unknown;
      port?: unknown;
    };
  if (
    typeof host === "string" && host.length > 0 &&
    typeof port === "number" && Number.isInteger(port) &&
    port >= (listening ? 0 : 1) && port <= 65535
  ) return undefined;
  return new InvalidArgumentError(
    "address",
    `expected { host, port } with a host name and a port from ${
      listening ? 0 : 1
    } to 65535, got ${describe(addr)}`,
  );
}
