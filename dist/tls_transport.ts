/**
 * TLS under distribution: {@linkcode tlsTransport} encrypts every connection
 * between nodes and checks both ends' certificates, as Erlang's
 * `inet_tls_dist` does. The cookie handshake still runs inside it.
 *
 * Built on `node:tls`, not on `Deno.listenTls`: a `Deno.TlsConn` cannot turn
 * Nagle's algorithm off, and with it on a frame written right after another
 * waits for the peer's delayed ACK (44 ms a round trip here, against 0.14 ms
 * with `TCP_NODELAY`). Deno's `node:tls` has flaws of its own, worked around
 * here: it takes every write at once without limit, a paused socket never
 * sees its peer close, and `destroy()` drops what it still holds. So the
 * stream travels in records with credit (docs/protocol.md, "Over TLS"), the
 * socket is never paused, and a connection closes with `end()`. One flaw is
 * not worked around: a `node:net` server that once fails to accept for want
 * of file descriptors stops accepting for good, with no `error` event (Deno
 * 2.9.6), where the TCP transport's listener is tried again. Give a TLS node
 * a file limit well above the connections it may see.
 *
 * @module
 */

import tls from "node:tls";
import type { TLSSocket } from "node:tls";
import { describe, InvalidArgumentError } from "../actor/errors.ts";
import { ProtocolError } from "./errors.ts";
import type {
  Address,
  Connection,
  Listener,
  Transport,
  TransportConnectOptions,
} from "./transport.ts";

/** Options of {@linkcode tlsTransport}. PEM text throughout. */
export interface TlsTransportOptions {
  /**
   * This node's certificate (chain), shown to the nodes it accepts and,
   * for mutual TLS, to those it connects to. It must name every address
   * others dial it by (host name or IP, in its subjectAltName).
   */
  readonly cert: string;
  /** The private key of `cert`. */
  readonly key: string;
  /**
   * The certificate authorities a peer's certificate must chain to. Default:
   * the runtime's public roots, which suit public host names only; a
   * cluster usually has a CA of its own.
   */
  readonly ca?: string | readonly string[];
  /**
   * Whether an accepting node asks for the connecting node's certificate
   * and refuses one that does not chain to `ca` (mutual TLS, Erlang's
   * `verify_peer` on both sides). Default `true`.
   */
  readonly verifyClient?: boolean;
  /**
   * Milliseconds a TLS handshake may take before the connection is dropped.
   * Default 5 000, as a node's own handshake deadline.
   */
  readonly handshakeTimeout?: number;
  /**
   * Called with each incoming connection dropped in its TLS handshake (a
   * certificate that does not verify, no TLS spoken, or too slow), and
   * where from (`{ host: "", port: 0 }` if the peer had already gone). These
   * never reach the node, whose logger does not see them. Default: nothing.
   */
  readonly onRefused?: (error: Error, from: Address) => void;
}

/**
 * A {@linkcode Transport} over TLS (`node:tls`), with `TCP_NODELAY` on both
 * ends. Every node of a cluster uses it, with certificates from one CA; a
 * connection whose certificate does not verify (untrusted, expired, or not
 * for the address dialled) never reaches the node's handshake, and the node
 * goes on serving the others. Needs `--allow-net` for the addresses used,
 * and `--allow-read` to read certificate files.
 *
 * @example
 * ```ts ignore
 * import { startNode, tlsTransport } from "./mod.ts";
 * const transport = tlsTransport({
 *   cert: await Deno.readTextFile("node.pem"),
 *   key: await Deno.readTextFile("node-key.pem"),
 *   ca: await Deno.readTextFile("ca.pem"),
 * });
 * await using node = await startNode({ name: "a@10.0.0.1", cookie: "c", transport });
 * ```
 */
export function tlsTransport(options: TlsTransportOptions): Transport {
  const { cert, key, ca } = checkOptions(options);
  const verifyClient = options.verifyClient ?? true;
  // Longer than a timer can wait is as good as never.
  const handshakeTimeout = Math.min(
    options.handshakeTimeout ?? 5_000,
    MAX_TIMEOUT_MS,
  );
  const onRefused = options.onRefused;
  return {
    listen(addr: Address): Promise<Listener> {
      return listenTls(
        addr,
        {
          cert,
          key,
          ...(ca === undefined ? {} : { ca }),
          requestCert: verifyClient,
          rejectUnauthorized: verifyClient,
        },
        handshakeTimeout,
        onRefused,
      );
    },
    connect(
      addr: Address,
      options?: TransportConnectOptions,
    ): Promise<Connection> {
      return connectTls(addr, {
        // Shown when the acceptor asks (mutual TLS).
        cert,
        key,
        ...(ca === undefined ? {} : { ca }),
        timeout: handshakeTimeout,
      }, options?.signal);
    },
  };
}

