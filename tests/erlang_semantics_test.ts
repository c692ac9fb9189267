// Mote against Erlang itself: the same random scenarios of links, monitors,
// exit signals, trapped exits, messages and deaths run on Mote and on Erlang
// (tests/erlang/semantics.escript), and every process must see the same
// things and end the same way: on one runtime and one Erlang node; spread
// over two nodes against one Erlang node (D6); and with cuts of the
// connection between two nodes against two Erlang nodes (D7). Runs where
// `escript` is on the PATH (`apt-get install -y erlang-base`); elsewhere it
// is ignored. MOTE_SEMANTICS_SEED and MOTE_SEMANTICS_SCENARIOS draw others.
import assert from "node:assert/strict";
import {
  Down,
  Exit,
  type ExitReason,
  isCrash,
  type Pid,
  type Process,
  type Ref,
  Runtime,
} from "../actor/mod.ts";
import { startNode } from "../dist/mod.ts";
import { prng } from "../wire/_samples_test.ts";
import { hasEscript } from "./_erlang.ts";

/** What one process of a scenario is told to do. */
type Command =
  | { op: "trap"; on: boolean }
  | { op: "link" | "unlink"; to: number }
  | { op: "monitor"; to: number; m: number }
  | { op: "monitorName"; to: number; m: number }
  | { op: "demonitor"; m: number; flush: boolean }
  | { op: "exit"; to: number; reason: Reason }
  | { op: "stop"; reason: Reason }
  | { op: "crash" }
  | { op: "spawnLink"; child: "crash" | "normal" }
  | { op: "send"; to: number; n: number };

interface Scenario {
  id: number;
  /** How many processes. */
  k: number;
  /** Actor -1 is the controller; its one command cuts the connection. */
  steps: [actor: number, command: Command | "disconnect"][];
}

/** An atom, or a pair: Erlang's `{shutdown, why}`, Mote's `["shutdown", "why"]`. */
type Reason = string | [string, string];
const PAIR: Reason = ["shutdown", "why"];
const EXIT_REASONS: Reason[] = [
  "normal",
  "kill",
  "killed",
  "shutdown",
  "boom",
  PAIR,
];
const STOP_REASONS: Reason[] = ["normal", "shutdown", "boom", "kill", PAIR];
const erlangReason = (r: Reason) =>
  typeof r === "string" ? r : `{${r.join(", ")}}`;

/**
 * A random scenario; with `disconnects`, about one step in twelve cuts the
 * connection between the two nodes (process i lives on node i mod 2).
 */
function scenario(
  id: number,
  rand: () => number,
  disconnects = false,
): Scenario {
  const k = 3 + Math.floor(rand() * 3);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const proc = () => Math.floor(rand() * k);
  const owned: number[][] = Array.from({ length: k }, () => []);
  let monitors = 0;
  let messages = 0;
  const steps: Scenario["steps"] = [];
  const length = 8 + Math.floor(rand() * 12);
  while (steps.length < length) {
    if (disconnects && rand() < 1 / 12) {
      steps.push([-1, "disconnect"]);
      continue;
    }
    const actor = proc();
    const r = rand();
    let command: Command;
    if (r < 0.14) command = { op: "trap", on: rand() < 0.6 };
    else if (r < 0.34) command = { op: "link", to: proc() };
    else if (r < 0.40) command = { op: "unlink", to: proc() };
    else if (r < 0.54) {
      command = { op: "monitor", to: proc(), m: monitors };
      owned[actor]!.push(monitors++);
    } else if (r < 0.58) {
      command = { op: "monitorName", to: proc(), m: monitors };
      owned[actor]!.push(monitors++);
    } else if (r < 0.62) {
      if (owned[actor]!.length === 0) continue;
      command = {
        op: "demonitor",
        m: pick(owned[actor]!),
        flush: rand() < 0.5,
      };
    } else if (r < 0.76) {
      command = { op: "exit", to: proc(), reason: pick(EXIT_REASONS) };
    } else if (r < 0.81) command = { op: "stop", reason: pick(STOP_REASONS) };
    else if (r < 0.84) command = { op: "crash" };
    else if (r < 0.88) {
      command = { op: "spawnLink", child: rand() < 0.5 ? "crash" : "normal" };
    } else command = { op: "send", to: proc(), n: messages++ };
    steps.push([actor, command]);
  }
  return { id, k, steps };
}

