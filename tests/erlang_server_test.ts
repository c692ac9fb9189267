// Mote's servers against Erlang's `gen_server`: the same random scenarios
// run on Mote and on Erlang (tests/erlang/server.escript). A parent starts a
// server (trapping exits or not, linked or not, named or not, whose init
// succeeds, stops with a reason or crashes, whose terminate may crash); a
// process links to it and another monitors it; then, step by step, clients
// call it (replied at once, replied later with reply(from), never replied and
// timed out, stopping it with and without a reply, crashing it, calling or
// stopping itself from inside the callback), the controller casts to it and
// sends it plain messages (flush the deferred calls, stop, crash), its parent
// and other processes send it exit signals (normal, shutdown,
// ["shutdown", "x"], kill, a custom reason), stopServer stops it, a second
// server is started under its name; in batches, while one call holds the
// server in its callback, casts, messages, calls from several clients, a
// stop that times out and exit signals are queued in a set order and then
// let through. At the end the server is stopped if still alive and called
// once dead, by pid and by name. Each process's own log must be the same on
// both sides: every callback with the state it saw (the server's), the
// result of each call (each client's), of each step (the controller's), the
// Exit messages (the parent's, the linked process's), the Down (the
// monitor's), and every message left over in a mailbox (a late reply must
// never be). Only the order of each log is compared, never a time. Runs
// where `escript` is on the PATH; elsewhere it is ignored.
// MOTE_SERVER_SEED and MOTE_SERVER_SCENARIOS draw others.
//
// Where Mote differs on purpose (README, JSDoc), the test maps the
// difference:
// - a call that fails rejects with CallError(reason) where gen_server:call
//   exits the caller with {Reason, {gen_server, call, Args}}, and a
//   stopServer that fails rejects with CallError(reason) where
//   gen_server:stop exits with Reason: both are written `error <reason>`;
// - a crash is a Crash carrying the error's name, message and stack, where
//   Erlang's is {Reason, Stacktrace}: both are written `crash:<message>`;
// - a linked starter hears of a failed init through startServer's
//   rejection only (Mote's servers unlink from their starter when init
//   fails), where OTP's start_link caller also gets the exit signal: the
//   Erlang parent takes that `EXIT` without logging it;
// - a started server's pid is only known to the test's processes, so
//   {already_started, Pid} is written with the role `srv`.
// Not drawn: handleInfo and the other callbacks are always given (Mote stops
// a server with no handleInfo on a non-normal Exit, as documented; OTP logs
// and drops it), and a `throw` from a callback is always a crash (Erlang's
// throw(Value) is a return value).
import assert from "node:assert/strict";
import {
  call,
  CallError,
  cast,
  Down,
  Exit,
  type ExitReason,
  type From,
  InitStop,
  isCrash,
  type Pid,
  type Process,
  reply,
  Runtime,
  type ServerBehaviour,
  ServerStartError,
  startServer,
  stopServer,
} from "../actor/mod.ts";
import { prng } from "../wire/_samples_test.ts";
import { hasEscript, runEscript } from "./_erlang.ts";

/** An atom, or a pair: Erlang's `{shutdown, x}`, Mote's `["shutdown", "x"]`. */
type Reason = string | [string, string];
/** What a cast or a plain message asks of the server. */
type Msg = "inc" | "flush" | "crash" | { stop: Reason };
/** What a call asks of the server. */
type Req =
  | "get"
  | "defer"
  | "crash"
  | "self"
  | "selfstop"
  | "wait"
  | { stop: Reason }
  | { stopnr: Reason };
type Client = "c0" | "c1" | "c2" | "c3" | "c4";
type Via = "pid" | "name";

type Item =
  | { op: "cast" | "info"; msg: Msg }
  | { op: "call"; c: Client; req: Req; via: Via }
  | { op: "stop"; reason: Reason }
  | { op: "exitOther"; reason: Reason };

