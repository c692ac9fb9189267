// Bad input across the public API ("Bad input gets a clear, named error and
// never takes the node down"): every argument of every public function and
// method is given each value of a hostile table (wrong types, nonsense of the
// right type, dead and foreign pids, objects whose traps throw, thenables…)
// with the other arguments valid. Each call must succeed (where the JSDoc
// allows the value) or throw / reject with a MoteError with a message (the
// wire layer, which imports nothing of ours: its WireError,
// UnencodableValueError, documented RangeError, or a TypeError naming the
// argument of the wrong type); it must not hang, leave
// an unhandled rejection or uncaught error, or stop the runtime, node,
// connection, server or supervisor it used from working. Callbacks that
// throw or return hostile values, and hostile exit reasons, are checked the
// same way.
//
// A hostile value whose own trap throws (HostileError) may see that very
// error come back to the caller who passed it: the caller's own exception,
// passed through. Where a callback produced the value, it may not.
//
// Cases the runtime gets wrong (none today) go in KNOWN_FAILURES (key
// `<function>(<argument>) ← <value>`, with the bug) and are skipped.
// MOTE_FUZZ_KNOWN=1 runs them anyway and lists the ones that pass now;
// MOTE_FUZZ_ONLY=<text> runs the cases whose key contains it;
// MOTE_FUZZ_TRACE=1 logs each case; MOTE_FUZZ_DUMP=1 prints failures as JSON.
import assert from "node:assert/strict";
import {
  call,
  cast,
  countChildren,
  deleteChild,
  Exit,
  type From,
  InitStop,
  MoteError,
  Pid,
  type Process,
  Ref,
  reply,
  restartChild,
  Runtime,
  type ServerBehaviour,
  serverChild,
  startChild,
  startServer,
  startSupervisor,
  stopServer,
  supervisorChild,
  terminateChild,
  whichChildren,
} from "../mod.ts";
import {
  Groups,
  MemoryTransport,
  remoteChild,
  startGroups,
  startNode,
  tlsTransport,
} from "../dist/mod.ts";
import {
  decodeFrame,
  encodeFrame,
  FrameDecoder,
  FrameWriter,
  MsgpackCodec,
  Tag,
  UnencodableValueError,
  WireError,
} from "../wire/mod.ts";
import { idle, within } from "./_util.ts";
import { nodeName } from "./_nodes.ts";

// --- Hostile values -------------------------------------------------------

/** What the hostile objects throw from their traps and methods. */
class HostileError extends Error {
  override name = "HostileError";
}

type Value = readonly [label: string, value: unknown];

/** An object every one of whose proxy traps throws. */
function throwingProxy(): object {
  const handler = new Proxy({}, {
    get: (_target, trap) => () => {
      throw new HostileError(`trap ${String(trap)}`);
    },
  });
  return new Proxy({}, handler);
}

const MB_STRING = "m".repeat(1 << 20);
const NAME_300 = "n".repeat(300);
const GHOST = "ghost@127.0.0.1";

/**
 * The hostile table: wrong types, nonsense of the right type, and pids and
 * refs that name nothing. `rt` gives the local node for forged pids; `dead`
 * is a pid of `rt` that has exited.
 */
function hostile(rt: Runtime, dead: Pid): Value[] {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  return [
    ["undefined", undefined],
    ["null", null],
    ["0", 0],
    ["-1", -1],
    ["-0", -0],
    ["1.5", 1.5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["2**53", 2 ** 53],
    ["1e-9", 1e-9],
    ['""', ""],
    ['"x"', "x"],
    ["300-byte string", NAME_300],
    ["1 MB string", MB_STRING],
    ["lone surrogate", "\uD800"],
    ["string with NUL", "a\u0000b"],
    ["true", true],
    ["{}", {}],
    ["[]", []],
    ["Symbol()", Symbol("hostile")],
    ["function", () => {}],
    ["10n", 10n],
    ["invalid Date", new Date(NaN)],
    ["throwing proxy", throwingProxy()],
    ["throwing toString", {
      toString() {
        throw new HostileError("toString");
      },
      valueOf() {
        throw new HostileError("valueOf");
      },
    }],
    ["null-prototype object", Object.create(null)],
    ["frozen object", Object.freeze({ a: 1 })],
    ["cyclic object", cyclic],
    ["never-settling thenable", { then() {} }],
    ["dead pid", dead],
    ["pid of an unconnected node", new Pid(GHOST, 1, 1)],
    ["never-spawned local pid", new Pid(rt.node, 2 ** 31, rt.creation)],
    [
      "local pid of another creation",
      new Pid(rt.node, 1, (rt.creation ^ 1) >>> 0),
    ],
    ["garbage Pid", new Pid(42 as never, NaN, -1)],
    ["pid look-alike", { node: rt.node, id: dead.id, creation: rt.creation }],
    ["foreign Ref", new Ref(GHOST, 1, 1)],
    ["garbage Ref", new Ref(undefined as never, NaN, -1)],
    ["[name, unconnected node]", ["x", GHOST]],
    ["[300-byte name, node]", [NAME_300, GHOST]],
    ["[1, 2]", [1, 2]],
  ];
}

// --- Known failures -------------------------------------------------------

/**
 * Cases that fail because of a runtime bug not fixed yet, keyed
 * `<function>(<argument>) ← <value label>`, with why; the tests skip them.
 * Empty: the 20 bugs this file found when it was written are fixed.
 * `MOTE_FUZZ_KNOWN=1` runs listed cases anyway and lists those that pass.
 */
const KNOWN_FAILURES: Readonly<Record<string, string>> = {};
/** Reasons in KNOWN_FAILURES whose cases crash or wedge the host: never run. */
const NEVER_RUN = new Set<string>();

// --- What is acceptable ---------------------------------------------------

type Accept = (value: unknown) => boolean;
const anything: Accept = () => true;
const nothing: Accept = () => false;
const notUndefined: Accept = (v) => v !== undefined;
const isObject: Accept = (v) => typeof v === "object" && v !== null;
const optObject: Accept = (v) => v == null || isObject(v);
const isFunction: Accept = (v) => typeof v === "function";
const isBoolean: Accept = (v) => typeof v === "boolean";
const optBoolean: Accept = (v) => v == null || isBoolean(v);
const isName: Accept = (v) => typeof v === "string" && v.length > 0;
const optName: Accept = (v) => v == null || isName(v);
const isPid: Accept = (v) => v instanceof Pid;
const isRef: Accept = (v) => v instanceof Ref;
const isMs: Accept = (v) => typeof v === "number" && v >= 0;
const optMs: Accept = (v) => v == null || isMs(v);
/** A timeout given (not null) that a call must honour. */
const givenMs: Accept = (v) => v === undefined || isMs(v);
const isFiniteMs: Accept = (v) => isMs(v) && Number.isFinite(v as number);
const isPair: Accept = (v) =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === "string" &&
  typeof v[1] === "string";
const isDest: Accept = (v) => isPid(v) || isName(v) || isPair(v);
/**
 * Where exit, link and monitor may aim: an unregistered local name, even
 * `""`, is no error there (dropped, or `noproc`).
 */
const isLooseDest: Accept = (v) =>
  isPid(v) || typeof v === "string" || isPair(v);
/** A thenable reply is adopted by the promise that carries it: it may wait. */
const thenable: Accept = (v) => v instanceof Object && "then" in v;
/** A wait (in ms, or none) that outlasts the bound on a pending call. */
const longWait: Accept = (v) =>
  v === undefined || (typeof v === "number" && v >= PENDING_MS);
/** A string or nothing: `whereis`-like lookups answer "none" for anything. */
const lenient = anything;

// --- Harness --------------------------------------------------------------

type Outcome =
  | { kind: "returned" | "resolved"; value: unknown }
  | { kind: "threw" | "rejected"; error: unknown }
  | { kind: "exited"; reason: unknown }
  | { kind: "pending" };

/** One argument position of one function. */
interface Position {
  /** E.g. `Runtime.send(dest)`. */
  readonly name: string;
  /** Calls the function with `value` in this position, the others valid. */
  readonly call: (value: never, proc: Process) => unknown;
  /** Values for which success is legitimate (default: any). */
  readonly accepts?: Accept;
  /** Values that must succeed: refusing one is a failure too. */
  readonly succeeds?: Accept;
  /** A call still pending after the bound is fine (a legitimate wait). */
  readonly pendingOk?: boolean | Accept;
  /** The calling process may exit (the call ends it, legitimately). */
  readonly exitOk?: boolean;
  /** A payload that may fail to cross the wire: UnencodableValueError is documented. */
  readonly payload?: boolean;
  /** Other documented errors (the wire's own classes, a transport's refusals). */
  readonly errors?: (error: unknown) => boolean;
  /**
   * Whether a HostileError coming back is the caller's own (it passed the
   * hostile value). Not so where a callback produced the value: then the
   * error escaped from someone else's code. Default true.
   */
  readonly callersOwn?: boolean;
  /** Values tried here only, besides the hostile table. */
  readonly extra?: readonly Value[];
  /** Leave what the call returns alone (a supervisor's children). */
  readonly keep?: boolean;
  /** Labels of values not tried here (each use says why). */
  readonly skip?: readonly string[];
  /** Run inside a fresh process of this runtime (trapping exits). */
  readonly inProcess?: Runtime;
}

/** A position: its name, the values it accepts, the call, and the rest. */
function P(
  name: string,
  accepts: Accept,
  call: Position["call"],
  more: Omit<Position, "name" | "accepts" | "call"> = {},
): Position {
  return { name, accepts, call, ...more };
}

/** Set MOTE_FUZZ_TRACE=1 to log each case as it starts. */
const TRACE = Deno.env.get("MOTE_FUZZ_TRACE") === "1";
/** Set MOTE_FUZZ_DUMP=1 to print each unexpected failure as a JSON line. */
const DUMP = Deno.env.get("MOTE_FUZZ_DUMP") === "1";
/**
 * Set MOTE_FUZZ_KNOWN=1 to run the KNOWN_FAILURES cases too (some hang, leak
 * or crash) and list those that pass now.
 */
const RUN_KNOWN = Deno.env.get("MOTE_FUZZ_KNOWN") === "1";
/** Set MOTE_FUZZ_ONLY to run only the cases whose key contains it. */
const ONLY = Deno.env.get("MOTE_FUZZ_ONLY");

/** How long a call may take before it counts as hung. */
const CASE_MS = 1000;
/** How long to wait on a call that may legitimately wait for ever. */
const PENDING_MS = 100;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise;
}