/** The scenario as an Erlang term for the escript. */
function erlangTerm(s: Scenario): string {
  const command = (c: Command): string => {
    switch (c.op) {
      case "trap":
        return `{trap, ${c.on}}`;
      case "link":
      case "unlink":
        return `{${c.op}, ${c.to}}`;
      case "monitor":
        return `{monitor, ${c.to}, ${c.m}}`;
      case "monitorName":
        return `{monitor_name, ${c.to}, ${c.m}}`;
      case "demonitor":
        return `{demonitor, ${c.m}, ${c.flush}}`;
      case "exit":
        return `{exit, ${c.to}, ${erlangReason(c.reason)}}`;
      case "stop":
        return `{stop, ${erlangReason(c.reason)}}`;
      case "crash":
        return "crash";
      case "spawnLink":
        return `{spawn_link, ${c.child}}`;
      case "send":
        return `{send, ${c.to}, ${c.n}}`;
    }
  };
  const steps = s.steps.map(([a, c]) =>
    `{${a}, ${c === "disconnect" ? c : command(c)}}`
  ).join(", ");
  return `{scenario, ${s.id}, ${s.k}, [${steps}]}.`;
}

// Erlang's `error(boom)` ends a process with {boom, Stack}, which the
// escript writes as `boom`; a Mote process that throws `new Error("boom")`
// ends with a Crash, written as its message. A pair is written as Erlang's
// `~p` writes a tuple.
function reasonText(reason: ExitReason): string {
  if (typeof reason === "string") return reason;
  if (isCrash(reason)) return reason.message;
  if (Array.isArray(reason)) return `{${reason.join(",")}}`;
  return Deno.inspect(reason);
}

// Messages between the controller, its helpers and the scenario's processes.
type Control =
  | { cmd: Command }
  | { ping: Pid }
  | { ack: number }
  | { pong: number }
  | { event: number; text: string }
  | { round: number[] }
  | { roundDone: number[] }
  | { watch: number[] }
  | { watching: true }
  | { died: number; reason: ExitReason };
const has = (m: unknown, key: string): boolean =>
  typeof m === "object" && m !== null && key in m;

/**
 * Runs a scenario with its processes spread over `runtimes` (process i on
 * runtime i mod n; the controller on the first) and returns one line, as the
 * escript's. With runtimes of two connected nodes, D6 says every process
 * must see what it sees when all are local; `disconnect` cuts their
 * connection, for the scenario's "disconnect" steps (D7).
 */
