/**
 * A tour of Mote's distribution in under a minute: `deno task demo`.
 *
 * This process runs node `main`; it starts two child nodes, `alpha` and
 * `beta`, as separate Deno processes (examples/node_child.ts). Processes here
 * monitor and link to processes there, then we crash a remote process,
 * SIGKILL a whole node, restart it under the same name, and shut everything
 * down. Every line says what just happened and when.
 *
 * @module
 */
import { NodeDown, NodeUp, startNode } from "../dist/mod.ts";
import { Crash, Down, Exit, type Pid, type Process } from "../mod.ts";
import { type ChildNode, spawnChildNode } from "./node_child.ts";

const COOKIE = "mote-demo";
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

function short(node: string): string {
  return node.split("@")[0]!;
}

function showPid(pid: Pid | undefined): string {
  return pid === undefined
    ? "?"
    : `<${short(pid.node)}.${pid.id}.${pid.creation}>`;
}

function showReason(reason: unknown): string {
  if (reason instanceof Crash) {
    return `crash (${reason.name}: ${reason.message})`;
  }
  return String(reason);
}

function describe(msg: unknown, names: Map<string, string>): string {
  const label = (pid: Pid | undefined) =>
    pid === undefined ? "?" : (names.get(pid.key) ?? showPid(pid));
  if (msg instanceof Down) {
    return `Down   ${
      msg.pid ? label(msg.pid) : `${msg.name}@${short(msg.node)}`
    }: ${showReason(msg.reason)}`;
  }
  if (msg instanceof Exit) {
    return `Exit   from ${label(msg.from)}: ${showReason(msg.reason)}`;
  }
  if (msg instanceof NodeDown) {
    return `NodeDown ${short(msg.node)} (${msg.reason})`;
  }
  if (msg instanceof NodeUp) {
    return `NodeUp   ${short(msg.node)} (creation ${msg.creation})`;
  }
  if (typeof msg === "object" && msg !== null && "from" in msg) {
    return `reply  from ${label((msg as { from: Pid }).from)}`;
  }
  return `message ${Deno.inspect(msg)}`;
}

class Task {
  constructor(readonly run: (proc: Process) => void) {}
}

/** A process here that prints every message it gets and lets the script await one. */
class Watcher {
  readonly pid: Pid;
  readonly ready: Promise<void>;
  #waiters: {
    match: (m: unknown) => boolean;
    resolve: (m: unknown) => void;
  }[] = [];

  constructor(
    node: { runtime: { spawn: (body: (p: Process) => Promise<void>) => Pid } },
    readonly label: string,
    names: Map<string, string>,
    setup: (proc: Process) => void,
  ) {
    const ready = Promise.withResolvers<void>();
    this.ready = ready.promise;
    this.pid = node.runtime.spawn(async (proc) => {
      setup(proc);
      ready.resolve();
      for (;;) {
        const msg = await proc.receive();
        if (msg instanceof Task) {
          msg.run(proc);
          continue;
        }
        log(label, describe(msg, names));
        const i = this.#waiters.findIndex((w) => w.match(msg));
        if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(msg);
      }
    });
  }

  /** Has the watcher process itself run `fn` (a local message: it never crosses the wire). */
  do(
    runtime: { send: (to: Pid, msg: unknown) => void },
    fn: (proc: Process) => void,
  ): void {
    runtime.send(this.pid, new Task(fn));
  }

  /** Resolves with the next message `match` accepts. */
  next<T>(match: (m: unknown) => m is T): Promise<T> {
    const got = Promise.withResolvers<unknown>();
    this.#waiters.push({ match, resolve: got.resolve });
    return got.promise as Promise<T>;
  }
}

const isDown = (m: unknown): m is Down => m instanceof Down;
const isExit = (m: unknown): m is Exit => m instanceof Exit;

