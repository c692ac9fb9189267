/**
 * A small child node, run as its own Deno process by the demo, the
 * multi-process tests and the distribution benchmark:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/node_child.ts \
 *   --name=b@127.0.0.1 --cookie=secret --tick=2000 \
 *   --parent=a@127.0.0.1 --parent-host=127.0.0.1 --parent-port=40123
 * ```
 *
 * Each option may also come from the environment (`MOTE_NAME`,
 * `MOTE_COOKIE`, `MOTE_TICK`, `MOTE_PARENT`, `MOTE_PARENT_HOST`,
 * `MOTE_PARENT_PORT`) when the process may read it. The child starts a node
 * listening on 127.0.0.1 (port 0), spawns a few registered processes,
 * connects to its parent, and prints one JSON line on stdout:
 *
 * ```json
 * {"ready":true,"name":"b@127.0.0.1","creation":123,"host":"127.0.0.1","port":40124,
 *  "pids":{"echo":{"id":1,"creation":123},...},"tcpEchoPort":null,"tcpSinkPort":null}
 * ```
 *
 * The registered processes:
 * - `echo`: a message `{ from: Pid, ... }` is answered with
 *   `{ from: <echo pid>, echo: <the message> }`; `{ from, op: "link" }` and
 *   `{ from, op: "monitor" }` make it link to / monitor `from` first. It
 *   traps exits, so a dying peer does not take it down.
 * - `pong`: `[pid, x]` is answered with `x` (the smallest round trip).
 * - `echo_server`: a server whose `call` answers with the request.
 * - `sink`: counts what arrives; `{ expect: n, notify: pid }` asks for
 *   `{ count, bytes }` once `n` more messages have arrived (Uint8Array
 *   payloads add their length to `bytes`); `{ spin: µs }` keeps it busy
 *   that long.
 * - `crasher`: `{ crash: "why" }` makes it throw `new Error("why")`; any
 *   other `{ from }` gets `{ from: <crasher pid> }` back.
 * - `control`: `{ from, op: "stop" }` answers `{ stopping: true }`, stops the
 *   node cleanly and exits the process with code 0.
 *
 * Other nodes may also start a `counter` server here (remote spawn): `call`
 * with `"get"` answers its count, `cast` of `{ add: n }` adds to it, and
 * `{ global: "name" }` as its arguments registers it under that global name.
 *
 * The child stops on its own (exit code 0) when the connection to its parent
 * is lost, or on SIGTERM/SIGINT, so it never outlives the program that
 * started it. With `--tcp-baselines` it also runs two bare TCP servers, the
 * benchmark's baselines, and reports their ports as `tcpEchoPort` and
 * `tcpSinkPort`:
 * - the echo writes back whatever it reads;
 * - the sink takes transfers: an 8-byte header (the number of bytes that
 *   follow, a little-endian float64), then the bytes, each read into fresh
 *   memory as a receiver that hands out what it reads must; once all have
 *   arrived it writes back one byte.
 *
 * Importing this module (rather than running it) gives
 * {@linkcode spawnChildNode}, the parent side: it starts the process, awaits
 * the ready line, and cleans up every pipe and the process itself.
 *
 * @module
 */
import {
  GlobalNameTakenError,
  type Node,
  NodeDown,
  startNode,
} from "../dist/mod.ts";
import { Pid, type ServerBehaviour, startServer } from "../mod.ts";
import type { Process } from "../mod.ts";

/** How a child node is configured. */
export interface ChildConfig {
  /** The child's node name, e.g. `"b@127.0.0.1"`. */
  readonly name: string;
  /** The cluster cookie. */
  readonly cookie: string;
  /** D9 tick time in ms. Default 60 000. */
  readonly tickTime?: number;
  /** The parent node to connect to (and to live no longer than). */
  readonly parent?: {
    readonly name: string;
    readonly host: string;
    readonly port: number;
  };
  /** Also run a bare TCP echo server (benchmark baseline). */
  readonly tcpBaselines?: boolean;
}