function runMote(
  s: Scenario,
  runtimes: Runtime[],
  disconnect?: () => void,
): Promise<string> {
  const line = Promise.withResolvers<string>();
  const pids: Pid[] = [];
  // Registered names, unique to the scenario: what a Down by name shows
  // is what follows the underscore.
  const nameOf = (i: number) => `s${s.id}_n${i}`;
  const index = (pid: Pid | undefined) =>
    pids.findIndex((p) => pid !== undefined && p.equals(pid));
  const process = (ctl: Pid, me: number) => async (proc: Process) => {
    const refs = new Map<string, { ref: Ref; m: number }>();
    for (;;) {
      const msg = await proc.receive();
      if (has(msg, "cmd")) {
        await obey(proc, (msg as { cmd: Command }).cmd, refs);
        proc.send(ctl, { ack: me } satisfies Control);
      } else if (has(msg, "ping")) {
        proc.send((msg as { ping: Pid }).ping, { pong: me } satisfies Control);
      } else {
        let text: string;
        if (msg instanceof Exit) {
          text = `exit p${index(msg.from)} ${reasonText(msg.reason)}`;
        } else if (msg instanceof Down) {
          const m = refs.get(msg.ref.key)?.m;
          const who = msg.name !== undefined
            ? msg.name.slice(msg.name.indexOf("_") + 1)
            : `p${index(msg.pid)}`;
          text = `down m${m} ${who} ${reasonText(msg.reason)}`;
        } else text = `msg ${(msg as { msg: number }).msg}`;
        proc.send(ctl, { event: me, text } satisfies Control);
      }
    }
  };
  const obey = async (
    proc: Process,
    c: Command,
    refs: Map<string, { ref: Ref; m: number }>,
  ) => {
    switch (c.op) {
      case "trap":
        return void proc.trapExit(c.on);
      case "link":
        return proc.link(pids[c.to]!);
      case "unlink":
        return proc.unlink(pids[c.to]!);
      case "monitor": {
        const ref = proc.monitor(pids[c.to]!);
        return void refs.set(ref.key, { ref, m: c.m });
      }
      case "monitorName": {
        const name = nameOf(c.to);
        const node = pids[c.to]!.node;
        const ref = proc.monitor(
          node === proc.self.node ? name : [name, node],
        );
        return void refs.set(ref.key, { ref, m: c.m });
      }
      case "demonitor": {
        const entry = [...refs.values()].find((e) => e.m === c.m)!;
        return void proc.demonitor(entry.ref, { flush: c.flush });
      }
      case "exit":
        return proc.exit(pids[c.to]!, c.reason);
      case "stop":
        return await proc.stop(c.reason);
      case "crash":
        throw new Error("boom");
      case "spawnLink": {
        // A child that is not one of the scenario's: its pid shows as p-1.
        // The parent waits for it to end, so that its exit signal falls in
        // this step on both sides.
        const child = proc.spawnLink(() => {
          if (c.child === "crash") throw new Error("boom");
        });
        const ref = proc.monitor(child);
        await proc.receive((m) => m instanceof Down && m.ref.equals(ref));
        return;
      }
      case "send":
        return proc.send(pids[c.to]!, { msg: c.n });
    }
  };
  // A runtime's helper reports the deaths of the processes it watches
  // (its own: local monitors, which a lost connection leaves alone), and
  // pings processes for the barrier: a ping from there comes after whatever
  // that runtime's processes sent them before (one connection, in order).
  const helper = (ctl: Pid) => async (proc: Process) => {
    const watched = new Map<string, number>();
    for (;;) {
      const msg = await proc.receive();
      if (msg instanceof Down) {
        const i = watched.get(msg.ref.key);
        if (i === undefined) continue;
        watched.delete(msg.ref.key);
        proc.send(ctl, { died: i, reason: msg.reason } satisfies Control);
      } else if (has(msg, "watch")) {
        for (const i of (msg as { watch: number[] }).watch) {
          watched.set(proc.monitor(pids[i]!).key, i);
        }
        proc.send(ctl, { watching: true } satisfies Control);
      } else {
        const { round } = msg as { round: number[] };
        const dead: number[] = [];
        for (const i of round) {
          const ref = proc.monitor(pids[i]!);
          proc.send(pids[i]!, { ping: proc.self } satisfies Control);
          const reply = await proc.receive((m) =>
            (has(m, "pong") && (m as { pong: number }).pong === i) ||
            (m instanceof Down && m.ref.equals(ref))
          );
          if (reply instanceof Down) dead.push(i);
          else proc.demonitor(ref, { flush: true });
        }
        proc.send(ctl, { roundDone: dead } satisfies Control);
      }
    }
  };
  const ctlRuntime = runtimes[0]!;
  const all: Pid[] = [];
  ctlRuntime.spawn(async (ctl) => {
    for (let i = 0; i < s.k; i++) {
      pids.push(
        runtimes[i % runtimes.length]!.spawn(process(ctl.self, i), {
          name: nameOf(i),
        }),
      );
    }
    const helpers = runtimes.map((rt) => rt.spawn(helper(ctl.self)));
    all.push(...pids, ...helpers);
    helpers.forEach((h, n) =>
      ctl.send(
        h,
        {
          watch: pids.map((_, i) => i).filter((i) => i % helpers.length === n),
        } satisfies Control,
      )
    );
    for (let n = 0; n < helpers.length; n++) {
      await ctl.receive((m) => has(m, "watching"));
    }
    let alive = pids.map((_, i) => i);
    const dead = new Map<number, [step: number, reason: ExitReason]>();
    const events: string[][] = pids.map(() => []);
    let step = 0;
    // Takes one message; returns it unless it was bookkeeping.
    const take = async (): Promise<Control | undefined> => {
      const msg = await ctl.receive();
      if (has(msg, "died")) {
        const { died, reason } = msg as { died: number; reason: ExitReason };
        alive = alive.filter((j) => j !== died);
        dead.set(died, [step, reason]);
        return undefined;
      }
      if (has(msg, "event")) {
        const { event, text } = msg as { event: number; text: string };
        events[event]!.push(`${step}:${text}`);
        return undefined;
      }
      return msg as Control;
    };
    // Rounds of pings from every runtime until one finds no death: then
    // every process has taken every signal sent to it.
    const barrier = async () => {
      for (;;) {
        const round = alive;
        for (const h of helpers) ctl.send(h, { round } satisfies Control);
        const seenDead = new Set<number>();
        for (let done = 0; done < helpers.length;) {
          const msg = await take();
          if (msg !== undefined && has(msg, "roundDone")) {
            done++;
            for (const i of (msg as { roundDone: number[] }).roundDone) {
              seenDead.add(i);
            }
          }
        }
        // The helper that watches each tells of its death too.
        while ([...seenDead].some((i) => alive.includes(i))) await take();
        if (alive.length === round.length) return;
      }
    };
    for (const [actor, command] of s.steps) {
      step++;
      if (command === "disconnect") {
        disconnect!();
        await barrier();
        continue;
      }
      if (!alive.includes(actor)) continue;
      ctl.send(pids[actor]!, { cmd: command } satisfies Control);
      for (;;) {
        const msg = await take();
        if (msg !== undefined && has(msg, "ack")) {
          if ((msg as { ack: number }).ack === actor) break;
        }
        if (!alive.includes(actor)) break;
      }
      await barrier();
    }
    await barrier();
    const parts = [String(s.id)];
    for (let i = 0; i < s.k; i++) {
      const death = dead.get(i);
      const status = death === undefined
        ? "alive"
        : `dead ${death[0]} ${reasonText(death[1])}`;
      parts.push(`p${i}: ${events[i]!.join(", ")} | ${status}`);
    }
    // Ends the scenario's processes, and waits until they have ended.
    for (const pid of all) {
      const ref = ctl.monitor(pid);
      ctl.exit(pid, "kill");
      await ctl.receive((m) => m instanceof Down && m.ref.equals(ref));
    }
    line.resolve(parts.join(" ; "));
  }, { trapExit: true });
  return line.promise;
}