type Step =
  | { op: "call"; c: Client; req: Req; timeout: "short" | "long"; via: Via }
  | { op: "cast" | "info"; msg: Msg }
  | { op: "exitParent" | "exitOther"; reason: Reason }
  | { op: "stop"; reason: Reason }
  | { op: "dup" }
  | { op: "batch"; items: Item[] };

interface Scenario {
  id: number;
  trap: boolean;
  link: boolean;
  named: boolean;
  init: "ok" | "crash" | { stop: Reason };
  termCrash: boolean;
  steps: Step[];
}

const SHORT = 50; // ms: a call nobody answers in time
const LONG = 5000; // ms: a call that is answered, or fails, long before
const SELF = 200; // ms: a server's call or stop aimed at itself
const CLIENTS: Client[] = ["c0", "c1", "c2", "c3", "c4"];

const X: Reason = ["shutdown", "x"];
const STOP_REASONS: Reason[] = ["normal", "shutdown", X, "boom", "kill"];
const EXIT_REASONS: Reason[] = ["normal", "shutdown", X, "boom", "kill"];

function scenario(id: number, rand: () => number): Scenario {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const named = rand() < 0.5;
  const via = (): Via => named && rand() < 0.5 ? "name" : "pid";
  // A client holding a call that waits for a flush is never used again.
  const idle: Client[] = ["c1", "c2", "c3", "c4"];
  const msg = (): Msg => {
    const r = rand();
    if (r < 0.4) return "inc";
    if (r < 0.7) return "flush";
    if (r < 0.85) return { stop: pick(STOP_REASONS) };
    return "crash";
  };
  const req = (batch: boolean): Req => {
    const r = rand();
    if (r < 0.35) return "get";
    if (r < 0.6 && !batch) return "defer";
    if (r < 0.7) return { stop: pick(STOP_REASONS) };
    if (r < 0.78) return { stopnr: pick(STOP_REASONS) };
    if (r < 0.86) return "crash";
    if (batch) return "get";
    return rand() < 0.5 ? "self" : "selfstop";
  };
  const steps: Step[] = [];
  const length = 1 + int(8);
  while (steps.length < length) {
    const r = rand();
    if (r < 0.3 && idle.length > 0) {
      const q = req(false);
      const timeout = q === "defer" && rand() < 0.3 ? "short" : "long";
      const c = pick(idle);
      if (q === "defer" && timeout === "long") idle.splice(idle.indexOf(c), 1);
      steps.push({ op: "call", c, req: q, timeout, via: via() });
    } else if (r < 0.45) steps.push({ op: pick(["cast", "info"]), msg: msg() });
    else if (r < 0.55) {
      steps.push({
        op: pick(["exitParent", "exitOther"]),
        reason: pick(EXIT_REASONS),
      });
    } else if (r < 0.6) steps.push({ op: "stop", reason: pick(STOP_REASONS) });
    else if (r < 0.65) {
      if (named) steps.push({ op: "dup" });
    } else if (r < 0.8) {
      const items: Item[] = [];
      const free = [...idle];
      const n = 1 + int(5);
      while (items.length < n) {
        const k = rand();
        if (k < 0.4 && free.length > 0) {
          const c = pick(free);
          free.splice(free.indexOf(c), 1);
          items.push({ op: "call", c, req: req(true), via: via() });
        } else if (k < 0.8) {
          items.push({ op: pick(["cast", "info"]), msg: msg() });
        } else if (k < 0.9) {
          items.push({ op: "stop", reason: pick(STOP_REASONS) });
        } else items.push({ op: "exitOther", reason: pick(EXIT_REASONS) });
      }
      steps.push({ op: "batch", items });
    } else {
      // Calls that change nothing, so that most scenarios keep a server to
      // talk to.
      const c = idle.length > 0 ? pick(idle) : undefined;
      if (c !== undefined) {
        steps.push({ op: "call", c, req: "get", timeout: "long", via: via() });
      }
    }
  }
  const i = rand();
  return {
    id,
    trap: rand() < 0.5,
    link: rand() < 0.6,
    named,
    init: i < 0.06 ? "crash" : i < 0.12 ? { stop: pick(STOP_REASONS) } : "ok",
    termCrash: rand() < 0.15,
    steps,
  };
}