/** The JSON line a child prints once it is up and connected. */
export interface ReadyLine {
  /** Always `true`. */
  readonly ready: true;
  /** The child's node name. */
  readonly name: string;
  /** Its creation number (new on every start, D1). */
  readonly creation: number;
  /** Where its node listens. */
  readonly host: string;
  /** Where its node listens. */
  readonly port: number;
  /** Its registered processes, by name: id and creation of each pid. */
  readonly pids: Readonly<
    Record<string, { readonly id: number; readonly creation: number }>
  >;
  /** Port of the bare TCP echo, when `--tcp-baselines` was given. */
  readonly tcpEchoPort: number | null;
  /** Port of the bare TCP sink, when `--tcp-baselines` was given. */
  readonly tcpSinkPort: number | null;
}

// ---------------------------------------------------------------------------
// The child side.

function isObject(m: unknown): m is Record<string, unknown> {
  return typeof m === "object" && m !== null;
}

async function echo(proc: Process): Promise<void> {
  proc.trapExit(true);
  for (;;) {
    const msg = await proc.receive();
    if (!isObject(msg) || !(msg.from instanceof Pid)) continue;
    if (msg.op === "link") proc.link(msg.from);
    if (msg.op === "monitor") proc.monitor(msg.from);
    proc.send(msg.from, { from: proc.self, echo: msg });
  }
}

async function pong(proc: Process): Promise<void> {
  for (;;) {
    const msg = await proc.receive();
    if (Array.isArray(msg) && msg[0] instanceof Pid) proc.send(msg[0], msg[1]);
  }
}

async function sink(proc: Process): Promise<void> {
  let count = 0;
  let bytes = 0;
  let expect = -1;
  let notify: Pid | undefined;
  for (;;) {
    const msg = await proc.receive();
    if (isObject(msg) && msg.notify instanceof Pid) {
      expect = Number(msg.expect);
      notify = msg.notify;
      count = bytes = 0;
      continue;
    }
    count++;
    if (msg instanceof Uint8Array) bytes += msg.byteLength;
    // `{ spin: µs }` keeps the sink busy that long: a reader slower than
    // its sender, for tests of liveness under a flood.
    if (isObject(msg) && typeof msg.spin === "number") {
      const until = performance.now() + msg.spin / 1000;
      while (performance.now() < until) { /* busy */ }
    }
    if (count === expect && notify !== undefined) {
      proc.send(notify, { count, bytes });
      expect = -1;
      notify = undefined;
    }
  }
}

async function crasher(proc: Process): Promise<void> {
  for (;;) {
    const msg = await proc.receive();
    if (!isObject(msg)) continue;
    if (typeof msg.crash === "string") throw new Error(msg.crash);
    if (msg.from instanceof Pid) proc.send(msg.from, { from: proc.self });
  }
}

/** A bare TCP server on 127.0.0.1 that runs `serve` on each connection. */
function serveTcp(
  serve: (conn: Deno.Conn) => Promise<void>,
): { port: number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      conns.add(conn);
      serve(conn).catch(() => {/* the other side went away */}).finally(
        () => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* already closed */ }
        },
      );
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      for (const c of conns) c.close();
      await serving;
    },
  };
}

/** The echo baseline: writes back whatever it reads. */
async function echoConn(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return;
    let off = 0;
    while (off < n) off += await conn.write(buf.subarray(off, n));
  }
}

/** Size of the sink's reads, the same as a node's read buffers. */
const SINK_READ_BYTES = 256 * 1024;

/**
 * The bulk baseline: takes transfers (an 8-byte header giving the length,
 * then that many bytes), reading each chunk into fresh memory, as a node's
 * reader does when the binaries it handed out keep its last buffer.
 */
async function sinkConn(conn: Deno.Conn): Promise<void> {
  const header = new Uint8Array(8);
  const ack = new Uint8Array([1]);
  let headerBytes = 0;
  let remaining = 0;
  for (;;) {
    const buf = new Uint8Array(SINK_READ_BYTES);
    const n = await conn.read(buf);
    if (n === null) return;
    let off = 0;
    while (off < n) {
      if (headerBytes < 8) {
        header[headerBytes++] = buf[off++]!;
        if (headerBytes === 8) {
          remaining = new DataView(header.buffer).getFloat64(0, true);
        }
      } else {
        const take = Math.min(remaining, n - off);
        remaining -= take;
        off += take;
      }
      if (headerBytes === 8 && remaining === 0) {
        headerBytes = 0;
        await conn.write(ack);
      }
    }
  }
}

type CounterArgs = { readonly global?: string } | null;

