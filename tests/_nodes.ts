// Test helper: fresh node names and a connected pair of nodes over TCP on
// 127.0.0.1 (port 0), shared by the distribution tests.
import { type Node, startNode } from "../dist/mod.ts";
import assert from "node:assert/strict";
import { within } from "./_util.ts";
import { probe } from "./_probe.ts";

let seq = 0;

/** A node name not used before in this test process: `<base><n>@127.0.0.1`. */
export function nodeName(base: string): string {
  return `${base}${++seq}@127.0.0.1`;
}

/** Two connected nodes, `a` and `b`, stopped together on dispose. */
export async function nodePair(
  cookie: string,
  options: { tickTime?: number } = {},
): Promise<{ a: Node; b: Node } & AsyncDisposable> {
  const a = await startNode({ name: nodeName("a"), cookie, ...options });
  const b = await startNode({ name: nodeName("b"), cookie, ...options });
  await a.connect(b.name, b.address!);
  return {
    a,
    b,
    [Symbol.asyncDispose]: async () =>
      void await Promise.all([a.stop(), b.stop()]),
  };
}

/**
 * Two nodes, `a` knowing where `b` listens (the `peers` option) but not yet
 * connected to it: the first send, link or monitor to `b` connects. Stopped
 * together on dispose.
 */
export async function knownPair(
  cookie: string,
  options: { maxFrameBytes?: number } = {},
): Promise<{ a: Node; b: Node } & AsyncDisposable> {
  const b = await startNode({ name: nodeName("b"), cookie, ...options });
  const a = await startNode({
    name: nodeName("a"),
    cookie,
    ...options,
    peers: { [b.name]: b.address! },
  });
  return {
    a,
    b,
    [Symbol.asyncDispose]: async () =>
      void await Promise.all([a.stop(), b.stop()]),
  };
}

/**
 * Queues `mib` messages of 1 MiB each way between connected nodes `a` and
 * `b` (to processes that take everything), then stops both at once; rejects
 * if the stops take over 8 s.
 */
export async function stopBothLoaded(
  a: Node,
  b: Node,
  mib: number,
): Promise<void> {
  const sinkA = a.runtime.spawn(async (p) => {
    for (;;) await p.receive();
  });
  const sinkB = b.runtime.spawn(async (p) => {
    for (;;) await p.receive();
  });
  for (let i = 0; i < mib; i++) {
    a.runtime.send(sinkB, new Uint8Array(1 << 20));
    b.runtime.send(sinkA, new Uint8Array(1 << 20));
  }
  await within(Promise.all([a.stop(), b.stop()]), "both stops", 8_000);
}

/**
 * After whatever a test did to `node`, a well-behaved node (`friend` makes
 * it) still connects to it and is heard; the friend is stopped after.
 */
export async function answersFriend(
  node: Node,
  friend: () => Promise<Node>,
): Promise<void> {
  const other = await friend();
  try {
    const inbox = await probe(node.runtime);
    await other.connect(node.name, node.address!);
    other.runtime.send(inbox.pid, "hello");
    assert.equal(await inbox.next(), "hello");
  } finally {
    await other.stop();
  }
}
