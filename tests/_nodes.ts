// Test helper: fresh node names and a connected pair of nodes over TCP on
// 127.0.0.1 (port 0), shared by the distribution tests.
import { type Node, startNode } from "../dist/mod.ts";

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