/** `error`'s class and message, whatever it is. */
function show(value: unknown): string {
  try {
    if (value instanceof Error) {
      return `${value.constructor.name}: ${value.message.slice(0, 160)}`;
    }
    if (typeof value === "string") return JSON.stringify(value.slice(0, 80));
    if (typeof value === "symbol" || typeof value === "bigint") {
      return String(value);
    }
    if (typeof value === "object" && value !== null) {
      return Deno.inspect(value, { depth: 1 }).slice(0, 160);
    }
    return String(value);
  } catch {
    return "(unprintable)";
  }
}

/** `outcome`, or `pending` after `ms` (the timer is cleared). */
async function bounded(
  outcome: Promise<Outcome>,
  ms: number,
): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "pending" }), ms);
  });
  try {
    return await Promise.race([outcome, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** How `promise` settles (its value is never adopted as a thenable). */
function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    (value) => ({ kind: "resolved", value }),
    (error) => ({ kind: "rejected", error }),
  );
}

async function attempt(
  run: () => unknown,
  ms: number,
): Promise<Outcome> {
  let value: unknown;
  try {
    value = run();
  } catch (error) {
    return { kind: "threw", error };
  }
  if (!isThenable(value)) return { kind: "returned", value };
  return await bounded(outcomeOf(value as Promise<unknown>), ms);
}

/**
 * Runs `run(proc)` in a fresh process of `rt` that traps exits and has a
 * message queued; its outcome, or `exited` if the process ended first
 * (seen through `proc.signal`, which adopts no thenable reason).
 */
async function attemptInProcess(
  rt: Runtime,
  run: (proc: Process) => unknown,
  ms: number,
): Promise<Outcome> {
  const result = Promise.withResolvers<Outcome>();
  const pid = rt.spawn((proc) => {
    proc.signal.addEventListener("abort", () => {
      result.resolve({ kind: "exited", reason: proc.signal.reason });
    });
    proc.send(proc.self, "queued");
    let value: unknown;
    try {
      value = run(proc);
    } catch (error) {
      result.resolve({ kind: "threw", error });
      return;
    }
    if (!isThenable(value)) {
      result.resolve({ kind: "returned", value });
      return;
    }
    // The process stays alive while the call is pending.
    return outcomeOf(value as Promise<unknown>).then(result.resolve);
  }, { trapExit: true });
  try {
    return await bounded(result.promise, ms);
  } finally {
    if (rt.isAlive(pid)) rt.exit(pid, "kill");
  }
}

function nonEmptyMessage(e: unknown): boolean {
  return e instanceof Error && typeof e.message === "string" &&
    e.message.length > 0;
}

/** `accepts(value)`, false if the value's own traps throw. */
function safely(accepts: Accept, value: unknown): boolean {
  try {
    return accepts(value);
  } catch {
    return false;
  }
}

/** Why `outcome` breaks the promise, or `undefined` if it keeps it. */
function verdict(
  position: Position,
  value: unknown,
  outcome: Outcome,
): string | undefined {
  const accepts = position.accepts ?? anything;
  switch (outcome.kind) {
    case "threw":
    case "rejected": {
      // What came back may be a hostile value itself: look at it safely.
      const e = safely((v) => v instanceof Error, outcome.error)
        ? outcome.error as Error
        : new TypeError(`a non-Error was thrown: ${show(outcome.error)}`);
      if (position.succeeds !== undefined && safely(position.succeeds, value)) {
        return `refused a valid value: ${outcome.kind} ${show(e)}`;
      }
      if (e instanceof HostileError && position.callersOwn !== false) {
        return undefined; // the caller's own exception, passed through
      }
      if (e instanceof MoteError) {
        return typeof e.message === "string" && e.message.length > 0
          ? undefined
          : `${outcome.kind} a ${e.name} with an empty message`;
      }
      if (position.payload && e instanceof UnencodableValueError) {
        return undefined;
      }
      if (position.errors?.(e) === true && nonEmptyMessage(e)) return undefined;
      return `${outcome.kind} ${show(e)}`;
    }
    case "returned":
    case "resolved":
      return safely(accepts, value)
        ? undefined
        : `accepted it silently (${outcome.kind} ${show(outcome.value)})`;
    case "pending":
      return position.pendingOk !== undefined &&
          position.pendingOk !== false && safely(accepts, value) &&
          (position.pendingOk === true || safely(position.pendingOk, value))
        ? undefined
        : "hung: neither settled nor threw in time";
    case "exited":
      return position.exitOk
        ? undefined
        : `the calling process exited with ${show(outcome.reason)}`;
  }
}

/** Unhandled rejections and uncaught errors, caught while a test runs. */
class Strays implements Disposable {
  readonly seen: string[] = [];
  #onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    this.seen.push(`unhandled rejection: ${show(e.reason)}`);
  };
  #onError = (e: ErrorEvent) => {
    e.preventDefault();
    this.seen.push(`uncaught error: ${show(e.error)}`);
  };
  constructor() {
    globalThis.addEventListener("unhandledrejection", this.#onRejection);
    globalThis.addEventListener("error", this.#onError);
  }
  take(): string[] {
    return this.seen.splice(0);
  }
  [Symbol.dispose](): void {
    globalThis.removeEventListener("unhandledrejection", this.#onRejection);
    globalThis.removeEventListener("error", this.#onError);
  }
}

/** Lets queued work and one macrotask turn run, twice. */
async function drainTurns(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 10; j++) await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Failures of one test, keyed as in KNOWN_FAILURES. */
class Report {
  readonly failures = new Map<string, string>();
  readonly ran = new Set<string>();
  add(key: string, why: string): void {
    this.ran.add(key);
    this.failures.set(key, why);
  }
  /** Fails on any failure not in KNOWN_FAILURES. */
  check(): void {
    const unexpected = [...this.failures].filter(([key]) =>
      !(key in KNOWN_FAILURES) || RUN_KNOWN
    );
    if (RUN_KNOWN) {
      for (const key of Object.keys(KNOWN_FAILURES)) {
        if (this.ran.has(key) && !this.failures.has(key)) {
          console.log(`KNOWN_FAILURES entry now passes: ${key}`);
        }
      }
    }
    if (DUMP) {
      for (const [key, why] of unexpected) {
        console.log(`FUZZDUMP ${JSON.stringify([key, why])}`);
      }
    }
    if (unexpected.length > 0) {
      assert.fail(
        `${unexpected.length} case(s) broke the promise:\n` +
          unexpected.map(([key, why]) => `  ${key}: ${why}`).join("\n"),
      );
    }
  }
}

/**
 * Calls every position with every value, judging each outcome; strays
 * caught while a position ran are charged to it. Pids and refs a call
 * returned are cleaned up (killed, cancelled) so cases do not interfere.
 */
async function fuzz(
  report: Report,
  strays: Strays,
  rt: Runtime,
  positions: readonly Position[],
  values: readonly Value[],
  options: {
    /** Checked after each case: why the case broke something, if it did. */
    invariant?: () => Promise<string | undefined> | string | undefined;
  } = {},
): Promise<void> {
  const { invariant } = options;
  const run = async (position: Position, value: unknown) => {
    const ms = position.pendingOk ? PENDING_MS : CASE_MS;
    const outcome = position.inProcess !== undefined
      ? await attemptInProcess(
        position.inProcess,
        (proc) => position.call(value as never, proc),
        ms,
      )
      : await attempt(
        () => position.call(value as never, undefined as never),
        ms,
      );
    if ("value" in outcome && !position.keep) cleanUp(rt, outcome.value);
    return outcome;
  };
  for (const position of positions) {
    const cases = [...values, ...(position.extra ?? [])]
      .filter(([label]) => !position.skip?.includes(label))
      .map(([label, value]) => [`${position.name} ← ${label}`, value] as const)
      .filter(([key]) => ONLY === undefined || key.includes(ONLY))
      .filter(([key]) => {
        const why = KNOWN_FAILURES[key];
        return why === undefined || (RUN_KNOWN && !NEVER_RUN.has(why));
      });
    for (const [key, value] of cases) {
      if (TRACE) console.log("case", key, performance.now().toFixed(0));
      const outcome = await run(position, value);
      report.ran.add(key);
      const why = verdict(position, value, outcome) ?? await invariant?.();
      if (why !== undefined) report.add(key, why);
    }
    await drainTurns();
    if (strays.take().length === 0) continue;
    // Something went astray: run the cases again one by one to see which.
    for (const [key, value] of cases) {
      await run(position, value);
      await drainTurns();
      const seen = strays.take();
      if (seen.length > 0) report.add(key, seen.join("; "));
    }
  }
}

/**
 * Kills pids (local, or of a connected node), cancels timers and closes
 * listeners or connections a successful call left behind.
 */
function cleanUp(rt: Runtime, result: unknown): void {
  try {
    const items = Array.isArray(result) ? result : [result];
    for (const item of items) {
      if (item instanceof Pid) {
        const local = item.node === rt.node;
        if (local ? rt.isAlive(item) : item.node !== GHOST) {
          rt.exit(item, "kill");
        }
      } else if (item instanceof Ref) {
        rt.cancelTimer(item);
      } else if (
        typeof item === "object" && item !== null && "close" in item &&
        typeof item.close === "function"
      ) {
        item.close();
      }
    }
  } catch {
    // A hostile value echoed back: nothing of ours to clean.
  }
}

/** Spawns an echo process and a client; the client must get its echo. */
async function assertAlive(
  from: Runtime,
  to: Runtime = from,
  what = "runtime",
): Promise<void> {
  const echo = to.spawn(async (proc) => {
    const { reply, n } = await proc.receive() as { reply: Pid; n: number };
    proc.send(reply, n + 1);
  });
  const got = Promise.withResolvers<unknown>();
  from.spawn(async (proc) => {
    proc.send(echo, { reply: proc.self, n: 41 });
    got.resolve(await proc.receive({ timeout: 2000 }));
  });
  assert.equal(
    await within(got.promise, `an echo through the ${what}`, 3000),
    42,
    `the ${what} still works`,
  );
}

/** A pid of `rt` that has exited. */
async function deadPidOf(rt: Runtime): Promise<Pid> {
  const pid = rt.spawn(() => {});
  await rt.whenExited(pid);
  return pid;
}

/** A process that serves `n -> n + 1` calls, for the server tests. */
const incrementer: ServerBehaviour<number, number, number, number, number> = {
  init: (n) => n,
  handleCall: (req, _from, n) => ({ reply: req + 1, state: n }),
  handleCast: (_msg, n) => ({ state: n }),
};

// --- Runtime --------------------------------------------------------------

Deno.test("bad input: every Runtime method refuses hostile arguments with a MoteError", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const dead = await deadPidOf(rt);
  const values = hostile(rt, dead);
  const target = rt.spawn(idle);
  const made: Runtime[] = [];
  const fresh = (options: unknown) => {
    const r = new Runtime(options as never);
    made.push(r);
    return undefined;
  };
  const positions: Position[] = [
    { name: "new Runtime(options)", call: fresh, accepts: optObject },
    P(
      "new Runtime({ node })",
      (v) => v == null || (isName(v) && (v as string).length <= 255),
      (v) => fresh({ node: v }),
    ),
    P(
      "new Runtime({ creation })",
      (v) =>
        v === undefined ||
        (Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32),
      (v) => fresh({ creation: v }),
    ),
    P(
      "new Runtime({ clock })",
      (v) => v === undefined,
      (v) => fresh({ clock: v }),
    ),
    P(
      "new Runtime({ logger })",
      (v) => v === undefined,
      (v) => fresh({ logger: v }),
    ),
    P("Runtime.spawn(body)", isFunction, (v) => rt.spawn(v)),
    P("Runtime.spawn(body, options)", optObject, (v) => rt.spawn(idle, v)),
    P(
      "Runtime.spawn(body, { name })",
      optName,
      (v) => rt.spawn(idle, { name: v }),
    ),
    P(
      "Runtime.spawn(body, { trapExit })",
      optBoolean,
      (v) => rt.spawn(idle, { trapExit: v }),
    ),
    P("Runtime.send(dest)", isDest, (v) => rt.send(v, "m"), { payload: true }),
    P("Runtime.send(dest, message)", notUndefined, (v) => rt.send(target, v)),
    P("Runtime.sendAfter(dest)", isDest, (v) => rt.sendAfter(v, "m", 60_000)),
    P(
      "Runtime.sendAfter(dest, message)",
      notUndefined,
      (v) => rt.sendAfter(target, v, 60_000),
    ),
    P(
      "Runtime.sendAfter(dest, message, ms)",
      isFiniteMs,
      (v) => rt.sendAfter(target, "m", v),
      { succeeds: isFiniteMs },
    ),
    P("Runtime.cancelTimer(ref)", isRef, (v) => rt.cancelTimer(v)),
    P("Runtime.readTimer(ref)", isRef, (v) => rt.readTimer(v)),
    P("Runtime.exit(dest)", isLooseDest, (v) => rt.exit(v, "shutdown")),
    P(
      "Runtime.exit(dest, reason)",
      notUndefined,
      (v) => rt.exit(rt.spawn(idle), v),
    ),
    P("Runtime.register(name)", isName, (v) => {
      const pid = rt.spawn(idle);
      try {
        rt.register(v, pid);
      } finally {
        rt.exit(pid, "kill");
      }
    }),
    // none of the values is a live local process
    P(
      "Runtime.register(name, pid)",
      nothing,
      (v) => rt.register("fuzz-name", v),
    ),
    P("Runtime.unregister(name)", lenient, (v) => rt.unregister(v)),
    P("Runtime.whereis(name)", lenient, (v) => rt.whereis(v)),
    P("Runtime.isAlive(pid)", lenient, (v) => rt.isAlive(v)),
    P("Runtime.processInfo(pid)", lenient, (v) => rt.processInfo(v)),
    P("Runtime.whenExited(pid)", isPid, (v) => rt.whenExited(v)),
    P("Runtime.attachRouter(make)", isFunction, (v) => {
      const r = new Runtime();
      made.push(r);
      r.attachRouter(v);
    }),
  ];
  await fuzz(report, strays, rt, positions, values);
  await Promise.all(made.map((r) => r.shutdown()));
  await assertAlive(rt);
  report.check();
});

// --- Process --------------------------------------------------------------

Deno.test("bad input: every Process method refuses hostile arguments with a MoteError", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const dead = await deadPidOf(rt);
  const values = hostile(rt, dead);
  const target = rt.spawn(idle);
  const all = () => true;
  const p = (
    name: string,
    call: Position["call"],
    accepts: Accept,
    extra: Partial<Position> = {},
  ): Position => ({
    name: `Process.${name}`,
    call,
    accepts,
    inProcess: rt,
    ...extra,
  });
  const positions: Position[] = [
    // A function matches nothing here (it returns undefined): a wait.
    p(
      "receive(matchOrOptions)",
      (v, proc) => proc.receive(v),
      (v) => optObject(v) || isFunction(v),
      { pendingOk: isFunction },
    ),
    p(
      "receive(match, { timeout: 0 })",
      (v, proc) => proc.receive(v, { timeout: 0 }),
      (v) => v == null || isFunction(v),
    ),
    p(
      "receive(match, options)",
      (v, proc) => proc.receive(all, v),
      optObject,
    ),
    p(
      "receive({ timeout })",
      (v, proc) => proc.receive({ timeout: v }),
      optMs,
      { succeeds: givenMs },
    ),
    p(
      "receive(match, { timeout })",
      (v, proc) => proc.receive(() => false, { timeout: v }),
      optMs,
      { pendingOk: longWait },
    ),
    p("sleep(ms)", (v, proc) => proc.sleep(v), isMs, {
      pendingOk: longWait,
    }),
    p("send(dest)", (v, proc) => proc.send(v, "m"), isDest),
    p("send(dest, message)", (v, proc) => proc.send(target, v), notUndefined),
    p(
      "sendAfter(dest)",
      (v, proc) => proc.sendAfter(v, "m", 60_000),
      isDest,
    ),
    p(
      "sendAfter(dest, message)",
      (v, proc) => proc.sendAfter(target, v, 60_000),
      notUndefined,
    ),
    p(
      "sendAfter(dest, message, ms)",
      (v, proc) => proc.sendAfter(target, "m", v),
      isFiniteMs,
    ),
    p("cancelTimer(ref)", (v, proc) => proc.cancelTimer(v), isRef),
    p("readTimer(ref)", (v, proc) => proc.readTimer(v), isRef),
    p("spawn(body)", (v, proc) => proc.spawn(v), isFunction),
    p(
      "spawn(body, options)",
      (v, proc) => proc.spawn(idle, v),
      optObject,
    ),
    p("spawnLink(body)", (v, proc) => proc.spawnLink(v), isFunction),
    p(
      "spawnLink(body, options)",
      (v, proc) => proc.spawnLink(idle, v),
      optObject,
    ),
    p(
      "spawnMonitor(body)",
      (v, proc) => proc.spawnMonitor(v),
      isFunction,
    ),
    p(
      "spawnMonitor(body, { name })",
      (v, proc) => proc.spawnMonitor(idle, { name: v }),
      optName,
    ),
    p("link(dest)", (v, proc) => proc.link(v), isLooseDest),
    p("unlink(pid)", (v, proc) => proc.unlink(v), isPid),
    p("monitor(dest)", (v, proc) => proc.monitor(v), isLooseDest),
    p("demonitor(ref)", (v, proc) => proc.demonitor(v), isRef),
    p(
      "demonitor(ref, options)",
      (v, proc) => proc.demonitor(proc.monitor(target), v),
      optObject,
    ),
    p("trapExit(on)", (v, proc) => proc.trapExit(v), isBoolean),
    p(
      "exit(dest)",
      (v, proc) => proc.exit(v, "shutdown"),
      isLooseDest,
    ),
    p(
      "exit(dest, reason)",
      (v, proc) => proc.exit(proc.spawn(idle), v),
      notUndefined,
    ),
    p("register(name)", (v, proc) => proc.register(v), isName),
    p("stop(reason)", (v, proc) => proc.stop(v), anything, {
      exitOk: true,
    }),
  ];
  await fuzz(report, strays, rt, positions, values);
  await assertAlive(rt);
  report.check();
});

// --- Servers --------------------------------------------------------------

/** Replies with the request itself; keeps the From of a call for "keep". */
/** Whether `value` has a `then` method (or one that cannot be read). */
function isThenableValue(value: unknown): boolean {
  if (
    value === null || (typeof value !== "object" && typeof value !== "function")
  ) {
    return false;
  }
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    return true;
  }
}