function checkOptions(
  options: TlsTransportOptions,
): { cert: string; key: string; ca: string[] | undefined } {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(
      "options",
      `expected { cert, key, ca? } (PEM text), got ${describe(options)}`,
    );
  }
  const pem = (value: unknown, what: string): string => {
    if (typeof value !== "string" || !value.includes("-----BEGIN ")) {
      throw new InvalidArgumentError(
        what,
        `expected PEM text (-----BEGIN ...), got ${describe(value)}`,
      );
    }
    return value;
  };
  const cert = pem(options.cert, "cert");
  const key = pem(options.key, "key");
  let ca: string[] | undefined;
  if (options.ca !== undefined) {
    const list = typeof options.ca === "string" ? [options.ca] : options.ca;
    if (!Array.isArray(list)) {
      throw new InvalidArgumentError(
        "ca",
        `expected PEM text or an array of it, got ${describe(options.ca)}`,
      );
    }
    ca = list.map((c, i) => pem(c, `ca[${i}]`));
  }
  const { verifyClient, handshakeTimeout, onRefused } = options;
  if (onRefused !== undefined && typeof onRefused !== "function") {
    throw new InvalidArgumentError(
      "onRefused",
      `expected a function, got ${describe(onRefused)}`,
    );
  }
  if (verifyClient !== undefined && typeof verifyClient !== "boolean") {
    throw new InvalidArgumentError(
      "verifyClient",
      `expected a boolean, got ${describe(verifyClient)}`,
    );
  }
  if (
    handshakeTimeout !== undefined &&
    !(Number.isInteger(handshakeTimeout) && handshakeTimeout > 0)
  ) {
    throw new InvalidArgumentError(
      "handshakeTimeout",
      `expected a positive whole number of ms, got ${
        describe(handshakeTimeout)
      }`,
    );
  }
  return { cert, key, ca };
}

function listenTls(
  addr: Address,
  options: tls.TlsOptions,
  handshakeTimeout: number,
  onRefused: TlsTransportOptions["onRefused"],
): Promise<Listener> {
  const queue: Connection[] = [];
  let waiter: (() => void) | undefined;
  let closed = false;
  const refused = (error: Error, from: Address) => {
    if (onRefused === undefined) return;
    try {
      onRefused(error, from);
    } catch { /* the caller's callback: it must not take the listener down */ }
  };
  // Sockets still in their TLS handshake, by remote address, each with its
  // deadline (Deno's node:tls reports its own handshakeTimeout but leaves
  // the socket open): nobody else knows of them, so closing the listener
  // ends them.
  const handshaking = new Map<
    string,
    { raw: { destroy(): void }; timer: ReturnType<typeof setTimeout> }
  >();
  // Sockets this listener ended itself (timed out): their hang-ups, which
  // come with the address gone, are not news.
  let hangups = 0;
  const drop = (at: string) => {
    const pending = handshaking.get(at);
    if (pending === undefined) return;
    hangups++;
    settled(at);
    pending.raw.destroy();
  };
  const settled = (at: string) => {
    const pending = handshaking.get(at);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    handshaking.delete(at);
  };
  const server = tls.createServer(options, (socket: TLSSocket) => {
    settled(`${socket.remoteAddress}|${socket.remotePort}`);
    if (closed) return void socket.destroy();
    queue.push(wrap(socket));
    const w = waiter;
    waiter = undefined;
    w?.();
  });
  server.on("connection", (raw) => {
    const from = { host: raw.remoteAddress ?? "", port: raw.remotePort ?? 0 };
    const at = `${from.host}|${from.port}`;
    const timer = setTimeout(() => {
      drop(at);
      refused(
        new Error(
          `TLS handshake timed out after ${handshakeTimeout} ms`,
        ),
        from,
      );
    }, handshakeTimeout);
    handshaking.set(at, { raw, timer });
    raw.once("close", () => {
      if (handshaking.get(at)?.raw === raw) settled(at);
    });
  });
  // A peer whose certificate does not verify, or that speaks no TLS: only
  // that connection goes.
  server.on("tlsClientError", (error: Error, socket: TLSSocket) => {
    if (closed) return;
    if (hangups > 0 && (error as { code?: string }).code === "ECONNRESET") {
      hangups--;
      return;
    }
    refused(error, {
      host: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    });
  });
  return new Promise<Listener>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => {
      server.off("error", reject);
      server.on("error", () => {});
      const local = server.address() as { address: string; port: number };
      resolve({
        addr: { host: local.address, port: local.port },
        async accept(): Promise<Connection | null> {
          for (;;) {
            if (closed) return null;
            const next = queue.shift();
            if (next !== undefined) return next;
            await new Promise<void>((r) => waiter = r);
          }
        },
        close(): void {
          if (closed) return;
          closed = true;
          server.close();
          for (const at of [...handshaking.keys()]) drop(at);
          // Accepted, never taken: nobody will close them otherwise.
          for (const c of queue.splice(0)) c.close();
          const w = waiter;
          waiter = undefined;
          w?.();
        },
      });
    });
  });
}