const erlangReason = (r: Reason) =>
  typeof r === "string" ? r : `{${r.join(", ")}}`;

/** The scenario as an Erlang term for the escript. */
function erlangTerm(s: Scenario): string {
  const msg = (m: Msg) =>
    typeof m === "string" ? m : `{stop, ${erlangReason(m.stop)}}`;
  const req = (r: Req) =>
    typeof r === "string"
      ? r
      : "stop" in r
      ? `{stop, ${erlangReason(r.stop)}}`
      : `{stopnr, ${erlangReason(r.stopnr)}}`;
  const item = (it: Item): string => {
    switch (it.op) {
      case "cast":
      case "info":
        return `{${it.op}, ${msg(it.msg)}}`;
      case "call":
        return `{call, ${it.c}, ${req(it.req)}, ${it.via}}`;
      case "stop":
        return `{stop, ${erlangReason(it.reason)}}`;
      case "exitOther":
        return `{exit_other, ${erlangReason(it.reason)}}`;
    }
  };
  const step = (st: Step): string => {
    switch (st.op) {
      case "call":
        return `{call, ${st.c}, ${req(st.req)}, ${st.timeout}, ${st.via}}`;
      case "cast":
      case "info":
        return `{${st.op}, ${msg(st.msg)}}`;
      case "exitParent":
        return `{exit_parent, ${erlangReason(st.reason)}}`;
      case "exitOther":
        return `{exit_other, ${erlangReason(st.reason)}}`;
      case "stop":
        return `{stop, ${erlangReason(st.reason)}}`;
      case "dup":
        return "dup";
      case "batch":
        return `{batch, [${st.items.map(item).join(", ")}]}`;
    }
  };
  const init = typeof s.init === "string"
    ? s.init
    : `{stop, ${erlangReason(s.init.stop)}}`;
  return `{scenario, ${s.id}, ${s.trap}, ${s.link}, ${s.named}, ${init}, ${s.termCrash}, [${
    s.steps.map(step).join(", ")
  }]}.`;
}

/** A reason, or a value, in the escript's words (a crash is its message). */
function reasonText(reason: unknown): string {
  if (typeof reason === "string") return reason;
  if (typeof reason === "number") return String(reason);
  if (isCrash(reason)) return `crash:${reason.message}`;
  if (Array.isArray(reason)) return `{${reason.map(reasonText).join(",")}}`;
  return Deno.inspect(reason);
}

/** What a call or a stop came to, in the escript's words. */
async function outcome(pending: Promise<unknown>): Promise<string> {
  try {
    const value = await pending;
    return value === undefined ? "ok" : `reply ${reasonText(value)}`;
  } catch (error) {
    if (error instanceof CallError) return `error ${reasonText(error.reason)}`;
    return `error ${error instanceof Error ? error.name : String(error)}`;
  }
}

const reqText = (r: Req | "sync"): string =>
  typeof r === "string"
    ? r
    : "stop" in r
    ? `stop ${reasonText(r.stop)}`
    : `stopnr ${reasonText(r.stopnr)}`;

const has = (m: unknown, key: string): boolean =>
  typeof m === "object" && m !== null && key in m;

const toReason = (r: Reason): ExitReason => typeof r === "string" ? r : [...r];

interface SrvArgs {
  ctl: Pid;
  obs: Pid;
  p: Pid;
  init: Scenario["init"];
  termCrash: boolean;
}
interface SrvState extends SrvArgs {
  n: number;
  deferred: From[];
}

const log = (proc: Process, s: SrvArgs, entry: string) =>
  proc.send(s.obs, { log: "srv", entry });