function echoServer(
  kept: From[] = [],
): ServerBehaviour<unknown, null, unknown, unknown, unknown> {
  return {
    init: () => null,
    handleCall: (req, from, state) => {
      if (req === "keep") {
        kept.push(from);
        return { noreply: true, state };
      }
      // A thenable may be a request but not a reply: it answers with a word.
      return { reply: isThenableValue(req) ? "a thenable" : req, state };
    },
    handleCast: (_msg, state) => ({ state }),
  };
}

Deno.test("bad input: startServer, call, cast, reply and stopServer refuse hostile arguments with a MoteError", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const dead = await deadPidOf(rt);
  const values = hostile(rt, dead);
  const kept: From[] = [];
  const server = await startServer(rt, echoServer(kept), null);
  // A From to answer: a caller that waits for ever.
  const waiting = call(rt, server, "keep", { timeout: Infinity }).catch(
    () => {},
  );
  while (kept.length === 0) await new Promise((r) => setTimeout(r, 1));
  const from = kept[0]!;
  const fresh = () => startServer(rt, echoServer(), null);
  const positions: Position[] = [
    P("startServer(caller)", nothing, (v) => startServer(v, incrementer, 0)),
    P("startServer(caller, behaviour)", nothing, (v) => startServer(rt, v, 0)),
    P(
      "startServer(caller, behaviour, args)",
      anything,
      (v) => startServer(rt, echoServer(), v),
    ),
    P(
      "startServer(caller, behaviour, args, options)",
      optObject,
      (v) => startServer(rt, incrementer, 0, v),
    ),
    P(
      "startServer(…, { name })",
      optName,
      (v) => startServer(rt, incrementer, 0, { name: v }),
    ),
    P(
      "startServer(…, { link })",
      optBoolean,
      (v, proc) => startServer(proc, incrementer, 0, { link: v }),
      { inProcess: rt },
    ),
    P(
      "startServer(…, { trapExit })",
      optBoolean,
      (v) => startServer(rt, incrementer, 0, { trapExit: v }),
    ),
    P(
      "startServer(…, { initTimeout })",
      optMs,
      (v) => startServer(rt, incrementer, 0, { initTimeout: v }),
      { succeeds: givenMs },
    ),
    P("call(caller)", nothing, (v) => call(v, server, 1)),
    P("call(caller, server)", nothing, (v) => call(rt, v, 1)),
    P("call(caller, server, request)", anything, (v) => call(rt, server, v), {
      pendingOk: thenable,
    }),
    P(
      "call(caller, server, request) from a process",
      anything,
      (v, proc) => call(proc, server, v),
      { inProcess: rt, pendingOk: thenable },
    ),
    P(
      "call(caller, server, request, options)",
      optObject,
      (v) => call(rt, server, 1, v),
    ),
    P(
      "call(…, { timeout })",
      optMs,
      (v) => call(rt, server, 1, { timeout: v }),
      // A timeout of 0 is valid and always times out, as gen_server's.
      { succeeds: (v) => givenMs(v) && v !== 0 },
    ),
    P("cast(caller)", nothing, (v) => cast(v, server, 1)),
    P("cast(caller, server)", isLooseDest, (v) => cast(rt, v, 1)),
    { name: "cast(caller, server, message)", call: (v) => cast(rt, server, v) },
    P("reply(from)", nothing, (v) => reply(v, 1)),
    { name: "reply(from, value)", call: (v) => reply(from, v) },
    P("stopServer(caller)", nothing, (v) => stopServer(v, server)),
    P("stopServer(caller, server)", nothing, (v) => stopServer(rt, v)),
    P(
      "stopServer(caller, server, reason)",
      anything,
      async (v) => await stopServer(rt, await fresh(), v),
    ),
    P(
      "stopServer(caller, server, reason, options)",
      optObject,
      async (v) => await stopServer(rt, await fresh(), "normal", v),
    ),
    P(
      "stopServer(…, { timeout })",
      optMs,
      async (v) =>
        await stopServer(rt, await fresh(), "normal", { timeout: v }),
      { succeeds: (v) => v === undefined || (v as number) >= 100 },
    ),
    P("new InitStop(reason)", notUndefined, (v) => new InitStop(v)),
  ];
  await fuzz(report, strays, rt, positions, values);
  assert.ok(rt.isAlive(server), "the shared server survived");
  from.reply("done");
  await waiting;
  await assertAlive(rt);
  report.check();
});