/** Fails the demo, rather than hanging, if something never happens. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Gave up waiting for ${what}`)),
          10_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  say("Starting this node and two child nodes, each its own OS process.");
  const node = await startNode({
    name: `main@${HOST}`,
    cookie: COOKIE,
    tickTime: 2_000,
  });
  log("main", `node ${node.name} listening on port ${node.address!.port}`);
  const children = new Map<string, ChildNode>();
  const launch = async (name: string): Promise<ChildNode> => {
    const child = await spawnChildNode({
      name: `${name}@${HOST}`,
      cookie: COOKIE,
      tickTime: 2_000,
      parent: { name: node.name, ...node.address! },
    });
    await node.connect(child.name, child.address);
    children.set(name, child);
    log(
      name,
      `node up: OS pid ${child.process.pid}, creation ${child.ready.creation}, port ${child.address.port}`,
    );
    return child;
  };
  let alpha = await launch("alpha");
  const beta = await launch("beta");

  const names = new Map<string, string>();
  const nameOf = (child: ChildNode, proc: string) => {
    const pid = child.pid(proc);
    names.set(pid.key, `${proc}@${short(child.name)}`);
    return pid;
  };
  const alphaEcho = nameOf(alpha, "echo");
  const alphaCrasher = nameOf(alpha, "crasher");
  const betaEcho = nameOf(beta, "echo");

  say(
    "A 'watcher' here monitors three remote processes; a 'guard' traps exits and links to them; 'nodes' monitors both nodes.",
  );
  const watcher = new Watcher(node, "watcher", names, (proc) => {
    for (const pid of [alphaEcho, alphaCrasher, betaEcho]) proc.monitor(pid);
  });
  const guard = new Watcher(node, "guard", names, (proc) => {
    proc.trapExit(true);
    for (const pid of [alphaEcho, alphaCrasher, betaEcho]) proc.link(pid);
  });
  const nodes = new Watcher(node, "nodes", names, (proc) => {
    node.monitorNode(proc.self, alpha.name);
    node.monitorNode(proc.self, beta.name);
  });
  await Promise.all([watcher.ready, guard.ready, nodes.ready]);
  // A round trip to each echo: the monitors and links are in place over there.
  await within(
    Promise.all([alphaEcho, betaEcho].map((echo) => {
      const reply = watcher.next((m): m is { from: Pid } =>
        typeof m === "object" && m !== null && "from" in m &&
        echo.equals((m as { from: unknown }).from)
      );
      node.runtime.send(echo, { from: watcher.pid, hello: true });
      return reply;
    })),
    "the echoes",
  );

  say('Asking crasher@alpha to throw new Error("boom").');
  const crashDown = watcher.next(isDown);
  const crashExit = guard.next(isExit);
  node.runtime.send(alphaCrasher, { crash: "boom" });
  await within(Promise.all([crashDown, crashExit]), "the crash to be reported");

  say(`SIGKILL of the whole alpha node (OS pid ${alpha.process.pid}).`);
  const killDown = watcher.next(isDown);
  const killExit = guard.next(isExit);
  const nodeDown = nodes.next((m): m is NodeDown => m instanceof NodeDown);
  const killedAt = performance.now();
  alpha.kill("SIGKILL");
  await within(Promise.all([killDown, killExit, nodeDown]), "the node loss");
  log(
    "demo",
    `every watcher knew within ${(performance.now() - killedAt).toFixed(1)} ms`,
  );
  await alpha.close();

  say("beta is unaffected: its echo still answers.");
  const betaReply = watcher.next((m): m is { from: Pid } =>
    typeof m === "object" && m !== null && "from" in m &&
    betaEcho.equals((m as { from: unknown }).from)
  );
  node.runtime.send(betaEcho, { from: watcher.pid, hello: true });
  await within(betaReply, "beta's echo");

  say("Restarting alpha under the same name.");
  const oldCreation = alpha.ready.creation;
  const nodeUp = nodes.next((m): m is NodeUp => m instanceof NodeUp);
  alpha = await launch("alpha");
  const up = await within(nodeUp, "NodeUp");
  log(
    "demo",
    `alpha is back with creation ${up.creation} (was ${oldCreation}): a new incarnation`,
  );
  names.set(alpha.pid("echo").key, "new echo@alpha");

  say(
    `The watcher monitors the OLD echo pid ${
      showPid(alphaEcho)
    }: it died with the old incarnation.`,
  );
  const noproc = watcher.next(isDown);
  watcher.do(node.runtime, (proc) => proc.monitor(alphaEcho));
  await within(noproc, "Down noproc");
  const newReply = watcher.next((m): m is { from: Pid } =>
    typeof m === "object" && m !== null && "from" in m &&
    alpha.pid("echo").equals((m as { from: unknown }).from)
  );
  node.runtime.send(["echo", alpha.name], { from: watcher.pid, hello: true });
  await within(newReply, "the new echo");

  say("Shutting down: each child node is asked to stop, then this node stops.");
  for (const child of children.values()) {
    const stopped = Promise.withResolvers<void>();
    node.runtime.spawn(async (proc) => {
      proc.send(["control", child.name], { from: proc.self, op: "stop" });
      await proc.receive();
      stopped.resolve();
    });
    await within(stopped.promise, `${child.name} to stop`);
    const status = await within(child.process.status, `${child.name} to exit`);
    await child.close();
    log(short(child.name), `exited with code ${status.code}`);
  }
  await node.stop();
  log("main", "stopped; bye");
}

try {
  await main();
} catch (error) {
  console.error("The demo failed:", error);
  Deno.exit(1);
}