function msgText(m: unknown, s: SrvState): string {
  if (m instanceof Exit) {
    return `exit ${m.from.equals(s.p) ? "p" : "other"} ${reasonText(m.reason)}`;
  }
  if (has(m, "stop")) {
    return `stop ${reasonText((m as { stop: unknown }).stop)}`;
  }
  return reasonText(m);
}

function handle(m: unknown, s: SrvState) {
  if (m === "flush") {
    for (const from of s.deferred) reply(from, "flushed");
    return { state: { ...s, deferred: [] } };
  }
  if (has(m, "stop")) {
    return { stop: (m as { stop: ExitReason }).stop, state: s };
  }
  if (m === "crash") throw new Error("boom");
  return { state: s };
}

const server: ServerBehaviour<SrvArgs, SrvState, Req | "sync", unknown, Msg> = {
  init: (args, proc) => {
    log(proc, args, "init");
    if (args.init === "crash") throw new Error("boom");
    if (args.init !== "ok") throw new InitStop(toReason(args.init.stop));
    return { ...args, n: 0, deferred: [] };
  },
  handleCall: async (req, from, s, proc) => {
    if (req === "sync") return { reply: "ok", state: s };
    log(proc, s, `call ${reqText(req)} st=${s.n}`);
    const state = { ...s, n: s.n + 1 };
    if (req === "get") return { reply: s.n, state };
    if (req === "defer") {
      proc.send(s.ctl, { deferred: from.pid });
      return {
        noreply: true,
        state: { ...state, deferred: [...s.deferred, from] },
      };
    }
    if (req === "crash") throw new Error("boom");
    if (req === "self") {
      const r = await outcome(call(proc, proc.self, "get", { timeout: SELF }));
      return { reply: r, state };
    }
    if (req === "selfstop") {
      const r = await outcome(
        stopServer(proc, proc.self, "normal", { timeout: SELF }),
      );
      return { reply: r, state };
    }
    if (req === "wait") {
      proc.send(s.ctl, "waiting");
      await proc.receive((m) => m === "release");
      return { reply: "released", state };
    }
    if ("stop" in req) {
      return { stop: toReason(req.stop), reply: "stopping", state };
    }
    return { stop: toReason(req.stopnr), state };
  },
  handleCast: (m, s, proc) => {
    log(proc, s, `cast ${msgText(m, s)} st=${s.n}`);
    return handle(m, { ...s, n: s.n + 1 });
  },
  handleInfo: (m, s, proc) => {
    log(proc, s, `info ${msgText(m, s)} st=${s.n}`);
    return handle(m, { ...s, n: s.n + 1 });
  },
  terminate: (reason, s, proc) => {
    log(proc, s, `terminate ${reasonText(reason)} st=${s.n}`);
    if (s.termCrash) throw new Error("tboom");
  },
};

/** The second server started under the taken name. */
const dupServer: ServerBehaviour<Pid, null> = {
  init: (obs, proc) => {
    proc.send(obs, { log: "dup", entry: "init" });
    return null;
  },
};

/** What is left in the mailbox: a late reply must never be. */
async function leftovers(proc: Process): Promise<string[]> {
  const left: string[] = [];
  for (;;) {
    const m = await proc.receive({ timeout: 0 });
    if (m === undefined) return left;
    left.push(`leftover ${Deno.inspect(m)}`);
  }
}

async function observer(proc: Process): Promise<void> {
  const logs = new Map<string, string[]>();
  const add = (who: string, entry: string) =>
    logs.set(who, [...logs.get(who) ?? [], entry]);
  for (;;) {
    const m = await proc.receive() as Record<string, unknown>;
    if (m instanceof Down) add("down", `down ${reasonText(m.reason)}`);
    else if (has(m, "log")) add(m.log as string, m.entry as string);
    else if (has(m, "watch")) {
      proc.monitor(m.watch as Pid);
      proc.send(m.ctl as Pid, "watching");
    } else if (has(m, "dump")) proc.send(m.dump as Pid, { obsLog: logs });
  }
}