// --- Supervisors ----------------------------------------------------------

Deno.test("bad input: supervisor functions refuse hostile arguments with a MoteError", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const dead = await deadPidOf(rt);
  const values = hostile(rt, dead);
  const newSup = () =>
    startSupervisor(rt, { strategy: "one_for_one", children: [] });
  let sup = await newSup();
  const empty = await newSup(); // never has a child
  // A case that leaves the shared supervisor dead or deaf fails; the next
  // case gets a new one.
  const supervisorAnswers = async () => {
    const counted = await attempt(() => countChildren(rt, sup), 500);
    if (counted.kind === "resolved") return undefined;
    if (rt.isAlive(sup)) rt.exit(sup, "kill");
    sup = await newSup();
    return `the supervisor no longer answers: countChildren ${counted.kind} ${
      "error" in counted ? show(counted.error) : ""
    }`;
  };
  // Runs `ask` against a supervisor of its own, which must still answer
  // afterwards (a broken one is reported as a plain Error, a failure).
  const ownSupervisor = async (
    ask: (sup: Pid) => Promise<unknown>,
    mustSurvive = true,
  ) => {
    const own = await newSup();
    try {
      const outcome = await outcomeOf(ask(own));
      await drainTurns();
      if (!mustSurvive) return (outcome as { value: unknown }).value;
      const counted = await attempt(() => countChildren(rt, own), 500);
      if (counted.kind !== "resolved") {
        throw new Error(
          `the supervisor no longer answers: ${
            "error" in counted ? show(counted.error) : counted.kind
          }`,
        );
      }
      if ("error" in outcome) throw outcome.error;
      return (outcome as { value: unknown }).value;
    } finally {
      if (rt.isAlive(own)) rt.exit(own, "kill");
    }
  };
  let n = 0;
  const worker = (over: Record<string, unknown> = {}) => ({
    id: `w${++n}`,
    start: (s: Process) => s.spawnLink(idle),
    ...over,
  });
  const options = (over: Record<string, unknown>) =>
    startSupervisor(rt, {
      strategy: "one_for_one",
      children: [],
      ...over,
    } as never);
  const positions: Position[] = [
    P(
      "startSupervisor(caller)",
      nothing,
      (v) => startSupervisor(v, { strategy: "one_for_one", children: [] }),
    ),
    P(
      "startSupervisor(caller, options)",
      nothing,
      (v) => startSupervisor(rt, v),
    ),
    P(
      "startSupervisor(…, { strategy })",
      nothing,
      (v) => options({ strategy: v }),
    ),
    P(
      "startSupervisor(…, { intensity })",
      (v) => v == null || (Number.isInteger(v) && (v as number) >= 0),
      (v) => options({ intensity: v }),
      {
        succeeds: (v) =>
          v === undefined || (Number.isInteger(v) && (v as number) >= 0),
      },
    ),
    P(
      "startSupervisor(…, { period })",
      (v) => v == null || (typeof v === "number" && v > 0),
      (v) => options({ period: v }),
      { succeeds: (v) => v === undefined || (typeof v === "number" && v > 0) },
    ),
    P(
      "startSupervisor(…, { children })",
      (v) => Array.isArray(v) && v.length === 0,
      (v) => options({ children: v }),
    ),
    P(
      "startSupervisor(…, { children: [spec] })",
      nothing,
      (v) => options({ children: [v] }),
    ),
    P("startSupervisor(…, { name })", optName, (v) => options({ name: v })),
    P(
      "startSupervisor(…, { link })",
      (v) => v == null || v === false,
      (v) => options({ link: v }),
    ),
    P("startChild(caller)", nothing, (v) => startChild(v, sup, worker()), {
      keep: true,
    }),
    P("startChild(caller, sup)", nothing, (v) => startChild(rt, v, worker()), {
      keep: true,
    }),
    P("startChild(caller, sup, spec)", nothing, (v) => startChild(rt, sup, v), {
      keep: true,
    }),
    P(
      "startChild(…, { id })",
      isName,
      (v) => startChild(rt, sup, worker({ id: v })),
      { keep: true },
    ),
    P(
      "startChild(…, { start })",
      nothing,
      (v) => startChild(rt, sup, worker({ start: v })),
      { keep: true },
    ),
    // A child that is dead at once, and again on each restart, takes its
    // supervisor down when its intensity runs out: right, as in OTP.
    // A pid is taken at its word (a dead one is restarted, as in OTP);
    // anything else is no child at all.
    // A start that never settles holds its supervisor, as in OTP.
    P("startChild(…, { start: () => value })", isPid, (v) =>
      ownSupervisor(
        (s) => startChild(rt, s, worker({ start: () => v })),
        !((v as unknown) instanceof Pid),
      ), { keep: true, skip: ["never-settling thenable"] }),
    P(
      "startChild(…, { start: () => { throw value } })",
      nothing,
      (v) =>
        ownSupervisor((s) =>
          startChild(
            rt,
            s,
            worker({
              start: () => {
                throw v;
              },
            }),
          )
        ),
      { keep: true },
    ),
    P(
      "startChild(…, { restart })",
      (v) => v == null,
      (v) => startChild(rt, sup, worker({ restart: v })),
      { keep: true },
    ),
    P(
      "startChild(…, { shutdown })",
      (v) => v == null || isMs(v),
      (v) => startChild(rt, sup, worker({ shutdown: v })),
      { keep: true },
    ),
    P(
      "startChild(…, { type })",
      (v) => v == null,
      (v) => startChild(rt, sup, worker({ type: v })),
      { keep: true },
    ),
    P(
      "terminateChild(caller, sup, id)",
      nothing,
      (v) => terminateChild(rt, empty, v),
    ),
    P(
      "terminateChild(caller, sup)",
      nothing,
      (v) => terminateChild(rt, v, "w"),
    ),
    P(
      "deleteChild(caller, sup, id)",
      nothing,
      (v) => deleteChild(rt, empty, v),
    ),
    P(
      "restartChild(caller, sup, id)",
      nothing,
      (v) => restartChild(rt, empty, v),
    ),
    P("countChildren(caller)", nothing, (v) => countChildren(v, sup)),
    P("countChildren(caller, sup)", nothing, (v) => countChildren(rt, v)),
    P("whichChildren(caller, sup)", nothing, (v) => whichChildren(rt, v)),
    P("serverChild(id)", isName, (v) => serverChild(v, incrementer, 0)),
    P("serverChild(id, behaviour)", nothing, (v) => serverChild("s", v, 0)),
    P(
      "serverChild(id, behaviour, args, options)",
      optObject,
      (v) => serverChild("s", incrementer, 0, v),
    ),
    P("startChild(serverChild(…, { initTimeout }))", optMs, (v) =>
      startChild(
        rt,
        sup,
        serverChild(`s${++n}`, incrementer, 0, { initTimeout: v }),
      ), { keep: true }),
    P("startChild(serverChild(…, { name }))", optName, (v) =>
      startChild(
        rt,
        sup,
        serverChild(`s${++n}`, incrementer, 0, { name: v }),
      ), { keep: true }),
    P(
      "supervisorChild(id)",
      isName,
      (v) => supervisorChild(v, { strategy: "one_for_one", children: [] }),
    ),
    P("supervisorChild(id, options)", nothing, (v) => supervisorChild("s", v)),
    P(
      "supervisorChild(id, options, restart)",
      (v) => v === undefined,
      (v) =>
        supervisorChild(
          "s",
          { strategy: "one_for_one", children: [] },
          v,
        ),
    ),
  ];
  await fuzz(report, strays, rt, positions, values, {
    invariant: supervisorAnswers,
  });
  const counts = await countChildren(rt, sup);
  assert.equal(counts.specs, counts.active, "every child it kept runs");
  await assertAlive(rt);
  report.check();
});

// --- Nodes ----------------------------------------------------------------

const COOKIE = "fuzz-cookie";
const encoder = new TextEncoder();
/** A name that fits a frame's name field: 1 to 255 bytes of UTF-8. */
const isWireName: Accept = (v) =>
  isName(v) && encoder.encode(v as string).length <= 255;
/** A name another node looks up: any string that fits the frame. */
const isWireString: Accept = (v) =>
  typeof v === "string" && encoder.encode(v).length <= 255;
const isGlobalName: Accept = (v) =>
  isWireName(v) && (v as string).isWellFormed();

