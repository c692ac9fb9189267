// Fairness (actor/_kernel.ts, Kernel.overdue): processes resume each other
// in microtasks, and a long run of that must still let the host run its
// timers and I/O, as Erlang's reductions make a busy process yield.
import assert from "node:assert/strict";
import {
  type Clock,
  type LocalGate,
  ManualClock,
  type Pid,
  realClock,
  type Router,
  Runtime,
} from "../actor/mod.ts";
import { MemoryTransport, startNode, type Transport } from "../dist/mod.ts";
import { settle } from "./_util.ts";

/**
 * Two processes ping-pong until `stop()` says so or `limitMs` has passed;
 * resolves with how long they played.
 */
function pingPong(rt: Runtime, limitMs: number) {
  let stopped = false;
  const done = Promise.withResolvers<number>();
  const start = performance.now();
  const ponger = rt.spawn(async (proc) => {
    for (;;) {
      const from = await proc.receive() as Pid;
      proc.send(from, "pong");
    }
  });
  rt.spawn(async (proc) => {
    while (!stopped && performance.now() - start < limitMs) {
      proc.send(ponger, proc.self);
      await proc.receive();
    }
    done.resolve(performance.now() - start);
  });
  return { stop: () => (stopped = true), done: done.promise };
}

Deno.test("fairness: a timer fires while processes keep each other busy", async () => {
  await using rt = new Runtime();
  const game = pingPong(rt, 3_000);
  let fired = 0;
  const timer = setTimeout(() => {
    fired = performance.now();
    game.stop();
  }, 20);
  const played = await game.done;
  clearTimeout(timer);
  assert.ok(fired > 0, "the timer fired before the game ended by itself");
  assert.ok(played < 1_000, `the game stopped on the timer (${played} ms)`);
});

Deno.test("fairness: a busy mailbox lets the host in too, and its messages keep their order", async () => {
  await using rt = new Runtime();
  const n = 20_000;
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  const seen = Promise.withResolvers<boolean>();
  const pid = rt.spawn(async (proc) => {
    let inOrder = true;
    for (let i = 0; i < n; i++) {
      inOrder &&= await proc.receive() === i;
      // 20 µs of work per message: 0.4 s for all of them.
      const until = performance.now() + 0.02;
      while (performance.now() < until) { /* busy */ }
    }
    seen.resolve(inOrder);
  });
  for (let i = 0; i < n; i++) rt.send(pid, i);
  assert.ok(await seen.promise, "every message in order");
  clearInterval(interval);
  // With a turn every 50 ms or so, a 1 ms interval fires several times.
  assert.ok(ticks >= 4, `the interval fired ${ticks} times`);
});

Deno.test("fairness: a clock without yieldToHost (ManualClock) never holds a process back", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const game = pingPong(rt, 200);
  assert.ok(await game.done >= 200, "ran to its own end");
  assert.equal(clock.pending, 0, "no timers asked of the clock");
});

/** The gate `rt` gives a router (a stand-in one, closed with the runtime). */
function gateOf(rt: Runtime): LocalGate {
  let gate: LocalGate | undefined;
  rt.attachRouter((g) => {
    gate = g;
    return { close: () => Promise.resolve() } as unknown as Router;
  });
  return gate!;
}

/** A ManualClock with yieldToHost: turns come when the test advances it. */
class TurnClock extends ManualClock {
  asked = 0;
  yieldToHost(fn: () => void) {
    this.asked++;
    return this.setTimeout(fn, 0);
  }
}

/**
 * A process on `rt` that takes messages; `burst()` sends it 64 (so the
 * runtime reads its clock at least once) and resolves once it took them.
 */
function burster(rt: Runtime): () => Promise<void> {
  let got = 0;
  let burstDone = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    for (;;) {
      await proc.receive();
      if (++got % 64 === 0) burstDone.resolve();
    }
  });
  return async () => {
    burstDone = Promise.withResolvers<void>();
    for (let i = 0; i < 64; i++) rt.send(pid, i);
    await burstDone.promise;
  };
}

Deno.test("fairness: a runtime that had a host turn lately asks for no other", async () => {
  const clock = new TurnClock();
  await using rt = new Runtime({ clock });
  const burst = burster(rt);
  await burst();
  assert.equal(clock.asked, 1, "a first run asks for a turn");
  clock.advance(0); // the turn comes
  await burst();
  assert.equal(clock.asked, 1, "none asked within 10 ms of a turn");
  clock.advance(10);
  await burst();
  assert.equal(clock.asked, 2, "asked again once 10 ms have passed");
  clock.advance(0); // so that shutdown finds no turn pending
});

Deno.test("fairness: the host timer of a quiet-spell turn is set after the resumed process ran", async () => {
  // Setting a host timer is slow when timers are cold; a process answering
  // a message must not wait for it.
  const log: string[] = [];
  class TurnClock extends ManualClock {
    override now() {
      log.push("clock");
      return super.now();
    }
    yieldToHost(fn: () => void) {
      log.push("timer");
      return this.setTimeout(fn, 0);
    }
  }
  const clock = new TurnClock();
  await using rt = new Runtime({ clock });
  const done = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    for (let i = 1;; i++) {
      const m = await proc.receive();
      log.push(`ran ${m}`);
      if (i === 64) done.resolve();
    }
  });
  // One at a time, as a node answering one message per I/O turn gets them.
  for (let i = 1; i <= 64; i++) {
    rt.send(pid, i);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
  }
  await done.promise;
  const timer = log.indexOf("timer");
  assert.ok(timer > 0, "a turn was asked for");
  assert.equal(log.filter((e) => e === "timer").length, 1);
  // The resume that read the clock and chose to ask: its process ran first.
  const check = log.lastIndexOf("clock", timer);
  assert.ok(check >= 0);
  assert.deepEqual(
    log.slice(check + 1, timer).filter((e) => e.startsWith("ran")).length,
    1,
    log.slice(check, timer + 1).join(", "),
  );
  clock.advance(0); // so that shutdown finds no turn pending
});