async function parent(proc: Process): Promise<void> {
  const entries: string[] = [];
  for (;;) {
    const m = await proc.receive() as Record<string, unknown>;
    if (m instanceof Exit) entries.push(`exit ${reasonText(m.reason)}`);
    else if (has(m, "start")) {
      const { ctl, link, name, args, trap } = m as {
        ctl: Pid;
        link: boolean;
        name: string | undefined;
        args: SrvArgs;
        trap: boolean;
      };
      try {
        const pid = await startServer(proc, server, args, {
          link,
          trapExit: trap,
          ...(name !== undefined ? { name } : {}),
        });
        proc.send(ctl, { started: pid });
      } catch (error) {
        if (!(error instanceof ServerStartError)) throw error;
        proc.send(ctl, { startFailed: error.reason });
      }
    } else if (has(m, "exit")) {
      proc.exit(m.exit as Pid, toReason(m.reason as Reason));
      proc.send(m.ctl as Pid, "exited");
    } else if (has(m, "finish")) {
      proc.send(m.finish as Pid, {
        pLog: [...entries, ...await leftovers(proc)],
      });
      return;
    }
  }
}

async function buddy(proc: Process): Promise<void> {
  const entries: string[] = [];
  for (;;) {
    const m = await proc.receive() as Record<string, unknown>;
    if (m instanceof Exit) entries.push(`exit ${reasonText(m.reason)}`);
    else if (has(m, "link")) {
      proc.link(m.link as Pid);
      proc.send(m.ctl as Pid, "linked");
    } else if (has(m, "finish")) {
      proc.send(m.finish as Pid, {
        buddyLog: [...entries, ...await leftovers(proc)],
      });
      return;
    }
  }
}

function client(name: Client): (proc: Process) => Promise<void> {
  return async (proc) => {
    const entries: string[] = [];
    for (;;) {
      const m = await proc.receive() as Record<string, unknown>;
      if (has(m, "call")) {
        const { ctl, target, req, timeout } = m as {
          ctl: Pid;
          target: Pid | string;
          req: Req;
          timeout: number;
        };
        const pending = call(proc, target, req, { timeout });
        proc.send(ctl, { sent: name });
        entries.push(`${reqText(req)} ${await outcome(pending)}`);
        proc.send(ctl, { done: name });
      } else if (has(m, "finish")) {
        proc.send(m.finish as Pid, {
          clientLog: [...entries, ...await leftovers(proc)],
        });
        return;
      }
    }
  };
}