Deno.test("bad input: every Node method refuses hostile arguments with a MoteError, and the connection stays up", async () => {
  using strays = new Strays();
  const report = new Report();
  await using a = await startNode({ name: nodeName("fa"), cookie: COOKIE });
  await using b = await startNode({ name: nodeName("fb"), cookie: COOKIE });
  await a.connect(b.name, b.address!);
  const rt = a.runtime;
  const values = hostile(rt, await deadPidOf(rt));
  b.allowSpawn("w", idle as never);
  b.allowServer("kv", echoServer());
  const kv = () => a.startServer(rt, { node: b.name, name: "kv" });
  const remoteServer = await kv();
  const remoteSink = b.runtime.spawn(idle);
  a.registerGlobal("fuzz-sink", rt.spawn(idle));
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    intensity: 1000,
    children: [],
  });
  let n = 0;
  const child = (over: Record<string, unknown>) =>
    startChild(
      rt,
      sup,
      remoteChild(`r${++n}`, {
        via: a,
        nodes: [b.name],
        name: "w",
        ...over,
      } as never),
    );
  // Bad input on one side must not cost the connection.
  const connected = async () => {
    if (a.nodes().includes(b.name)) return undefined;
    await a.connect(b.name, b.address!);
    return `the connection to ${b.name} was lost`;
  };
  const request = { node: b.name, name: "w" };
  const positions: Position[] = [
    P("Node.connect(node)", nothing, (v) => a.connect(v)),
    P(
      "Node.connect(node, address)",
      nothing,
      (v) => a.connect("c@127.0.0.1", v),
    ),
    P("Node.disconnect(node)", lenient, (v) => a.disconnect(v)),
    P("Node.monitorNode(pid)", nothing, (v) => a.monitorNode(v, b.name)),
    P(
      "Node.monitorNode(pid, node)",
      isName,
      (v, proc) => a.monitorNode(proc.self, v),
      { inProcess: rt },
    ),
    P("Node.demonitorNode(pid, node)", lenient, (v) => a.demonitorNode(v, v)),
    P("Node.onNodeEvent(listener)", isFunction, (v) => a.onNodeEvent(v)()),
    P(
      "Node.events(signal)",
      (v) => v === undefined,
      (v) => void a.events(v).return(),
    ),
    P("Node.drain(node)", lenient, (v) => a.drain(v)),
    P("Node.drain(node, options)", optObject, (v) => a.drain(b.name, v)),
    P(
      "Node.drain(node, { below })",
      (v) => v == null || (typeof v === "number" && v > 0),
      (v) => a.drain(b.name, { below: v }),
      { succeeds: (v) => v === undefined || (typeof v === "number" && v > 0) },
    ),
    P("Node.stats(node)", lenient, (v) => a.stats(v)),
    P("Node.registerGlobal(name)", isGlobalName, (v) => {
      const pid = rt.spawn(idle);
      try {
        a.registerGlobal(v, pid);
      } finally {
        rt.exit(pid, "kill");
      }
    }),
    P(
      "Node.registerGlobal(name, pid)",
      nothing,
      (v) => a.registerGlobal("fuzz-g", v),
    ),
    P(
      "Node.unregisterGlobal(name)",
      isGlobalName,
      (v) => a.unregisterGlobal(v),
    ),
    P("Node.whereisGlobal(name)", lenient, (v) => a.whereisGlobal(v)),
    P("Node.sendGlobal(name)", nothing, (v) => a.sendGlobal(v, "m")),
    P(
      "Node.sendGlobal(name, message)",
      notUndefined,
      (v) => a.sendGlobal("fuzz-sink", v),
    ),
    P(
      "Node.allowSpawn(name)",
      isWireName,
      (v) => a.allowSpawn(v, idle as never),
    ),
    P(
      "Node.allowSpawn(name, body)",
      isFunction,
      (v) => a.allowSpawn("fuzz-w", v),
    ),
    P(
      "Node.allowServer(name, behaviour)",
      nothing,
      (v) => a.allowServer("fuzz-s", v),
    ),
    P(
      "Node.allowServer(name, behaviour, options)",
      optObject,
      (v) => a.allowServer("fuzz-s", incrementer, v),
    ),
    P("Node.disallowSpawn(name)", lenient, (v) => a.disallowSpawn(v)),
    P("Node.spawn(request)", nothing, (v) => a.spawn(v)),
    P("Node.spawn({ node })", nothing, (v) => a.spawn({ node: v, name: "w" })),
    P(
      "Node.spawn({ name })",
      nothing,
      (v) => a.spawn({ node: b.name, name: v }),
    ),
    P(
      "Node.spawn({ args })",
      anything,
      (v) => a.spawn({ ...request, args: v }),
      { payload: true },
    ),
    P(
      "Node.spawn({ timeout })",
      optMs,
      (v) => a.spawn({ ...request, timeout: v }),
      { succeeds: (v) => v === undefined || (v as number) >= 1000 },
    ),
    P("Node.spawnLink(caller)", nothing, (v) => a.spawnLink(v, request)),
    P(
      "Node.spawnLink(caller, request)",
      nothing,
      (v, proc) => a.spawnLink(proc, v),
      { inProcess: rt },
    ),
    P("Node.spawnMonitor(caller)", nothing, (v) => a.spawnMonitor(v, request)),
    P(
      "Node.spawnMonitor(caller, request)",
      nothing,
      (v, proc) => a.spawnMonitor(proc, v),
      { inProcess: rt },
    ),
    P(
      "Node.startServer(caller)",
      nothing,
      (v) => a.startServer(v, { node: b.name, name: "kv" }),
    ),
    P(
      "Node.startServer(caller, request)",
      nothing,
      (v) => a.startServer(rt, v),
    ),
    P(
      "Node.startServer(caller, { link })",
      (v) => v == null || v === false,
      (v) => a.startServer(rt, { node: b.name, name: "kv", link: v }),
    ),
    P(
      "remoteChild(id)",
      isName,
      (v) => remoteChild(v, { via: a, nodes: [b.name], name: "w" }),
    ),
    P("remoteChild(id, options)", nothing, (v) => remoteChild("r", v)),
    P(
      "remoteChild(…, { via })",
      nothing,
      (v) => remoteChild("r", { via: v, nodes: [b.name], name: "w" }),
    ),
    P(
      "remoteChild(…, { nodes })",
      (v) => Array.isArray(v) && v.length > 0 && v.every(isName),
      (v) => remoteChild("r", { via: a, nodes: v, name: "w" }),
    ),
    P(
      "startChild(remoteChild(…, { name }))",
      nothing,
      (v) => child({ name: v }),
      { keep: true },
    ),
    P(
      "startChild(remoteChild(…, { args }))",
      anything,
      (v) => child({ args: v }),
      { keep: true },
    ),
    P(
      "startChild(remoteChild(…, { timeout }))",
      optMs,
      (v) => child({ timeout: v }),
      { keep: true },
    ),
    // What crosses the wire: payloads may be UnencodableValueError (P3).
    P(
      "Runtime.send(remote pid, message)",
      notUndefined,
      (v) => rt.send(remoteSink, v),
      { payload: true },
    ),
    P("Runtime.send(dest) on a node", isDest, (v) => rt.send(v, "m")),
    P(
      "Runtime.send([name, node])",
      isWireString,
      (v) => rt.send([v, b.name], "m"),
    ),
    P(
      "Runtime.exit(remote pid, reason)",
      notUndefined,
      (v) => rt.exit(b.runtime.spawn(idle), v),
      { payload: true },
    ),
    P(
      "Runtime.sendAfter(remote pid, message, 0)",
      notUndefined,
      (v) => rt.sendAfter(remoteSink, v, 0),
    ),
    P("Process.link(dest) on a node", isLooseDest, (v, proc) => proc.link(v), {
      inProcess: rt,
    }),
    P(
      "Process.link([name, node])",
      isWireString,
      (v, proc) => proc.link([v, b.name]),
      { inProcess: rt },
    ),
    P(
      "Process.monitor(dest) on a node",
      isLooseDest,
      (v, proc) => proc.monitor(v),
      { inProcess: rt },
    ),
    P(
      "Process.monitor([name, node])",
      isWireString,
      (v, proc) => proc.monitor([v, b.name]),
      { inProcess: rt },
    ),
    P(
      "Process.exit([name, node], reason)",
      isWireString,
      (v, proc) => proc.exit([v, b.name], "shutdown"),
      { inProcess: rt },
    ),
    P(
      "call(remote server, request)",
      anything,
      (v) => call(rt, remoteServer, v),
      { pendingOk: thenable, payload: true },
    ),
    P("call([name, node])", nothing, (v) => call(rt, [v, b.name], 1)),
    P("cast([name, node])", isWireString, (v) => cast(rt, [v, b.name], 1)),
    P(
      "stopServer(remote server, reason)",
      anything,
      async (v) => await stopServer(rt, await kv(), v),
      { payload: true },
    ),
  ];
  await fuzz(report, strays, rt, positions, values, { invariant: connected });
  assert.ok(rt.isAlive(sup), "the supervisor of remote children lives");
  await assertAlive(rt, b.runtime, "connection a → b");
  await assertAlive(b.runtime, rt, "connection b → a");
  report.check();
});