function connectTls(
  addr: Address,
  options: tls.ConnectionOptions & { timeout: number },
  signal: AbortSignal | undefined,
): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = tls.connect({
      ...options,
      host: addr.host,
      port: addr.port,
      // SNI takes a host name, never an IP address.
      ...(isIp(addr.host) ? {} : { servername: addr.host }),
    });
    const abort = () => fail(signal!.reason);
    const fail = (error: Error) => {
      signal?.removeEventListener("abort", abort);
      socket.destroy();
      reject(error);
    };
    signal?.addEventListener("abort", abort);
    socket.setTimeout(options.timeout, () =>
      fail(
        new Error(
          `TLS handshake with ${addr.host}:${addr.port} timed out after ${options.timeout} ms`,
        ),
      ));
    socket.once("error", fail);
    socket.once("secureConnect", () => {
      signal?.removeEventListener("abort", abort);
      socket.setTimeout(0);
      socket.off("error", fail);
      resolve(wrap(socket));
    });
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

// Inside TLS the stream is cut into records, so that each end can grant the
// other credit: Deno's node:tls takes every write at once (no backpressure),
// and a paused socket never sees its peer close, so flow control is done
// here (docs/protocol.md, "Over TLS").
const DATA = 0x00;
const CREDIT = 0x01;
const RECORD_HEADER = 5;
/** Bytes an end may send beyond what the other has read. */
const WINDOW = 4 << 20;
/** Largest data record; a quarter of the window, so a waiting writer always gets credit. */
const MAX_RECORD = WINDOW / 4;
/** The reader grants credit once it has read this much since its last grant. */
const GRANT_EVERY = WINDOW / 4;
/** Data records up to this size are written with their header in one piece. */
const JOIN_BYTES = 16 * 1024;
/** How long a closing end waits for its last bytes to leave before it drops the socket. */
const CLOSE_GRACE_MS = 2_000;
/** Timers wait at most this (about 24.8 days): node:tls fires a longer one at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function header(type: number, n: number): Uint8Array {
  const h = new Uint8Array(RECORD_HEADER);
  h[0] = type;
  new DataView(h.buffer).setUint32(1, n);
  return h;
}

/** Pieces below this size are copied together rather than kept as views. */
const PACK_BELOW = 4096;
/** Largest buffer small pieces are packed into. */
const PACK_BYTES = 64 * 1024;

/**
 * What arrived and was not yet read, in order: large pieces as views of
 * what node:tls delivered, small ones packed into buffers of their own, so
 * a window of tiny records costs its bytes, not an object each.
 */
class ByteQueue {
  #parts: { buf: Uint8Array; start: number; end: number; packed: boolean }[] =
    [];
  #head = 0;
  // Size of the next packing buffer: it starts small after a large piece
  // and doubles while small pieces keep coming, so packing costs at most
  // about as much again as the bytes packed.
  #packSize = PACK_BELOW;
  /** Bytes queued. */
  size = 0;