/**
 * The `counter` server other nodes may start here. Its arguments come over
 * the wire, so they are checked. A global name may still be held by the
 * counter this one replaces, on a node whose loss this node has not heard of
 * yet: then it waits for the cluster to agree, a few times, before failing.
 */
export function counterServer(
  node: Node,
): ServerBehaviour<CounterArgs, number, "get", number, { add: number }> {
  return {
    init: async (args, proc) => {
      const name = args?.global;
      if (name === undefined) return 0;
      if (typeof name !== "string") {
        throw new TypeError("global must be a string");
      }
      for (let attempt = 1;; attempt++) {
        try {
          node.registerGlobal(name, proc.self);
          return 0;
        } catch (error) {
          if (!(error instanceof GlobalNameTakenError) || attempt === 20) {
            throw error;
          }
          await node.syncGlobal();
          await proc.sleep(25);
        }
      }
    },
    handleCall: (_request, _from, n) => ({ reply: n, state: n }),
    handleCast: (msg, n) => ({
      state: n + (typeof msg?.add === "number" ? msg.add : 0),
    }),
  };
}

/** Runs a child node until it is told to stop, loses its parent, or gets SIGTERM. */
export async function runChild(config: ChildConfig): Promise<void> {
  const node = await startNode({
    name: config.name,
    cookie: config.cookie,
    ...(config.tickTime !== undefined ? { tickTime: config.tickTime } : {}),
  });
  node.allowServer("counter", counterServer(node));
  const echoServer = config.tcpBaselines ? serveTcp(echoConn) : undefined;
  const sinkServer = config.tcpBaselines ? serveTcp(sinkConn) : undefined;
  const done = Promise.withResolvers<void>();
  const rt = node.runtime;
  const pids: Record<string, { id: number; creation: number }> = {};
  const start = (name: string, body: (proc: Process) => Promise<void>) => {
    const pid = rt.spawn(body, { name });
    pids[name] = { id: pid.id, creation: pid.creation };
  };
  start("echo", echo);
  start("pong", pong);
  start("sink", sink);
  start("crasher", crasher);
  const server = await startServer(
    rt,
    {
      init: () => null,
      handleCall: (request: unknown, _from, state) => ({
        reply: request,
        state,
      }),
    },
    undefined,
    { name: "echo_server" },
  );
  pids.echo_server = { id: server.id, creation: server.creation };
  start("control", async (proc) => {
    for (;;) {
      const msg = await proc.receive();
      if (isObject(msg) && msg.op === "stop" && msg.from instanceof Pid) {
        proc.send(msg.from, { stopping: true });
        done.resolve();
      }
    }
  });
  const parent = config.parent;
  if (parent !== undefined) {
    node.onNodeEvent((e) => {
      if (e instanceof NodeDown && e.node === parent.name) done.resolve();
    });
  }
  const onSignal = () => done.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    if (parent !== undefined) {
      await node.connect(parent.name, { host: parent.host, port: parent.port });
    }
    const ready: ReadyLine = {
      ready: true,
      name: node.name,
      creation: node.creation,
      host: node.address!.host,
      port: node.address!.port,
      pids,
      tcpEchoPort: echoServer?.port ?? null,
      tcpSinkPort: sinkServer?.port ?? null,
    };
    console.log(JSON.stringify(ready));
    await done.promise;
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
    await echoServer?.close();
    await sinkServer?.close();
    await node.stop();
  }
}

function readConfig(args: string[]): ChildConfig {
  const opts = new Map<string, string>();
  for (const arg of args) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new Error(`node_child: unknown argument ${arg}`);
    opts.set(m[1]!, m[2] ?? "true");
  }
  const envAllowed = Deno.permissions.querySync({ name: "env" }).state ===
    "granted";
  const get = (key: string): string | undefined =>
    opts.get(key) ??
      (envAllowed
        ? Deno.env.get(`MOTE_${key.toUpperCase().replaceAll("-", "_")}`)
        : undefined);
  const name = get("name");
  const cookie = get("cookie");
  if (name === undefined || cookie === undefined) {
    throw new Error("node_child: --name and --cookie are required");
  }
  const tick = get("tick");
  const parentName = get("parent");
  return {
    name,
    cookie,
    ...(tick !== undefined ? { tickTime: Number(tick) } : {}),
    ...(parentName !== undefined
      ? {
        parent: {
          name: parentName,
          host: get("parent-host") ?? "127.0.0.1",
          port: Number(get("parent-port")),
        },
      }
      : {}),
    tcpBaselines: get("tcp-baselines") === "true",
  };
}

