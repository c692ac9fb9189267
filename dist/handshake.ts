/**
 * The handshake (D3): a short script of steps, one frame each, that proves
 * both sides know the cookie without sending it.
 *
 * ```text
 * connector                          acceptor
 *   HANDSHAKE_NAME {name, creation, version}  ->
 *                     <- HANDSHAKE_CHALLENGE {name, creation, cA}   (or REFUSE)
 *   HANDSHAKE_REPLY {cB, HMAC(cookie, cA)}    ->
 *                     <- HANDSHAKE_ACK {HMAC(cookie, cB)}           (or REFUSE:
 *                        a wrong digest, or a connected name that answers)
 * ```
 *
 * The caller runs it under one deadline (closing the connection ends it).
 *
 * @module
 */
import { type Frame, type FrameDecoder, Tag, tagName } from "../wire/mod.ts";
import type { Connection } from "./transport.ts";
import { HandshakeError, HandshakeRefusedError } from "./errors.ts";

/** Version of the protocol this code speaks. */
export const PROTOCOL_VERSION = 1;

/** Who a completed handshake connected to. */
export interface PeerIdentity {
  /** The peer's node name. */
  readonly name: string;
  /** The peer's creation number. */
  readonly creation: number;
}

/** Reads whole frames from a connection through a decoder. */
export class FrameReader {
  readonly conn: Connection;
  readonly decoder: FrameDecoder;
  // Handshake frames are small, and one of these is made for every
  // connection a peer opens, before it has proved anything.
  readonly #buf = new Uint8Array(4096);

  /** A reader of `conn`, cutting frames with `decoder`. */
  constructor(conn: Connection, decoder: FrameDecoder) {
    this.conn = conn;
    this.decoder = decoder;
  }

  /** The next frame, or `null` at end of stream. Throws a `WireError` on bad input. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const frame = this.decoder.next();
      if (frame !== undefined) return frame;
      const n = await this.conn.read(this.#buf);
      if (n === null) return null;
      this.decoder.push(this.#buf.subarray(0, n));
    }
  }
}

/** Keys and randomness the handshake needs. */
export interface HandshakeSecrets {
  /** HMAC-SHA256 key made from the cookie. */
  readonly key: CryptoKey;
}

/** Makes the HMAC key for `cookie`. */
export function cookieKey(cookie: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(cookie),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

async function digest(
  key: CryptoKey,
  challenge: Uint8Array,
): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", key, challenge as Uint8Array<ArrayBuffer>),
  );
}

function verify(
  key: CryptoKey,
  challenge: Uint8Array,
  mac: Uint8Array,
): Promise<boolean> {
  return crypto.subtle.verify(
    "HMAC",
    key,
    mac as Uint8Array<ArrayBuffer>,
    challenge as Uint8Array<ArrayBuffer>,
  );
}

function challenge(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

async function expect<T extends Frame["tag"]>(
  reader: FrameReader,
  tag: T,
  peer: string | undefined,
): Promise<Extract<Frame, { tag: T }>> {
  const frame = await reader.next();
  if (frame === null) {
    throw new HandshakeError(
      `Handshake with ${peer ?? "peer"} ended: the connection closed`,
      peer,
    );
  }
  if (frame.tag === Tag.HANDSHAKE_REFUSE) {
    throw new HandshakeRefusedError(peer, frame.reason);
  }
  if (frame.tag !== tag) {
    throw new HandshakeError(
      `Handshake with ${peer ?? "peer"}: expected ${tagName(tag)}, got ${
        tagName(frame.tag)
      }`,
      peer,
    );
  }
  return frame as Extract<Frame, { tag: T }>;
}

/** The connecting side's script. `write` sends one frame. */
export async function connectorHandshake(
  reader: FrameReader,
  write: (frame: Frame) => Promise<void>,
  self: PeerIdentity,
  key: CryptoKey,
  expected: string | undefined,
): Promise<PeerIdentity> {
  await write({
    tag: Tag.HANDSHAKE_NAME,
    name: self.name,
    creation: self.creation,
    version: PROTOCOL_VERSION,
  });
  const hello = await expect(reader, Tag.HANDSHAKE_CHALLENGE, expected);
  if (expected !== undefined && hello.name !== expected) {
    throw new HandshakeError(
      `Expected node ${expected}, but ${hello.name} answered`,
      hello.name,
    );
  }
  const mine = challenge();
  await write({
    tag: Tag.HANDSHAKE_REPLY,
    challenge: mine,
    digest: await digest(key, hello.challenge),
  });
  const ack = await expect(reader, Tag.HANDSHAKE_ACK, hello.name);
  if (!(await verify(key, mine, ack.digest))) {
    throw new HandshakeError(
      `Node ${hello.name} does not know the cookie`,
      hello.name,
    );
  }
  return { name: hello.name, creation: hello.creation };
}

/**
 * The accepting side's script. `admit` is asked once the peer's name is
 * known, and `confirm` once it has proven the cookie, before it is told so:
 * `admit` returns and `confirm` resolves with a refusal reason, or
 * `undefined` to go on.
 */
export async function acceptorHandshake(
  reader: FrameReader,
  write: (frame: Frame) => Promise<void>,
  self: PeerIdentity,
  key: CryptoKey,
  admit: (peer: PeerIdentity) => string | undefined,
  confirm: (peer: PeerIdentity) => Promise<string | undefined> = () =>
    Promise.resolve(undefined),
): Promise<PeerIdentity> {
  const hello = await expect(reader, Tag.HANDSHAKE_NAME, undefined);
  const refusal = hello.version !== PROTOCOL_VERSION
    ? `protocol version ${hello.version} is not supported (this node speaks ${PROTOCOL_VERSION})`
    : admit({ name: hello.name, creation: hello.creation });
  if (refusal !== undefined) {
    await write({ tag: Tag.HANDSHAKE_REFUSE, reason: refusal }).catch(() => {});
    throw new HandshakeRefusedError(hello.name, `refused here: ${refusal}`);
  }
  const mine = challenge();
  await write({
    tag: Tag.HANDSHAKE_CHALLENGE,
    name: self.name,
    creation: self.creation,
    challenge: mine,
  });
  const reply = await expect(reader, Tag.HANDSHAKE_REPLY, hello.name);
  // A reflected challenge would let a peer without the cookie use our own answer.
  const reflected = reply.challenge.length === mine.length &&
    reply.challenge.every((b, i) => b === mine[i]);
  if (reflected || !(await verify(key, mine, reply.digest))) {
    await write({ tag: Tag.HANDSHAKE_REFUSE, reason: "bad cookie" }).catch(
      () => {},
    );
    throw new HandshakeError(
      `Node ${hello.name} does not know the cookie`,
      hello.name,
    );
  }
  const late = await confirm({ name: hello.name, creation: hello.creation });
  if (late !== undefined) {
    await write({ tag: Tag.HANDSHAKE_REFUSE, reason: late }).catch(() => {});
    throw new HandshakeRefusedError(hello.name, `refused here: ${late}`);
  }
  await write({
    tag: Tag.HANDSHAKE_ACK,
    digest: await digest(key, reply.challenge),
  });
  return { name: hello.name, creation: hello.creation };
}