Deno.test("bad input: startNode refuses hostile options with a MoteError and leaves nothing open", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const values = hostile(rt, await deadPidOf(rt));
  const memory = new MemoryTransport();
  // Starts a node with `over` (over memory unless it says otherwise), and
  // stops it again.
  const start = async (over: Record<string, unknown>) => {
    const node = await startNode({
      name: nodeName("o"),
      cookie: COOKIE,
      transport: memory,
      ...over,
    } as never);
    await node.stop();
  };
  const tcp = (over: Record<string, unknown>) =>
    start({ transport: undefined, ...over });
  const unknownNode = async (over: Record<string, unknown>) => {
    const node = await startNode({
      name: nodeName("o"),
      cookie: COOKIE,
      transport: memory,
      handshakeTimeout: 200,
      ...over,
    } as never);
    try {
      await node.connect("unknown@127.0.0.1");
    } finally {
      await node.stop();
    }
  };
  // Two nodes made with `over`, connected; a message goes from one to the
  // other.
  const pairSend = async (over: Record<string, unknown>, talk = true) => {
    const options = {
      cookie: COOKIE,
      transport: memory,
      ...over,
    } as never as { cookie: string };
    await using x = await startNode({ ...options, name: nodeName("p") });
    await using y = await startNode({ ...options, name: nodeName("p") });
    await x.connect(y.name, y.address!);
    if (!talk) return;
    const got = Promise.withResolvers<unknown>();
    const sink = y.runtime.spawn(async (proc) =>
      got.resolve(await proc.receive())
    );
    x.runtime.send(sink, "over");
    assert.equal(
      await within(got.promise, "a message between nodes", 100),
      "over",
    );
  };
  const given = (accepts: Accept): Accept => (v) => v !== null && accepts(v);
  const positiveMs: Accept = (v) =>
    v == null || (isFiniteMs(v) && (v as number) > 0);
  const frameLimit: Accept = (v) =>
    v == null ||
    (Number.isInteger(v) && (v as number) >= 1 && (v as number) < 2 ** 32);
  const field = (
    name: string,
    accepts: Accept,
    run: (v: unknown) => Promise<void> = (v) => start({ [name]: v }),
    succeeds?: Accept,
  ): Position => ({
    name: `startNode({ ${name} })`,
    call: run,
    accepts,
    ...(succeeds ? { succeeds } : {}),
  });
  const positions: Position[] = [
    P("startNode(options)", nothing, (v) => startNode(v)),
    field("cookie", isName),
    field(
      "name",
      (v) => isName(v) && (v as string).length <= 255,
      (v) => start({ name: v }),
    ),
    field("runtime", (v) => v === undefined),
    {
      ...field("host", (v) => v == null, (v) => tcp({ host: v })),
      // A well-formed host this test may not listen on ("x"): the
      // transport's own error (Deno's permission error) comes through.
      errors: (e) => e instanceof Deno.errors.NotCapable,
    },
    field(
      "port",
      (v) =>
        v == null ||
        (Number.isInteger(v) && (v as number) >= 0 && (v as number) < 65536),
      (v) => tcp({ port: v }),
    ),
    field("listen", anything),
    field(
      "peers",
      (v) =>
        v == null || (isObject(v) && Object.keys(v as object).length === 0),
    ),
    field("resolve", (v) => v == null || isFunction(v)),
    P(
      "startNode({ resolve: value }).connect(unknown node)",
      nothing,
      (v) => unknownNode({ resolve: v }),
    ),
    P(
      "startNode({ resolve: () => value }).connect(unknown node)",
      nothing,
      (v) => unknownNode({ resolve: () => v }),
    ),
    P(
      "startNode({ logger: value }).connect(unknown node)",
      nothing,
      (v) => unknownNode({ logger: v }),
    ),
    P(
      "startNode({ codec: value }) sends to a peer",
      (v) => v == null,
      (v) => pairSend({ codec: v }),
    ),
    // Under 100 ms a connection may be lost before the message: no error.
    P(
      "two nodes with { tickTime } connect and talk",
      (v) => v == null || (isFiniteMs(v) && (v as number) > 0),
      (v) => pairSend({ tickTime: v }, typeof v === "number" && v >= 100),
      {
        succeeds: (v) =>
          v === undefined || (isFiniteMs(v) && (v as number) >= 1),
      },
    ),
    P(
      "two nodes with { handshakeTimeout } connect and talk",
      (v) => v == null || (isFiniteMs(v) && (v as number) > 0),
      (v) =>
        pairSend({ handshakeTimeout: v }, typeof v === "number" && v >= 100),
      {
        succeeds: (v) =>
          v === undefined || (isFiniteMs(v) && (v as number) >= 100),
      },
    ),
    field("mesh", anything),
    field("tickTime", positiveMs, undefined, given(positiveMs)),
    field("handshakeTimeout", positiveMs, undefined, given(positiveMs)),
    field("maxFrameBytes", frameLimit, undefined, given(frameLimit)),
    field("transport", (v) => v == null),
    field("codec", (v) => v == null),
    field("clock", (v) => !v), // anything falsy means the runtime's
    field("logger", (v) => v == null),
    field(
      "spawnables",
      (v) =>
        v == null || (isObject(v) && Object.keys(v as object).length === 0),
    ),
  ];
  await fuzz(report, strays, rt, positions, values);
  assert.equal(
    memory.connections.filter((c) => !("closed" in c)).length,
    memory.connections.length,
  );
  // Every listener was closed: each port can be listened on again.
  await using again = await startNode({
    name: nodeName("o"),
    cookie: COOKIE,
    transport: memory,
    port: 1,
  });
  assert.equal(again.address?.port, 1);
  await assertAlive(rt);
  report.check();
});

// --- Transports -----------------------------------------------------------