/** Runs a scenario on Mote and returns its line, as the escript's. */
async function runMote(s: Scenario): Promise<string> {
  await using rt = new Runtime();
  const line = Promise.withResolvers<string>();
  rt.spawn(async (ctl) => {
    try {
      line.resolve(await control(ctl));
    } catch (error) {
      line.reject(error);
    }
  }, { trapExit: true });
  const control = async (ctl: Process): Promise<string> => {
    const obs = ctl.spawn(observer);
    const p = ctl.spawn(parent, { trapExit: true });
    const bud = ctl.spawn(buddy, { trapExit: true });
    const clients = new Map(CLIENTS.map((c) => [c, ctl.spawn(client(c))]));
    const name = s.named ? "srv" : undefined;
    const args: SrvArgs = {
      ctl: ctl.self,
      obs,
      p,
      init: s.init,
      termCrash: s.termCrash,
    };
    ctl.send(p, {
      start: true,
      ctl: ctl.self,
      link: s.link,
      name,
      args,
      trap: s.trap,
    });
    const started = await ctl.receive((m) =>
      has(m, "started") || has(m, "startFailed")
    ) as { started?: Pid; startFailed?: ExitReason };
    const entries: string[] = [];
    const await_ = (match: (m: unknown) => boolean) => ctl.receive(match);
    const done = (c: Client) => (m: unknown) =>
      has(m, "done") && (m as { done: string }).done === c;
    const sent = (c: Client) => (m: unknown) =>
      has(m, "sent") && (m as { sent: string }).sent === c;
    if (started.started !== undefined) {
      const srv = started.started;
      const target = (via: Via) =>
        via === "name" && name !== undefined ? name : srv;
      ctl.send(obs, { watch: srv, ctl: ctl.self });
      await await_((m) => m === "watching");
      ctl.send(bud, { link: srv, ctl: ctl.self });
      await await_((m) => m === "linked");
      entries.push("started");
      const exitOther = async (reason: Reason) => {
        const sender = ctl.spawn((o) => o.exit(srv, toReason(reason)));
        const ref = ctl.monitor(sender);
        await await_((m) => m instanceof Down && m.ref.equals(ref));
      };
      const callStep = async (
        c: Client,
        req: Req,
        timeout: number,
        via: Via,
      ) => {
        const client = clients.get(c)!;
        ctl.send(client, {
          call: true,
          ctl: ctl.self,
          target: target(via),
          req,
          timeout,
        });
        await await_(sent(c));
        return client;
      };
      const step = async (st: Step): Promise<string> => {
        switch (st.op) {
          case "call": {
            const client = await callStep(
              st.c,
              st.req,
              st.timeout === "short" ? SHORT : LONG,
              st.via,
            );
            const deferred = (m: unknown) =>
              has(m, "deferred") &&
              client.equals((m as { deferred: Pid }).deferred);
            if (st.req === "defer" && st.timeout === "long") {
              const m = await await_((m) => deferred(m) || done(st.c)(m));
              return has(m, "deferred") ? "deferred" : "done";
            }
            await await_(done(st.c));
            if (st.req === "defer") await ctl.receive(deferred, { timeout: 0 });
            return "done";
          }
          case "cast":
            cast(ctl, srv, st.msg);
            return "cast";
          case "info":
            ctl.send(srv, st.msg);
            return "info";
          case "exitParent":
            ctl.send(p, { exit: srv, reason: st.reason, ctl: ctl.self });
            await await_((m) => m === "exited");
            return "exited";
          case "exitOther":
            await exitOther(st.reason);
            return "exited";
          case "stop": {
            const r = await outcome(
              stopServer(ctl, srv, toReason(st.reason), { timeout: LONG }),
            );
            return r;
          }
          case "dup": {
            try {
              const d = await startServer(ctl, dupServer, obs, { name: "srv" });
              return `dup started ${await outcome(stopServer(ctl, d))}`;
            } catch (error) {
              if (
                error instanceof ServerStartError &&
                Array.isArray(error.reason) &&
                error.reason[0] === "already_started" &&
                srv.equals(error.reason[1])
              ) return "dup already_started srv";
              if (error instanceof ServerStartError) {
                return `dup error ${reasonText(error.reason)}`;
              }
              return `dup error ${error instanceof Error ? error.name : error}`;
            }
          }
          case "batch": {
            await callStep("c0", "wait", LONG, "pid");
            const held = await await_((m) =>
              m === "waiting" || done("c0")(m)
            ) ===
              "waiting";
            const results = ["batch"];
            const callers: Client[] = held ? ["c0"] : [];
            for (const it of st.items) {
              switch (it.op) {
                case "cast":
                  cast(ctl, srv, it.msg);
                  results.push("cast");
                  break;
                case "info":
                  ctl.send(srv, it.msg);
                  results.push("info");
                  break;
                case "call":
                  await callStep(it.c, it.req, LONG, it.via);
                  if (held) callers.push(it.c);
                  else await await_(done(it.c));
                  results.push("call");
                  break;
                case "stop":
                  results.push(
                    await outcome(
                      stopServer(ctl, srv, toReason(it.reason), {
                        timeout: SHORT,
                      }),
                    ),
                  );
                  break;
                case "exitOther":
                  await exitOther(it.reason);
                  results.push("exited");
                  break;
              }
            }
            if (held) ctl.send(srv, "release");
            for (const c of callers) await await_(done(c));
            return results.join(" ");
          }
        }
      };
      for (const [i, st] of s.steps.entries()) {
        const r = await step(st);
        const sync = await outcome(call(ctl, srv, "sync", { timeout: LONG }));
        entries.push(`${i + 1}:${r} ${sync === "reply ok" ? "alive" : "dead"}`);
      }
      entries.push(
        rt.isAlive(srv)
          ? `final ${await outcome(
            stopServer(ctl, srv, "shutdown", { timeout: LONG }),
          )}`
          : "final dead",
      );
      entries.push(
        `after ${await outcome(call(ctl, srv, "get", { timeout: LONG }))}`,
      );
    } else {
      entries.push(`start_failed ${reasonText(started.startFailed)}`);
    }
    if (s.named) {
      entries.push(
        `by_name ${await outcome(call(ctl, "srv", "get", { timeout: LONG }))}`,
      );
    }
    const parts: [string, string[]][] = [["ctl", entries]];
    const clientLogs: [string, string[]][] = [];
    for (const c of CLIENTS) {
      ctl.send(clients.get(c)!, { finish: ctl.self });
      const { clientLog } = await await_((m) => has(m, "clientLog")) as {
        clientLog: string[];
      };
      clientLogs.push([c, clientLog]);
    }
    ctl.send(p, { finish: ctl.self });
    const { pLog } = await await_((m) => has(m, "pLog")) as { pLog: string[] };
    ctl.send(bud, { finish: ctl.self });
    const { buddyLog } = await await_((m) => has(m, "buddyLog")) as {
      buddyLog: string[];
    };
    ctl.send(obs, { dump: ctl.self });
    const { obsLog } = await await_((m) => has(m, "obsLog")) as {
      obsLog: Map<string, string[]>;
    };
    ctl.exit(obs, "kill");
    parts.push(
      ["srv", obsLog.get("srv") ?? []],
      ["dup", obsLog.get("dup") ?? []],
      ["down", obsLog.get("down") ?? []],
      ["p", pLog],
      ["buddy", buddyLog],
      ...clientLogs,
    );
    return (String(s.id) +
      parts.map(([who, es]) => ` ; ${who}: ${es.join(", ")}`).join("")).trim();
  };
  return await line.promise;
}