/**
 * What neither runtime promises is left out of the comparison:
 * - the order of the events of one step that reach a process from different
 *   senders: they are sorted within their step;
 * - whether a process that dies in a step of a chain of exit signals (A's
 *   death kills B, whose death kills C) takes first a message that came
 *   before the signal that kills it: C may run in between or not, in
 *   Erlang as much as in Mote. Its events of that step are dropped.
 */
function canonical(line: string): string {
  return line.split(" ; ").map((part) => {
    const m = /^(p\d+): (.*) \| (.*)$/.exec(part);
    if (m === null) return part;
    const deathStep = /^dead (\d+) /.exec(m[3]!)?.[1];
    const events = (m[2] === "" ? [] : m[2]!.split(", ")).filter((e) =>
      !e.startsWith(`${deathStep}:`)
    );
    const byStep = new Map<string, string[]>();
    for (const e of events) {
      const step = e.slice(0, e.indexOf(":"));
      byStep.set(step, [...(byStep.get(step) ?? []), e]);
    }
    const sorted = [...byStep.values()].flatMap((es) => es.sort());
    return `${m[1]}: ${sorted.join(", ")} | ${m[3]}`;
  }).join(" ; ");
}

/** A TCP port that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Stops the epmd that listens on `port`, if one does. */
async function stopEpmd(port: string): Promise<void> {
  await new Deno.Command("epmd", {
    args: ["-port", port, "-kill"],
    stdout: "null",
    stderr: "null",
  }).output();
}

const SEED = Number(Deno.env.get("MOTE_SEMANTICS_SEED") ?? 20261128);
const SCENARIOS = Number(Deno.env.get("MOTE_SEMANTICS_SCENARIOS") ?? 500);
// Cuts and reconnections take time on both sides (Erlang 14 s, Mote 7.5 s
// for 500 such scenarios here): fewer of them.
const CUT_SCENARIOS = Math.ceil(SCENARIOS * 0.4);
const haveErlang = await hasEscript();

