/**
 * A monitored counter cluster (the second half of `deno task demo`):
 *
 * ```sh
 * deno run -A examples/counter_cluster.ts
 * ```
 *
 * This process runs node `main`; three counter nodes, `alpha`, `beta` and
 * `gamma`, run as separate Deno processes (examples/node_child.ts), each
 * allowing others to start a `counter` server on it. A supervisor here starts
 * two counters through remote spawn, each on the first node of its list
 * that accepts, and each counter registers a global name. A watcher here
 * finds them by those names, monitors them and their nodes, and counts.
 * Then alpha is killed with SIGKILL: the watcher is told why, the supervisor
 * restarts the counter on the next node of its list, and the global name
 * follows it there.
 *
 * @module
 */
import { type Node, NodeDown, remoteChild, startNode } from "../dist/mod.ts";
import {
  call,
  cast,
  Crash,
  Down,
  type Pid,
  type Process,
  startSupervisor,
  stopServer,
  whichChildren,
} from "../mod.ts";
import { type ChildNode, spawnChildNode } from "./node_child.ts";

const COOKIE = "mote-counters";
const HOST = "127.0.0.1";
const started = performance.now();

function log(who: string, text: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(3).padStart(7);
  console.log(`[${t}s] ${who.padEnd(8)} ${text}`);
}

function say(text: string): void {
  console.log();
  log("demo", text);
}

const short = (node: string) => node.split("@")[0]!;
const where = (pid: Pid) => `<${short(pid.node)}.${pid.id}.${pid.creation}>`;
const reasonText = (r: unknown) =>
  r instanceof Crash ? `crash (${r.name}: ${r.message})` : String(r);

/** Waits for `global` to name a live process again; the cluster settles in a few ms. */
async function lookup(proc: Process, node: Node, global: string): Promise<Pid> {
  for (let i = 0; i < 400; i++) {
    await node.syncGlobal(); // everything peers did before is seen here now
    const pid = node.whereisGlobal(global);
    if (pid !== undefined) return pid;
    await proc.sleep(5);
  }
  throw new Error(`No process took the global name ${global}`);
}

/** The watcher: a process on main that uses the counters and watches them. */
async function watch(proc: Process, node: Node, alpha: ChildNode) {
  const counters = ["counter-1", "counter-2"];
  const pids = new Map<string, Pid>();
  for (const name of counters) {
    const pid = await lookup(proc, node, name);
    pids.set(name, pid);
    proc.monitor(pid);
    log("watcher", `found ${name} by its global name at ${where(pid)}`);
  }
  for (const peer of node.nodes()) node.monitorNode(proc.self, peer);
  for (const [name, pid] of pids) {
    for (let i = 0; i < 3; i++) cast(proc, pid, { add: 1 });
    log("watcher", `${name} counts ${await call(proc, pid, "get")}`);
  }

  say(
    `SIGKILL of node alpha (OS pid ${alpha.process.pid}) while it hosts counter-1.`,
  );
  const killedAt = performance.now();
  alpha.kill("SIGKILL");
  const isLoss = (m: unknown): m is Down | NodeDown =>
    (m instanceof Down) || (m instanceof NodeDown && m.node === alpha.name);
  for (let seen = 0; seen < 2; seen++) {
    const m = await proc.receive(isLoss, { timeout: 10_000 });
    const ms = (performance.now() - killedAt).toFixed(1);
    if (m instanceof Down) {
      log(
        "watcher",
        `Down of counter-1 ${where(m.pid!)}: ${
          reasonText(m.reason)
        }, ${ms} ms after the kill`,
      );
    } else if (m instanceof NodeDown) {
      log("watcher", `NodeDown alpha: ${m.reason}, ${ms} ms after the kill`);
    } else throw new Error("the watcher was not told in 10 s");
  }

  const moved = await lookup(proc, node, "counter-1");
  log(
    "watcher",
    `counter-1 is back at ${where(moved)}, on ${short(moved.node)}, ${
      (performance.now() - killedAt).toFixed(1)
    } ms after the kill`,
  );
  proc.monitor(moved);
  const fresh = await call(proc, moved, "get");
  log("watcher", `counter-1 counts ${fresh}: its count died with alpha`);
  cast(proc, moved, { add: 10 });
  log("watcher", `counter-1 counts ${await call(proc, moved, "get")}`);
  const other = pids.get("counter-2")!;
  log(
    "watcher",
    `counter-2 was not touched: it counts ${await call(proc, other, "get")}`,
  );
}

async function main(): Promise<void> {
  say(
    "Starting node main here and three counter nodes, each its own OS process.",
  );
  const node = await startNode({
    name: `main@${HOST}`,
    cookie: COOKIE,
    tickTime: 2_000,
  });
  const children: ChildNode[] = [];
  let sup: Pid | undefined;
  try {
    for (const name of ["alpha", "beta", "gamma"]) {
      const child = await spawnChildNode({
        name: `${name}@${HOST}`,
        cookie: COOKIE,
        tickTime: 2_000,
        parent: { name: node.name, ...node.address! },
      });
      await node.connect(child.name, child.address);
      children.push(child);
      log(
        name,
        `node up: OS pid ${child.process.pid}, port ${child.address.port}`,
      );
    }
    const [alpha, beta, gamma] = children.map((c) => c.name) as [
      string,
      string,
      string,
    ];

    say(
      "A supervisor here starts counter-1 on the first of [alpha, beta, gamma] and counter-2 on the first of [beta, gamma, alpha].",
    );
    sup = await startSupervisor(node.runtime, {
      strategy: "one_for_one",
      children: [
        remoteChild("counter-1", {
          via: node,
          nodes: [alpha, beta, gamma],
          name: "counter",
          args: { global: "counter-1" },
        }),
        remoteChild("counter-2", {
          via: node,
          nodes: [beta, gamma, alpha],
          name: "counter",
          args: { global: "counter-2" },
        }),
      ],
    });
    for (const child of await whichChildren(node.runtime, sup)) {
      log("sup", `${child.id} runs at ${where(child.pid!)}`);
    }

    say(
      "A watcher here looks the counters up by global name, monitors them and their nodes, and counts.",
    );
    const done = Promise.withResolvers<void>();
    node.runtime.spawn(async (proc) => {
      try {
        await watch(proc, node, children[0]!);
        done.resolve();
      } catch (error) {
        done.reject(error);
      }
    });
    await done.promise;

    say("What the supervisor runs now:");
    for (const child of await whichChildren(node.runtime, sup)) {
      log("sup", `${child.id} runs at ${where(child.pid!)}`);
    }
  } finally {
    say(
      "Shutting down: the supervisor stops its counters, then the nodes stop.",
    );
    if (sup !== undefined) await stopServer(node.runtime, sup).catch(() => {});
    for (const child of children) await child.close();
    await node.stop();
    log("main", "stopped; bye");
  }
}

await main();