const SEED = Number(Deno.env.get("MOTE_SERVER_SEED") ?? 20261130);
const SCENARIOS = Number(Deno.env.get("MOTE_SERVER_SCENARIOS") ?? 200);
const haveErlang = await hasEscript();

function onErlang(scenarios: Scenario[]): Promise<string[]> {
  return runEscript("server.escript", scenarios.map(erlangTerm));
}

Deno.test({
  name:
    "server: random scenarios of calls, casts, messages, stops, exit signals and crashes go as they do with Erlang's gen_server",
  ignore: !haveErlang,
  async fn() {
    const rand = prng(SEED);
    const scenarios = Array.from(
      { length: SCENARIOS },
      (_, id) => scenario(id, rand),
    );
    const erlang = await onErlang(scenarios);
    const differences: string[] = [];
    for (const [i, s] of scenarios.entries()) {
      const mote = await runMote(s);
      const expected = erlang[i]!.trim();
      if (mote !== expected) {
        // Only the logs that differ, each side by side.
        const theirs = expected.split(" ; ");
        const ours = mote.split(" ; ");
        const parts = theirs.flatMap((part, j) =>
          part === ours[j]
            ? []
            : [`  erlang: ${part}\n  mote:   ${ours[j] ?? "(none)"}`]
        );
        differences.push(
          `scenario ${s.id} (MOTE_SERVER_SEED=${SEED}): ${erlangTerm(s)}\n` +
            parts.join("\n"),
        );
      }
    }
    assert.deepEqual(
      differences,
      [],
      `${differences.length} of ${scenarios.length} differ:\n` +
        differences.slice(0, 8).join("\n"),
    );
  },
});