/** The scenarios and Erlang's line for each. */
interface Runs {
  scenarios: Scenario[];
  erlang: string[];
}

/**
 * Draws `count` scenarios from `seed` and runs them on Erlang: on one
 * node, or (`dist`) spread over two.
 */
async function withErlang(
  seed: number,
  count: number,
  dist: boolean,
  disconnects: boolean,
): Promise<Runs> {
  const rand = prng(seed); // seeded, so a failure replays
  const scenarios = Array.from(
    { length: count },
    (_, id) => scenario(id, rand, disconnects),
  );
  // Two Erlang nodes need an epmd, which outlives them. One of our own, on
  // a port of its own, can be stopped afterwards without touching another.
  const env = dist ? { ERL_EPMD_PORT: String(freePort()) } : undefined;
  const escript = new Deno.Command("escript", {
    args: [
      new URL("./erlang/semantics.escript", import.meta.url).pathname,
      ...(dist ? ["dist"] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    ...(env && { env }),
  }).spawn();
  let out: Deno.CommandOutput;
  try {
    const writer = escript.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(scenarios.map(erlangTerm).join("\n") + "\n"),
    );
    await writer.close();
    out = await escript.output();
  } finally {
    if (env) await stopEpmd(env.ERL_EPMD_PORT);
  }
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `escript failed: ${stderr}`);
  const erlang = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(erlang.length, scenarios.length, stderr);
  return { scenarios, erlang };
}

let local: Promise<Runs> | undefined;
/** The scenarios without cuts, run on one Erlang node (shared by two tests). */
const onOneErlangNode = () =>
  local ??= withErlang(SEED, SCENARIOS, false, false);

/** Runs every scenario on Mote and asserts each ends as on Erlang. */
async function compareWithErlang(
  { scenarios, erlang }: Runs,
  runtimes: Runtime[],
  disconnect?: () => void,
): Promise<void> {
  const differences: string[] = [];
  for (const [i, s] of scenarios.entries()) {
    const mote = canonical(await runMote(s, runtimes, disconnect));
    const expected = canonical(erlang[i]!);
    if (mote !== expected) {
      differences.push(
        `scenario ${s.id} (MOTE_SEMANTICS_SEED=${SEED}): ${erlangTerm(s)}\n` +
          `  erlang: ${expected}\n  mote:   ${mote}`,
      );
    }
  }
  assert.deepEqual(differences, [], differences.slice(0, 5).join("\n"));
}

/** Two connected nodes over loopback TCP, stopped on dispose. */
async function connectedPair(prefix: string) {
  const a = await startNode({ name: `${prefix}a@127.0.0.1`, cookie: "s" });
  const b = await startNode({ name: `${prefix}b@127.0.0.1`, cookie: "s" });
  await a.connect(b.name, b.address!);
  return {
    runtimes: [a.runtime, b.runtime],
    disconnect: () => void a.disconnect(b.name),
    async [Symbol.asyncDispose]() {
      await a.stop();
      await b.stop();
    },
  };
}

Deno.test({
  name:
    "L1-L5, M1-M4: random scenarios of links, monitors and exit signals end as they do in Erlang",
  ignore: !haveErlang,
  async fn() {
    await using rt = new Runtime();
    await compareWithErlang(await onOneErlangNode(), [rt]);
  },
});

Deno.test({
  name:
    "D6: the same scenarios with their processes on two nodes end as they do in Erlang on one",
  ignore: !haveErlang,
  async fn() {
    await using nodes = await connectedPair("sem6");
    await compareWithErlang(await onOneErlangNode(), nodes.runtimes);
  },
});

Deno.test({
  name:
    "D7: scenarios that cut the connection between two nodes end as they do between two Erlang nodes",
  ignore: !haveErlang,
  async fn() {
    await using nodes = await connectedPair("sem7");
    await compareWithErlang(
      await withErlang(SEED + 1, CUT_SCENARIOS, true, true),
      nodes.runtimes,
      nodes.disconnect,
    );
  },
});
