// What a node keeps of links, monitors, node monitors and other nodes once
// they are over: nothing, or a bounded amount. Most of these look inside the
// runtime (the kernel's per-node index, a process's exit hooks), because a
// record left behind does no visible harm until a long-lived connection has
// gathered millions of them.
import assert from "node:assert/strict";
import { call, Down, Exit, type Process, startServer } from "../mod.ts";
import {
  MemoryTransport,
  type Node,
  NodeDown,
  NodeUnreachableError,
  startNode,
} from "../dist/mod.ts";
import type { ProcessImpl } from "../actor/_process.ts";
import type { Kernel } from "../actor/_kernel.ts";
import { is, probe } from "./_probe.ts";
import { idle, runGcFixture } from "./_util.ts";
import { nodeName, nodePair } from "./_nodes.ts";

const COOKIE = "records-cookie";
const name = nodeName;
const pair = () => nodePair(COOKIE);

function kernelOf(proc: Process): Kernel {
  return (proc as ProcessImpl).kernel;
}

/** Runs `work` in a fresh process of `node` and waits until that process is gone. */
async function inProcess(
  node: Node,
  work: (proc: Process) => void | Promise<void>,
): Promise<void> {
  const failed = Promise.withResolvers<never>();
  const pid = node.runtime.spawn(async (proc) => {
    try {
      await work(proc);
    } catch (error) {
      failed.reject(error);
    }
  }, { trapExit: true });
  await Promise.race([node.runtime.whenExited(pid), failed.promise]);
}

Deno.test("D6: a process whose links and monitors across a connection are over leaves no record of that node once it exits, on either side", async () => {
  await using n = await pair();
  const { a, b } = n;
  const server = await startServer(
    b.runtime,
    {
      init: () => null,
      handleCall: (_request: unknown, _from, state) => ({ reply: "ok", state }),
    },
    undefined,
    { name: "server" },
  );
  const target = b.runtime.spawn(idle, { name: "target" });
  await inProcess(a, (proc) => {
    proc.link(target);
    proc.unlink(target);
    proc.demonitor(proc.monitor(target));
    proc.demonitor(proc.monitor(["target", b.name]));
  });
  await inProcess(a, async (proc) => {
    // A link and a monitor that fire: the remote process dies.
    const doomed = b.runtime.spawn(idle);
    proc.link(doomed);
    const ref = proc.monitor(doomed);
    await a.syncGlobal(); // b has set both halves
    b.runtime.exit(doomed, "boom");
    await proc.receive(is(Down, (d) => d.ref.equals(ref)));
    await proc.receive(is(Exit));
  });
  // A call by name monitors the name and demonitors it after the reply.
  await inProcess(a, async (proc) => {
    assert.equal(await call(proc, ["server", b.name], "hi"), "ok");
  });
  assert.equal(await call(a.runtime, ["server", b.name], "hi"), "ok");
  await a.syncGlobal(); // every UNLINK and DEMONITOR has reached b
  const onA = await probe(a.runtime);
  // Sizes, not sets: a failure should not print every process kept.
  assert.equal(kernelOf(onA.proc).byNode.get(b.name)?.size ?? 0, 0);
  assert.equal(kernelOf(onA.proc).byNode.has(b.name), false);
  // On b, the processes a linked to and monitored are indexed under a while
  // they live; once they exit, they are not.
  b.runtime.exit(target, "shutdown");
  await b.runtime.whenExited(target);
  b.runtime.exit(server, "shutdown");
  await b.runtime.whenExited(server);
  const onB = await probe(b.runtime);
  assert.equal(kernelOf(onB.proc).byNode.get(a.name)?.size ?? 0, 0);
  assert.equal(kernelOf(onB.proc).byNode.has(a.name), false);
});

Deno.test("D7: after a lost connection, a surviving process is indexed under that node nowhere", async () => {
  await using n = await pair();
  const { a, b } = n;
  const remote = await probe(b.runtime);
  const watcher = await probe(a.runtime, { trapExit: true });
  watcher.proc.link(remote.pid);
  watcher.proc.monitor(remote.pid);
  await a.syncGlobal();
  a.disconnect(b.name);
  await watcher.next(is(Down));
  await watcher.next(is(Exit));
  const impl = watcher.proc as ProcessImpl;
  assert.equal(impl.kernel.byNode.has(b.name), false);
  assert.equal(impl.nodes?.has(b.name) ?? false, false);
});

Deno.test("D8: a process that monitors and demonitors a node again and again holds one exit hook, not one per monitor", async () => {
  await using n = await pair();
  const { a, b } = n;
  const watcher = await probe(a.runtime);
  for (let i = 0; i < 50; i++) {
    a.monitorNode(watcher.pid, b.name);
    assert.equal(a.demonitorNode(watcher.pid, b.name), true);
  }
  a.monitorNode(watcher.pid, a.name);
  a.monitorNode(watcher.pid, b.name);
  assert.equal((watcher.proc as ProcessImpl).exitWaiters?.length ?? 0, 1);
  // The hook still drops every node monitor the process held once it exits.
  a.runtime.exit(watcher.pid, "kill");
  await a.runtime.whenExited(watcher.pid);
  assert.equal(a.demonitorNode(watcher.pid, b.name), false);
  assert.equal(a.demonitorNode(watcher.pid, a.name), false);
});

Deno.test("D2: a node remembers the learned addresses of at most 1024 nodes it is not connected to; a forgotten one is resolved afresh", async () => {
  const transport = new MemoryTransport();
  const asked: string[] = [];
  await using a = await startNode({
    name: name("a"),
    cookie: COOKIE,
    transport,
    host: "mem",
    resolve: (node) => void asked.push(node),
  });
  const downs: string[] = [];
  const off = a.onNodeEvent((e) => {
    if (e instanceof NodeDown) downs.push(e.node);
  });
  // Short-lived clients with fresh names, each learnt by `a` from the peer
  // list it sent on connecting.
  const clients: string[] = [];
  for (let i = 0; i < 1026; i++) {
    const c = await startNode({
      name: name("client"),
      cookie: COOKIE,
      transport,
      host: "mem",
    });
    await c.connect(a.name, a.address!);
    await c.syncGlobal(); // `a` has read c's peer list
    const gone = Promise.withResolvers<void>();
    const offGone = a.onNodeEvent((e) => {
      if (e instanceof NodeDown && e.node === c.name) gone.resolve();
    });
    await c.stop();
    await gone.promise;
    offGone();
    clients.push(c.name);
  }
  off();
  assert.equal(downs.length, clients.length);
  assert.deepEqual(asked, []);
  // The oldest is forgotten: its address is asked for again.
  await assert.rejects(a.connect(clients[0]!), NodeUnreachableError);
  assert.deepEqual(asked, [clients[0]]);
  // The newest is still known (it is gone, so connecting to it fails).
  await assert.rejects(a.connect(clients.at(-1)!), NodeUnreachableError);
  assert.deepEqual(asked, [clients[0]]);
});

Deno.test("MemoryTransport: a closed connection end keeps none of the bytes that came in unread", async () => {
  // The transport keeps every end it made (`connections`); a closed end
  // used to keep its unread input too, up to a window (256 KiB) and more
  // per connection, for the transport's life. Run in a child with the GC
  // exposed: 4 connections with 1 MiB unread each way, both ends closed.
  const { ends, unreadKiB } = await runGcFixture(
    "memory_transport_retention.ts",
  ) as { ends: number; unreadKiB: number };
  assert.equal(ends, 8);
  assert.ok(unreadKiB < 256, `${unreadKiB} KiB still held`);
});