const fixture = (file: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/tls/${file}`, import.meta.url));

/** PEM armour around bytes that are no certificate or key. */
const FAKE_PEM: Value = [
  "PEM armour around garbage",
  "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
];

Deno.test("bad input: tlsTransport and MemoryTransport refuse hostile options with a named error", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const values = hostile(rt, await deadPidOf(rt));
  const pem = { cert: fixture("node.pem"), key: fixture("node-key.pem") };
  const ca = fixture("ca.pem");
  const tls = (over: Record<string, unknown>) =>
    tlsTransport({ ...pem, ca, ...over } as never);
  // A TLS node that listens and one that connects to it, both with `over`.
  const tlsPair = async (over: Record<string, unknown>) => {
    const transport = tls(over);
    await using x = await startNode({
      name: nodeName("tx"),
      cookie: COOKIE,
      transport,
    });
    await using y = await startNode({
      name: nodeName("ty"),
      cookie: COOKIE,
      transport,
    });
    await y.connect(x.name, x.address!);
  };
  const memory = new MemoryTransport();
  // A memory transport's refusals are plain Errors, as a socket's would be.
  const refusal = (e: unknown) => e?.constructor === Error;
  const positions: Position[] = [
    P("tlsTransport(options)", nothing, (v) => tlsTransport(v)),
    // Only the armour is checked here: the node below must refuse it.
    P(
      "tlsTransport({ cert })",
      (v) => v === FAKE_PEM[1],
      (v) => tls({ cert: v }),
      { extra: [FAKE_PEM] },
    ),
    P(
      "startNode({ transport: tlsTransport({ cert }) })",
      nothing,
      (v) => tlsPair({ cert: v }),
      { extra: [FAKE_PEM] },
    ),
    P(
      "startNode({ transport: tlsTransport({ key }) })",
      nothing,
      (v) => tlsPair({ key: v }),
      { extra: [FAKE_PEM] },
    ),
    P(
      "tlsTransport({ ca })",
      (v) => v === undefined || (Array.isArray(v) && v.length === 0),
      (v) => tls({ ca: v }),
    ),
    P(
      "tlsTransport({ verifyClient })",
      optBoolean,
      (v) => tls({ verifyClient: v }),
    ),
    P(
      "tlsTransport({ onRefused })",
      (v) => v === undefined || isFunction(v),
      (v) => tls({ onRefused: v }),
    ),
    P(
      "two TLS nodes connecting with { handshakeTimeout }",
      (v) => v === undefined || (Number.isInteger(v) && (v as number) > 0),
      (v) => tlsPair({ handshakeTimeout: v }),
      {
        succeeds: (v) =>
          v === undefined || (Number.isInteger(v) && (v as number) > 0),
      },
    ),
    P("MemoryTransport.listen(addr)", isObject, (v) => memory.listen(v), {
      errors: refusal,
    }),
    P(
      "MemoryTransport.listen({ host })",
      anything,
      (v) => memory.listen({ host: v, port: 0 }),
      { errors: refusal },
    ),
    P(
      "MemoryTransport.listen({ port })",
      anything,
      (v) => memory.listen({ host: "fuzz", port: v }),
      { errors: refusal },
    ),
    P("MemoryTransport.connect(addr)", nothing, (v) => memory.connect(v), {
      errors: refusal,
    }),
  ];
  await fuzz(report, strays, rt, positions, values);
  await assertAlive(rt);
  report.check();
});

// --- Process groups -------------------------------------------------------

Deno.test("bad input: startGroups and every Groups method refuse hostile arguments with a MoteError", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const values = hostile(rt, await deadPidOf(rt));
  await using groups = await startGroups(rt, { scope: "fuzz" });
  const member = rt.spawn(idle);
  groups.join("g", member);
  // A pid of this runtime (alive or not, as `join` takes a dead one and
  // drops it at once), or a list of them.
  const local = (v: unknown) =>
    v instanceof Pid && v.node === rt.node && v.creation === rt.creation;
  const pids: Accept = (v) => local(v) || (Array.isArray(v) && v.every(local));
  const started = async (host: unknown, options?: unknown) => {
    const g = await startGroups(host as never, options as never);
    await g.stop();
  };
  const positions: Position[] = [
    { name: "startGroups(host)", call: (v) => started(v), accepts: nothing },
    P("startGroups(host, options)", optObject, (v) => started(rt, v)),
    P(
      "startGroups(host, { scope })",
      (v) => v == null || (isName(v) && v !== "fuzz"),
      (v) => started(rt, { scope: v }),
    ),
    P("Groups.join(group)", isName, (v) => groups.join(v, member)),
    P("Groups.join(group, pids)", pids, (v) => groups.join("g2", v)),
    P("Groups.leave(group)", isName, (v) => groups.leave(v, member)),
    P("Groups.leave(group, pids)", pids, (v) => groups.leave("g2", v)),
    P("Groups.members(group)", isName, (v) => groups.members(v)),
    P("Groups.localMembers(group)", isName, (v) => groups.localMembers(v)),
    P("Groups.monitor(pid)", local, (v) => groups.monitor(v)),
    P(
      "Groups.monitor(pid, group)",
      (v) => v === undefined || isName(v),
      (v) => groups.monitor(member, v),
    ),
    P("Groups.demonitor(ref)", isRef, (v) => groups.demonitor(v)),
    P("new Groups(…, key)", nothing, (v) => new Groups(rt, "x", undefined, v)),
  ];
  await fuzz(report, strays, rt, positions, values, {
    invariant: () => {
      if (rt.isAlive(groups.pid) && groups.members("g").length > 0) {
        return undefined;
      }
      return "the scope process died or lost its members";
    },
  });
  await assertAlive(rt);
  report.check();
});

// --- Wire -----------------------------------------------------------------

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `body` behind a correct length prefix. */
function framed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

Deno.test("bad input: the wire functions refuse hostile input with the wire's own named errors", async () => {
  using strays = new Strays();
  const report = new Report();
  await using rt = new Runtime({ node: "fuzz@127.0.0.1" });
  const values = hostile(rt, await deadPidOf(rt));
  const codec = new MsgpackCodec();
  const pid = new Pid("w@host", 1, 1);
  const send = encodeFrame({ tag: Tag.SEND, to: pid, message: "hello" }, codec);
  const badPayload = send.slice();
  badPayload[badPayload.length - 6] = 0xc1; // msgpack's never-used byte
  const tags = Object.values(Tag);
  // Bytes that are no frame (or a frame with junk inside it), and a few
  // that are frames.
  const bytes: Value[] = [
    ["no bytes", new Uint8Array(0)],
    ["3 bytes", new Uint8Array([0, 0, 0])],
    ["a zero-length frame", new Uint8Array([0, 0, 0, 0])],
    ["an unknown tag", new Uint8Array([0, 0, 0, 1, 0xee])],
    ["a length beyond the bytes", new Uint8Array([0, 0, 0, 9, 8])],
    ["a 4 GiB length", new Uint8Array([0xff, 0xff, 0xff, 0xff, 8])],
    ["a TICK and a byte more", new Uint8Array([0, 0, 0, 1, 8, 0])],
    ["a SEND cut short", framed(send.subarray(4, 12))],
    ["a SEND whose payload is junk", badPayload],
    ["a TICK", new Uint8Array([0, 0, 0, 1, 8])],
    ["a SEND", send],
    [
      "a SEND in a larger buffer",
      new Uint8Array([9, ...send, 9]).subarray(1, -1),
    ],
    ["an array of numbers", [0, 0, 0, 1, 8]],
    ["an ArrayBuffer", new Uint8Array([0, 0, 0, 1, 8]).buffer],
    ...Array.from({ length: 60 }, (_, i): Value => {
      const body = randomBytes(i + 1, 1 + (i % 40));
      body[0] = tags[i % tags.length]!;
      return [`random frame ${i}`, framed(body)];
    }),
  ];
  // Payloads msgpack must refuse without allocating what they claim.
  const payloads: Value[] = [
    ["msgpack 0xc1", new Uint8Array([0xc1])],
    [
      "an array32 of 2^32-1 items",
      new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]),
    ],
    ["a str32 of 2^32-1 bytes", new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff])],
    ["10 000 nested arrays", new Uint8Array(10_000).fill(0x91)],
    ["an ext of type 0x7f", new Uint8Array([0xd4, 0x7f, 0x00])],
    ...Array.from({ length: 12 }, (_, i): Value => [
      `random payload ${i}`,
      randomBytes(1000 + i, 1 + i * 3),
    ]),
  ];
  // Bytes, or an array of byte values (array-likes are taken as such).
  const isBytes: Accept = (v) => v instanceof Uint8Array || Array.isArray(v);
  // Documented: an argument of the wrong type is a TypeError that names it
  // and says what was expected ("decodeFrame bytes: expected a Uint8Array").
  const wrongType = (e: unknown) =>
    e instanceof TypeError && /^[\w.]+( \w+)?: expected /.test(e.message);
  const wire = (e: unknown) =>
    e instanceof WireError || e instanceof UnencodableValueError ||
    wrongType(e);
  // Documented: a limit, a size or a range out of bounds is a RangeError.
  const range = (e: unknown) => e instanceof RangeError || wrongType(e);
  const writer = new FrameWriter(codec);
  const positions: Position[] = [
    P("decodeFrame(bytes)", isBytes, (v) => decodeFrame(v, codec), {
      errors: wire,
      extra: bytes,
    }),
    P("decodeFrame(bytes, codec)", nothing, (v) => decodeFrame(send, v), {
      errors: wire,
    }),
    P("FrameDecoder.push(chunk) and next()", isBytes, (v) => {
      const decoder = new FrameDecoder(codec);
      decoder.push(v);
      return decoder.next();
    }, { errors: wire, extra: bytes }),
    P(
      "new FrameDecoder(codec, options)",
      optObject,
      (v) => new FrameDecoder(codec, v),
      { errors: range },
    ),
    P(
      "new FrameDecoder(codec, { maxFrameBytes })",
      (v) =>
        v == null ||
        (Number.isInteger(v) && (v as number) >= 1 && (v as number) < 2 ** 32),
      (v) => new FrameDecoder(codec, { maxFrameBytes: v }),
      { errors: range },
    ),
    P(
      "FrameDecoder.maxFrameBytes = value",
      (v) =>
        Number.isInteger(v) && (v as number) >= 1 && (v as number) < 2 ** 32,
      (v) => void (new FrameDecoder(codec).maxFrameBytes = v),
      { errors: range },
    ),
    P(
      "FrameDecoder.writable(min)",
      (v) =>
        Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 2 ** 32,
      (v) => void new FrameDecoder(codec).writable(v),
      { errors: range },
    ),
    P(
      "FrameDecoder.commit(n)",
      (v) => Number.isInteger(v) && (v as number) >= 0,
      (v) => {
        const decoder = new FrameDecoder(codec);
        decoder.writable(16);
        decoder.commit(v);
      },
      { errors: range },
    ),
    P("encodeFrame(frame)", nothing, (v) => encodeFrame(v, codec), {
      errors: wire,
    }),
    P(
      "encodeFrame({ tag })",
      nothing,
      (v) => encodeFrame({ tag: v } as never, codec),
      { errors: wire },
    ),
    P(
      "encodeFrame({ tag: SEND, to })",
      isPid,
      (v) => encodeFrame({ tag: Tag.SEND, to: v, message: 1 } as never, codec),
      { errors: wire },
    ),
    P(
      "encodeFrame({ tag: SEND, message })",
      anything,
      (v) => encodeFrame({ tag: Tag.SEND, to: pid, message: v }, codec),
      { errors: wire },
    ),
    P(
      "encodeFrame({ tag: REG_SEND, name })",
      (v) => typeof v === "string" && encoder.encode(v).length <= 255,
      (v) =>
        encodeFrame(
          { tag: Tag.REG_SEND, from: pid, name: v, message: 1 },
          codec,
        ),
      { errors: wire },
    ),
    P(
      "encodeFrame({ tag: EXIT, reason })",
      anything,
      (v) =>
        encodeFrame({ tag: Tag.EXIT, from: pid, to: pid, reason: v }, codec),
      { errors: wire },
    ),
    P("encodeFrame(frame, codec)", nothing, (v) =>
      encodeFrame(
        { tag: Tag.SEND, to: pid, message: { a: [1] } },
        v,
      ), { errors: wire }),
    {
      name:
        "FrameWriter.write({ tag: SEND, message }) leaves nothing on failure",
      call: (v) => {
        try {
          writer.write({ tag: Tag.SEND, to: pid, message: v });
        } catch (error) {
          // Not a named error: this would be a failure of the case.
          if (writer.byteLength !== 0) throw new Error("bytes left behind");
          throw error;
        }
        writer.take();
      },
      errors: wire,
    },
    P("new MsgpackCodec(options)", optObject, (v) => new MsgpackCodec(v), {
      errors: range,
    }),
    P(
      "new MsgpackCodec({ maxDepth })",
      (v) => v == null || (Number.isInteger(v) && (v as number) >= 1),
      (v) => new MsgpackCodec({ maxDepth: v }),
      { errors: range },
    ),
    P("MsgpackCodec.encode(value)", anything, (v) => codec.encode(v), {
      errors: wire,
    }),
    P("MsgpackCodec.decode(bytes)", isBytes, (v) => codec.decode(v), {
      errors: wire,
      extra: payloads,
    }),
    P(
      "MsgpackCodec.decodeRange(bytes, start)",
      (v) => v === 0 || v === 1 || Object.is(v, -0),
      (v) => codec.decodeRange(new Uint8Array([1, 2]), v, 1),
      { errors: range },
    ),
  ];
  await fuzz(report, strays, rt, positions, values, {
    invariant: () => {
      // The shared codec and writer still work after whatever came before.
      const frame = decodeFrame(
        encodeFrame({ tag: Tag.SEND, to: pid, message: [1, "a"] }, codec),
        codec,
      );
      if (
        frame.tag !== Tag.SEND || JSON.stringify(frame.message) !== '[1,"a"]'
      ) {
        return "the shared codec no longer round-trips";
      }
      writer.write({ tag: Tag.TICK });
      if (writer.take().length !== 5) return "the shared writer kept junk";
      return undefined;
    },
  });
  report.check();
});

// --- Stopped runtimes, nodes and scopes -----------------------------------

Deno.test("bad input: a stopped runtime, node or groups scope refuses with a named error, never a crash or a hang", async () => {
  using strays = new Strays();
  const report = new Report();
  const memory = new MemoryTransport();
  const node = await startNode({
    name: nodeName("s"),
    cookie: COOKIE,
    transport: memory,
  });
  const rt = node.runtime;
  const alive = rt.spawn(idle, { name: "was-alive" });
  const server = await startServer(rt, echoServer(), null);
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [],
  });
  const groups = await startGroups(node);
  await node.stop(); // the node made its runtime: both are stopped
  assert.ok(rt.stopped);
  const once: Value[] = [["(stopped)", undefined]];
  const spec = { id: "w", start: (s: Process) => s.spawnLink(idle) };
  const stopped = (name: string, call: () => unknown, accepts = nothing) => ({
    name,
    call,
    accepts,
  });
  const positions: Position[] = [
    stopped("Runtime.spawn", () => rt.spawn(idle)),
    stopped("Runtime.send(pid)", () => rt.send(alive, "m"), anything),
    stopped("Runtime.send(name)", () => rt.send("was-alive", "m")),
    stopped("Runtime.sendAfter", () => rt.sendAfter(alive, "m", 1), anything),
    stopped("Runtime.exit", () => rt.exit(alive, "kill"), anything),
    stopped("Runtime.register", () => rt.register("n", alive)),
    stopped("Runtime.whenExited", () => rt.whenExited(alive), anything),
    stopped("Runtime.attachRouter", () => rt.attachRouter(() => ({}) as never)),
    stopped("Runtime.shutdown again", () => rt.shutdown(), anything),
    stopped("startServer", () => startServer(rt, incrementer, 0)),
    stopped("call", () => call(rt, server, 1)),
    stopped("cast", () => cast(rt, server, 1), anything),
    stopped("stopServer", () => stopServer(rt, server)),
    stopped(
      "startSupervisor",
      () => startSupervisor(rt, { strategy: "one_for_one", children: [] }),
    ),
    stopped("startChild", () => startChild(rt, sup, spec)),
    stopped("whichChildren", () => whichChildren(rt, sup)),
    stopped("Node.connect", () => node.connect("x@127.0.0.1")),
    stopped("Node.monitorNode", () => node.monitorNode(alive, "x@127.0.0.1")),
    stopped("Node.registerGlobal", () => node.registerGlobal("g", alive)),
    stopped("Node.sendGlobal", () => node.sendGlobal("g", 1)),
    stopped("Node.syncGlobal", () => node.syncGlobal(), anything),
    stopped("Node.spawn", () => node.spawn({ node: "x@127.0.0.1", name: "w" })),
    stopped(
      "Node.startServer",
      () => node.startServer(rt, { node: node.name, name: "w" }),
    ),
    stopped("Node.drain", () => node.drain("x@127.0.0.1"), anything),
    stopped("Node.events", async () => {
      for await (const _ of node.events()) return "an event";
    }, anything),
    stopped("Node.stop again", () => node.stop(), anything),
    stopped("startGroups(stopped node)", () => startGroups(node)),
    stopped("Groups.join", () => groups.join("g", alive)),
    stopped("Groups.members", () => groups.members("g")),
    stopped("Groups.monitor", () => groups.monitor(alive, "g")),
    stopped("Groups.stop again", () => groups.stop(), anything),
  ];
  await fuzz(report, strays, rt, positions, once);
  report.check();
});

// --- Exit reasons ---------------------------------------------------------

Deno.test("bad input: any value is an exit reason: monitors, links, whenExited, servers, global names and groups survive hostile reasons", async () => {
  using strays = new Strays();
  const report = new Report();
  const memory = new MemoryTransport();
  await using a = await startNode({
    name: nodeName("ra"),
    cookie: COOKIE,
    transport: memory,
  });
  await using b = await startNode({
    name: nodeName("rb"),
    cookie: COOKIE,
    transport: memory,
  });
  await a.connect(b.name, b.address!);
  const rt = a.runtime;
  const values = hostile(rt, await deadPidOf(rt))
    .filter(([label]) => label !== "undefined"); // no reason: refused
  await using groups = await startGroups(rt, { scope: "reasons" });
  let n = 0;
  /**
   * Ends a fresh process of `host` with `reason` (by `end`) while a local
   * process monitors it and another, trapping exits, is linked to it; both
   * must hear of it.
   */
  const watched = async (
    host: Runtime,
    reason: unknown,
    end: (pid: Pid) => unknown = (pid) => rt.exit(pid, reason as never),
  ) => {
    // Told "stop", it stops itself with `reason`.
    const target = host.spawn(async (proc) => {
      if (await proc.receive() === "stop") await proc.stop(reason as never);
    });
    const heard = Promise.withResolvers<unknown[]>();
    const ready = Promise.withResolvers<void>();
    rt.spawn(async (proc) => {
      proc.trapExit(true);
      proc.monitor(target);
      proc.link(target);
      await a.drain(b.name); // the signals reach the other node first
      ready.resolve();
      const got = [
        await proc.receive((m) => m instanceof Exit, { timeout: 1000 }),
        await proc.receive((m) => m instanceof Object && "ref" in m, {
          timeout: 1000,
        }),
      ];
      heard.resolve(got);
    });
    await ready.promise;
    await end(target);
    const [exit, down] = await heard.promise;
    if (exit === undefined) throw new Error("the linked process got no Exit");
    if (down === undefined) throw new Error("the monitor got no Down");
  };
  const positions: Position[] = [
    P("Runtime.exit(pid, reason): Down, Exit", anything, (v) => watched(rt, v)),
    // an unencodable reason is refused at once (P3)
    P(
      "Runtime.exit(remote pid, reason): Down, Exit over the wire",
      anything,
      (v) => watched(b.runtime, v),
      { payload: true },
    ),
    P(
      "Process.stop(reason): Down, Exit",
      anything,
      (v) => watched(rt, v, (pid) => rt.send(pid, "stop")),
    ),
    P(
      "Process.stop(reason) on another node: Down, Exit over the wire",
      anything,
      (v) => watched(b.runtime, v, (pid) => rt.send(pid, "stop")),
    ),
    P(
      "Runtime.whenExited(pid) of a process ended with reason",
      anything,
      async (v) => {
        const pid = rt.spawn(idle);
        const exited = rt.whenExited(pid);
        rt.exit(pid, v);
        return await exited;
      },
    ),
    {
      name:
        "registerGlobal, then the holder ends with reason: the name is released",
      call: async (v) => {
        const name = `held${++n}`;
        const pid = rt.spawn(idle);
        a.registerGlobal(name, pid);
        rt.exit(pid, v);
        await drainTurns();
        if (a.whereisGlobal(name) !== undefined) {
          throw new Error(`"${name}" still names the dead ${pid}`);
        }
      },
    },
    P("monitorNode, then the watcher ends with reason", anything, async (v) => {
      const pid = rt.spawn(idle);
      a.monitorNode(pid, b.name);
      rt.exit(pid, v);
      await drainTurns();
    }),
    P(
      "Groups.join, then the member ends with reason: it leaves",
      anything,
      async (v) => {
        const pid = rt.spawn(idle);
        groups.join("r", pid);
        rt.exit(pid, v);
        await drainTurns();
        if (groups.members("r").some((m) => m.equals(pid))) {
          throw new Error("the dead member is still in its group");
        }
      },
    ),
    P(
      "startGroups, then the scope process ends with reason",
      anything,
      async (v) => {
        const g = await startGroups(rt, { scope: `scope${++n}` });
        rt.exit(g.pid, v);
        await drainTurns();
        assert.throws(() => g.members("x"), MoteError);
      },
    ),
    P(
      "stopServer(server, reason)",
      anything,
      async (v) =>
        await stopServer(rt, await startServer(rt, incrementer, 0), v),
    ),
    P("handleCall returns { stop: reason }", anything, async (v) => {
      const pid = await startServer(rt, {
        init: () => null,
        handleCall: (_req, _from, state) => ({
          stop: v,
          reply: 1,
          state,
        }),
      }, null);
      return await call(rt, pid, 1);
    }),
    P(
      "a supervisor's child ends with reason: it is restarted",
      anything,
      async (v) => {
        const sup = await startSupervisor(rt, {
          strategy: "one_for_one",
          children: [{ id: "c", start: (s) => s.spawnLink(idle) }],
        });
        try {
          const [before] = await whichChildren(rt, sup);
          rt.exit(before!.pid!, v);
          await drainTurns();
          const [after] = await whichChildren(rt, sup);
          if (after?.pid === undefined || after.pid.equals(before!.pid)) {
            throw new Error("the child was not restarted");
          }
        } finally {
          rt.exit(sup, "kill");
        }
      },
    ),
  ];
  await fuzz(report, strays, rt, positions, values, {
    invariant: () =>
      a.nodes().includes(b.name) ? undefined : "the connection was lost",
  });
  await assertAlive(rt, b.runtime, "connection a → b");
  report.check();
});

// --- Callbacks ------------------------------------------------------------

Deno.test("bad input: hostile values thrown or returned by callbacks end only the process that ran them", async () => {
  using strays = new Strays();
  const report = new Report();
  const logged: unknown[] = [];
  await using rt = new Runtime({
    node: "fuzz@127.0.0.1",
    logger: { error: (...args) => logged.push(args), warn: () => {} },
  });
  const values = hostile(rt, await deadPidOf(rt));
  const memory = new MemoryTransport();
  await using a = await startNode({
    name: nodeName("ca"),
    cookie: COOKIE,
    transport: memory,
  });
  await using b = await startNode({
    name: nodeName("cb"),
    cookie: COOKIE,
    transport: memory,
  });
  await a.connect(b.name, b.address!);
  // Ends when `pid` exits; its reason must be a Crash, or `normal`.
  const ended = async (pid: Pid) => {
    const reason = await rt.whenExited(pid);
    if (
      reason !== "normal" && !(reason instanceof Object && "stack" in reason)
    ) {
      throw new Error(`exited with ${show(reason)}, not a Crash`);
    }
  };
  const server = (behaviour: Partial<ServerBehaviour<null, null>>) =>
    startServer(rt, { init: () => null, ...behaviour } as never, null);
  const positions: Position[] = [
    P("a process body throws value", anything, (v) =>
      ended(rt.spawn(() => {
        throw v;
      }))),
    // a thenable that never settles keeps it running
    P(
      "a process body returns value",
      anything,
      (v) => ended(rt.spawn(() => v)),
      { pendingOk: thenable },
    ),
    P(
      "an async process body rejects with value",
      anything,
      (v) =>
        ended(rt.spawn(async () => {
          await null;
          throw v;
        })),
    ),
    P(
      "a receive matcher throws value (the sender is unharmed)",
      anything,
      async (v) => {
        const pid = rt.spawn(async (proc) => {
          await proc.receive(() => {
            throw v;
          });
        });
        await drainTurns();
        const exited = ended(pid);
        exited.catch(() => {}); // awaited below, unless the send throws
        rt.send(pid, "m"); // must not throw: the receiver's matcher did
        await exited;
      },
    ),
    P("a server's init throws value", nothing, (v) =>
      server({
        init: () => {
          throw v;
        },
      })),
    P("a server's handleCall throws value", nothing, async (v) =>
      call(
        rt,
        await server({
          handleCall: () => {
            throw v;
          },
        }),
        1,
      )),
    P(
      "a server's handleCall returns value",
      nothing,
      async (v) =>
        call(rt, await server({ handleCall: () => v }), 1, {
          timeout: 50,
        }),
    ),
    P("a server's handleCast returns value", anything, async (v) => {
      const pid = await server({ handleCast: () => v });
      cast(rt, pid, 1);
      await drainTurns();
    }),
    P("a server's terminate throws value", nothing, async (v) =>
      stopServer(
        rt,
        await server({
          terminate: () => {
            throw v;
          },
        }),
      )),
    P("a server's handleInfo returns value", anything, async (v) => {
      const pid = await server({ handleInfo: () => v });
      rt.send(pid, "info");
      await drainTurns();
    }),
    P("a node event listener throws value", anything, async (v) => {
      const off = a.onNodeEvent(() => {
        throw v;
      });
      try {
        a.disconnect(b.name);
        await a.connect(b.name, b.address!);
      } finally {
        off();
      }
    }),
    P("resolve throws value", nothing, async (v) => {
      const node = await startNode({
        name: nodeName("cr"),
        cookie: COOKIE,
        transport: memory,
        resolve: () => {
          throw v;
        },
      });
      try {
        await node.connect("unknown@127.0.0.1");
      } finally {
        await node.stop();
      }
    }),
    P("a remote spawn body throws value", anything, async (v) => {
      b.allowSpawn("thrower", () => {
        throw v;
      });
      const pid = await a.spawn({ node: b.name, name: "thrower" });
      await drainTurns();
      return pid;
    }),
    P(
      "a logger whose methods throw value, while a process crashes",
      anything,
      async (v) => {
        const thrower = () => {
          throw v;
        };
        await using r = new Runtime({
          logger: { error: thrower, warn: thrower },
        });
        const pid = r.spawn(() => {
          throw new Error("crash");
        });
        await r.whenExited(pid);
        await assertAlive(r);
      },
    ),
  ];
  await fuzz(
    report,
    strays,
    rt,
    // The values come from the callbacks here: a HostileError that reaches
    // the caller escaped from someone else's code.
    positions.map((p) => ({ ...p, callersOwn: false })),
    values,
    {
      invariant: () =>
        a.nodes().includes(b.name) ? undefined : "the connection was lost",
    },
  );
  if (ONLY === undefined) assert.ok(logged.length > 0, "crashes were logged");
  await assertAlive(rt);
  await assertAlive(a.runtime, b.runtime, "connection a → b");
  report.check();
});
