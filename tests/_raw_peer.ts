// Test helper: a hand-written peer that passes the handshake over a raw TCP
// socket and then speaks frames directly, to test what a node does with
// frames no honest node sends.
import {
  connectorHandshake,
  cookieKey,
  FrameReader,
} from "../dist/handshake.ts";
import { type Node, tcpTransport } from "../dist/mod.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  MsgpackCodec,
  Pid,
  Tag,
} from "../wire/mod.ts";

export interface RawPeer {
  /** The node name it gave in the handshake. */
  readonly name: string;
  /** A pid of this peer (creation 3). */
  pid(id: number): Pid;
  /** Writes one frame. */
  write(frame: Frame): Promise<void>;
  /** Writes raw bytes (a frame no encoder would make, say). */
  writeBytes(bytes: Uint8Array): Promise<void>;
  /**
   * The next frame the node sends: of `tag` if given (others are skipped),
   * otherwise any but a tick. `null` once the connection ends.
   */
  next(tag?: number): Promise<Frame | null>;
  close(): void;
}

/** Connects to `target` as node `name`, with `cookie`. */
export async function rawPeer(
  target: Node,
  name: string,
  cookie: string,
): Promise<RawPeer> {
  const codec = new MsgpackCodec();
  const conn = await tcpTransport().connect(target.address!);
  const reader = new FrameReader(conn, new FrameDecoder(codec));
  const self = { name, creation: 3 };
  await connectorHandshake(
    reader,
    (f) => conn.write(encodeFrame(f, codec)),
    self,
    await cookieKey(cookie),
    target.name,
  );
  return {
    name,
    pid: (id) => new Pid(name, id, self.creation),
    write: (frame) => conn.write(encodeFrame(frame, codec)),
    writeBytes: (bytes) => conn.write(bytes),
    async next(tag) {
      for (;;) {
        const f = await reader.next().catch(() => null);
        if (f === null) return null;
        if (tag === undefined ? f.tag !== Tag.TICK : f.tag === tag) return f;
      }
    },
    close: () => conn.close(),
  };
}