if (import.meta.main) {
  await runChild(readConfig(Deno.args));
}

// ---------------------------------------------------------------------------
// The parent side.

/** Options for {@linkcode spawnChildNode}. */
export interface SpawnChildOptions extends ChildConfig {
  /** Where the child's stderr goes. Default `"inherit"`. */
  readonly stderr?: "inherit" | "null";
  /** More flags for `deno run`, e.g. `["--cpu-prof"]` to profile the child. */
  readonly denoFlags?: readonly string[];
}

/** A running child node, seen from the program that started it. */
export interface ChildNode extends AsyncDisposable {
  /** The OS process. */
  readonly process: Deno.ChildProcess;
  /** What the child reported when it became ready. */
  readonly ready: ReadyLine;
  /** The child's node name. */
  readonly name: string;
  /** The child's listening address. */
  readonly address: { readonly host: string; readonly port: number };
  /** The pid of one of its registered processes (`echo`, `pong`, `sink`, `crasher`, `control`). */
  pid(name: string): Pid;
  /** Sends `signal` to the OS process; false if it has already exited. */
  kill(signal: Deno.Signal): boolean;
  /** Kills the process if it still runs, then waits for it and for its stdout to close. */
  close(): Promise<Deno.CommandStatus>;
}

const childPath = new URL("./node_child.ts", import.meta.url).pathname;
const repoRoot = new URL("../", import.meta.url).pathname;

/**
 * Starts `examples/node_child.ts` as a separate Deno process (permissions:
 * `--allow-net=127.0.0.1` only) and resolves once it has printed its ready
 * line. No sleeping: the ready line is read from the child's stdout. If the
 * child exits before it is ready, the promise rejects.
 */
export async function spawnChildNode(
  options: SpawnChildOptions,
): Promise<ChildNode> {
  const args = [
    "run",
    "--quiet",
    "--allow-net=127.0.0.1",
    ...(options.denoFlags ?? []),
    childPath,
    `--name=${options.name}`,
    `--cookie=${options.cookie}`,
  ];
  if (options.tickTime !== undefined) args.push(`--tick=${options.tickTime}`);
  if (options.parent !== undefined) {
    args.push(
      `--parent=${options.parent.name}`,
      `--parent-host=${options.parent.host}`,
      `--parent-port=${options.parent.port}`,
    );
  }
  if (options.tcpBaselines) args.push("--tcp-baselines");
  const process = new Deno.Command(Deno.execPath(), {
    args,
    cwd: repoRoot,
    stdin: "null",
    stdout: "piped",
    stderr: options.stderr ?? "inherit",
  }).spawn();
  const firstLine = Promise.withResolvers<string | undefined>();
  // Reads stdout to its end, so the pipe is always drained and closed.
  const pump = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    let first = true;
    for await (const chunk of process.stdout) {
      text += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (first) {
          first = false;
          firstLine.resolve(line);
        }
      }
    }
    firstLine.resolve(undefined);
  })();
  let exited = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });
  const close = async (): Promise<Deno.CommandStatus> => {
    if (!exited) {
      try {
        process.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }
    const s = await status;
    await pump;
    return s;
  };
  const line = await firstLine.promise;
  let ready: ReadyLine;
  try {
    if (line === undefined) throw new Error("it exited before it was ready");
    ready = JSON.parse(line) as ReadyLine;
    if (ready.ready !== true) throw new Error(`unexpected line: ${line}`);
  } catch (error) {
    await close();
    throw new Error(`Child node ${options.name} did not start`, {
      cause: error,
    });
  }
  return {
    process,
    ready,
    name: ready.name,
    address: { host: ready.host, port: ready.port },
    pid(name: string): Pid {
      const p = ready.pids[name];
      if (p === undefined) throw new Error(`No process named ${name}`);
      return new Pid(ready.name, p.id, p.creation);
    },
    kill(signal: Deno.Signal): boolean {
      if (exited) return false;
      try {
        process.kill(signal);
        return true;
      } catch {
        return false;
      }
    },
    close,
    [Symbol.asyncDispose]: async () => void await close(),
  };
}