Deno.test("fairness: while processes are held back the gate says so, and resolves once they ran", async () => {
  // Host turns come only when the test gives them.
  class HeldClock extends ManualClock {
    turns: (() => void)[] = [];
    yieldToHost(fn: () => void) {
      this.turns.push(fn);
      return -1; // shutdown finds every turn given
    }
    giveTurn() {
      for (const fn of this.turns.splice(0)) fn();
    }
  }
  const clock = new HeldClock();
  await using rt = new Runtime({ clock });
  const gate = gateOf(rt);
  let got = 0;
  const pid = rt.spawn(async (proc) => {
    for (;;) {
      await proc.receive();
      got++;
    }
  });
  const burst = async () => {
    for (let i = 0; i < 64; i++) rt.send(pid, i);
    await settle();
  };
  await burst(); // asks for a turn, which does not come
  assert.equal(got, 64);
  assert.equal(gate.heldBack(), undefined, "nothing held back yet");
  clock.advance(60); // over the budget: the next resumes wait
  await burst();
  const held = gate.heldBack();
  assert.ok(held instanceof Promise, "held back while the turn is overdue");
  assert.ok(got < 128, `held back after ${got - 64} of the second burst`);
  let resolved = false;
  held.then(() => resolved = true);
  await settle();
  assert.equal(resolved, false);
  clock.giveTurn();
  await held;
  await settle();
  assert.equal(got, 128, "every message taken once the turn came");
  assert.equal(gate.heldBack(), undefined);
  clock.giveTurn();
});

Deno.test("fairness: a turn the host had anyway (a socket read) counts, and spares the runtime a timer of its own", async () => {
  const clock = new TurnClock();
  await using rt = new Runtime({ clock });
  const gate = gateOf(rt);
  const burst = burster(rt);
  // Each burst 20 ms after the last, as a reader's: none asks for a turn.
  for (let i = 0; i < 5; i++) {
    gate.hostTurned();
    await burst();
    clock.advance(20);
  }
  assert.equal(clock.asked, 0, "no turn asked for while the host had them");
  await burst(); // no host turn told of for 20 ms: one is asked for
  assert.equal(clock.asked, 1);
  clock.advance(0); // so that shutdown finds no turn pending
});

/**
 * Node `a` plays ping-pong with node `b` over `transport` for at least `ms`
 * of real time, and until a timer set for a fifth of that has fired (at most
 * 5 s); resolves with how often `a`'s runtime asked the host for a turn and
 * whether the timer fired during the game.
 */
async function pingPongAcross(transport: Transport | undefined, ms: number) {
  let asked = 0;
  const clock: Clock = {
    ...realClock(),
    yieldToHost(fn: () => void) {
      asked++;
      return setTimeout(fn, 0);
    },
  };
  const host = transport === undefined ? {} : { transport, host: "mem" };
  const suffix = crypto.randomUUID().slice(0, 8);
  await using a = await startNode({
    name: `fa_${suffix}@127.0.0.1`,
    cookie: "fair",
    clock,
    ...host,
  });
  await using b = await startNode({
    name: `fb_${suffix}@127.0.0.1`,
    cookie: "fair",
    ...host,
  });
  await a.connect(b.name, b.address!);
  const pong = b.runtime.spawn(async (proc) => {
    for (;;) {
      const from = await proc.receive() as Pid;
      proc.send(from, "pong");
    }
  });
  let timerFired = false;
  const timer = setTimeout(() => timerFired = true, ms / 5);
  const done = Promise.withResolvers<void>();
  a.runtime.spawn(async (proc) => {
    const start = performance.now();
    for (;;) {
      const played = performance.now() - start;
      if ((played >= ms && timerFired) || played >= 5_000) break;
      proc.send(pong, proc.self);
      await proc.receive();
    }
    done.resolve();
  });
  await done.promise;
  clearTimeout(timer);
  return { asked, firedInGame: timerFired };
}

Deno.test("fairness: processes woken by TCP reads set no host timer, yet timers fire", async () => {
  const { asked, firedInGame } = await pingPongAcross(undefined, 100);
  // Against a runtime that does not count reads: one every 10 ms.
  assert.ok(asked <= 1, `${asked} turns asked for`);
  assert.ok(firedInGame, "a timer fired during the game");
});

Deno.test("fairness: reads of an in-memory connection do not count as host turns", async () => {
  // Its reads resolve in microtasks: the runtime still asks for turns, and
  // the host still gets them.
  const { asked, firedInGame } = await pingPongAcross(
    new MemoryTransport(),
    100,
  );
  assert.ok(asked >= 1, `${asked} turns asked for`);
  assert.ok(firedInGame, "a timer fired during the game");
});