  push(piece: Uint8Array): void {
    const n = piece.length;
    this.size += n;
    if (n >= PACK_BELOW) {
      this.#parts.push({ buf: piece, start: 0, end: n, packed: false });
      this.#packSize = PACK_BELOW;
      return;
    }
    const last = this.#parts.length > this.#head
      ? this.#parts[this.#parts.length - 1]!
      : undefined;
    if (last?.packed) {
      if (last.end + n <= last.buf.length) {
        last.buf.set(piece, last.end);
        last.end += n;
        return;
      }
      this.#packSize = Math.min(PACK_BYTES, this.#packSize * 2);
    }
    const buf = new Uint8Array(this.#packSize);
    buf.set(piece);
    this.#parts.push({ buf, start: 0, end: n, packed: true });
  }

  /** Moves up to `buffer.length` bytes into `buffer`, from its start; returns how many. */
  take(buffer: Uint8Array): number {
    const parts = this.#parts;
    let n = 0;
    while (n < buffer.length && this.#head < parts.length) {
      const part = parts[this.#head]!;
      const k = Math.min(part.end - part.start, buffer.length - n);
      buffer.set(part.buf.subarray(part.start, part.start + k), n);
      part.start += k;
      n += k;
      if (part.start < part.end) break;
      if (part.packed && this.#head === parts.length - 1) {
        part.start = part.end = 0; // the newest packing buffer: refill it
        break;
      }
      this.#head++;
    }
    if (this.#head === parts.length) {
      parts.length = this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= parts.length) {
      parts.splice(0, this.#head);
      this.#head = 0;
    }
    this.size -= n;
    return n;
  }

  clear(): void {
    this.#parts.length = this.#head = this.size = 0;
  }
}

/**
 * A TLS socket as a {@linkcode Connection}: reads take from the data records
 * its events delivered (at most a window ahead), writes wait for credit.
 */
function wrap(socket: TLSSocket): Connection {
  socket.setNoDelay(true);
  const remoteAddr = {
    host: socket.remoteAddress ?? "",
    port: socket.remotePort ?? 0,
  };
  const queue = new ByteQueue();
  let ended = false;
  let closed = false;
  let failure: Error | undefined;
  let reader: (() => void) | undefined;
  let writer: (() => void) | undefined;
  const wake = () => {
    const r = reader;
    reader = undefined;
    r?.();
    const w = writer;
    writer = undefined;
    w?.();
  };
  // Flow control, in data bytes: what we sent and what the peer granted;
  // what arrived, what the session read, and what we granted of it.
  let sent = 0;
  let granted = WINDOW;
  let arrived = 0;
  let read = 0;
  let grantedPeer = WINDOW;
  // The record being parsed.
  const head = new Uint8Array(RECORD_HEADER);
  let headBytes = 0;
  let dataLeft = 0;
  const broken = (message: string) => {
    failure ??= new ProtocolError(
      `${remoteAddr.host}:${remoteAddr.port}`,
      `TLS stream: ${message}`,
    );
    queue.clear();
    socket.destroy();
    wake();
  };
  socket.on("data", (data: Uint8Array) => {
    let at = 0;
    while (at < data.length && failure === undefined) {
      if (dataLeft > 0) {
        const take = Math.min(dataLeft, data.length - at);
        if (arrived + take > grantedPeer) {
          return broken("data beyond the credit given");
        }
        queue.push(data.subarray(at, at + take));
        dataLeft -= take;
        arrived += take;
        at += take;
        continue;
      }
      head[headBytes++] = data[at++]!;
      if (headBytes < RECORD_HEADER) continue;
      headBytes = 0;
      const n = new DataView(head.buffer).getUint32(1);
      if (head[0] === DATA && n > 0 && n <= MAX_RECORD) dataLeft = n;
      else if (head[0] === CREDIT && n > 0 && n <= WINDOW) granted += n;
      else return broken(`bad record (type ${head[0]}, ${n} bytes)`);
    }
    wake();
  });
  const end = () => {
    ended = true;
    wake();
  };
  socket.on("end", end);
  socket.on("close", end);
  // The stream just ends: the session reports the connection as closed.
  socket.on("error", end);
  const gone = new Promise<void>((resolve) =>
    socket.once("close", () => resolve())
  );
  const put = (bytes: Uint8Array): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      socket.write(bytes, (error) => error ? reject(error) : resolve());
    });
  return {
    remoteAddr,
    // A read resolves at once (in a microtask) while records wait unread,
    // so the runtime keeps its own timer to give the host turns.
    readsInHostTurns: false,
    closed: gone,
    async read(buffer: Uint8Array): Promise<number | null> {
      for (;;) {
        if (closed) return null;
        if (queue.size > 0) {
          const n = queue.take(buffer);
          read += n;
          const due = read + WINDOW - grantedPeer;
          if (due >= GRANT_EVERY && !ended) {
            grantedPeer += due;
            socket.write(header(CREDIT, due));
          }
          return n;
        }
        if (failure !== undefined) throw failure;
        if (ended) return null;
        await new Promise<void>((r) => reader = r);
      }
    },
    async write(bytes: Uint8Array): Promise<void> {
      for (let at = 0; at < bytes.length;) {
        const n = Math.min(MAX_RECORD, bytes.length - at);
        while (!closed && !ended && sent + n > granted) {
          await new Promise<void>((r) => writer = r);
        }
        if (closed || ended || socket.destroyed) {
          throw failure ?? new Error("connection closed");
        }
        sent += n;
        const piece = bytes.subarray(at, at + n);
        let last: Promise<void>;
        if (n <= JOIN_BYTES) {
          // One TLS record rather than two: a copy costs less than a record.
          const record = new Uint8Array(RECORD_HEADER + n);
          record.set(header(DATA, n));
          record.set(piece, RECORD_HEADER);
          last = put(record);
        } else {
          socket.write(header(DATA, n));
          last = put(piece);
        }
        at += n;
        if (at === bytes.length) return last;
      }
    },
    close(): void {
      if (closed) return;
      closed = true;
      queue.clear();
      wake();
      if (socket.closed) return; // the peer closed first: nothing to wait for
      // A FIN after what was written (destroy would drop what node:tls
      // still holds, even after "finish"); the socket closes when the
      // peer's FIN answers it, or is dropped after a grace period.
      const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
      socket.once("close", () => clearTimeout(timer));
      socket.end();
    },
  };
}
