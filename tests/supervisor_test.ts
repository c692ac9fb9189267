// Supervisors (actor/supervisor.ts): ordered start, reverse stop, the three
// strategies, restart types, the intensity limit, nesting and the child
// management calls. Nothing sleeps to synchronise: a test awaits a child's
// exit, then asks the supervisor, whose mailbox already holds that exit.
import assert from "node:assert/strict";
import {
  call,
  CallError,
  type ChildSpec,
  countChildren,
  Crash,
  deleteChild,
  Exit,
  InvalidArgumentError,
  type Pid,
  restartChild,
  Runtime,
  serverChild,
  ServerStartError,
  startChild,
  startSupervisor,
  stopServer,
  supervisorChild,
  SupervisorError,
  SupervisorStartError,
  terminateChild,
  whichChildren,
} from "../actor/mod.ts";
import { ManualClock } from "../actor/clock.ts";
import { assertInstanceOf, idle, settle } from "./_util.ts";

/** A server child that logs its start and its terminate. */
function worker(
  id: string,
  log: string[],
  extra: Partial<ChildSpec> = {},
): ChildSpec {
  return {
    ...serverChild(id, {
      init: () => {
        log.push(`start ${id}`);
        return null;
      },
      terminate: (reason) => {
        log.push(`stop ${id} ${String(reason)}`);
      },
    }, undefined),
    ...extra,
  };
}

async function pidsOf(rt: Runtime, sup: Pid): Promise<Map<string, Pid>> {
  const map = new Map<string, Pid>();
  for (const c of await whichChildren(rt, sup)) {
    if (c.pid !== undefined) map.set(c.id, c.pid);
  }
  return map;
}

/** Crashes a child and waits until it is gone (its Exit then sits in the supervisor's mailbox). */
async function crash(rt: Runtime, pid: Pid, reason = "boom"): Promise<void> {
  rt.exit(pid, reason);
  await rt.whenExited(pid);
}

Deno.test("supervisor: children start in order and stop in reverse order, running terminate", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [worker("a", log), worker("b", log), worker("c", log)],
  });
  assert.deepEqual(log, ["start a", "start b", "start c"]);
  const children = await whichChildren(rt, sup);
  assert.deepEqual(children.map((c) => c.id), ["a", "b", "c"]);
  assert.ok(children.every((c) => c.pid && rt.isAlive(c.pid)));
  assert.ok(rt.processInfo(sup)?.trapExit);
  await stopServer(rt, sup, "shutdown");
  assert.deepEqual(log.slice(3), [
    "stop c shutdown",
    "stop b shutdown",
    "stop a shutdown",
  ]);
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("supervisor: one_for_one restarts only the child that failed", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [worker("a", log), worker("b", log), worker("c", log)],
  });
  const before = await pidsOf(rt, sup);
  await crash(rt, before.get("b")!);
  const after = await pidsOf(rt, sup);
  assert.ok(after.get("a")!.equals(before.get("a")));
  assert.ok(!after.get("b")!.equals(before.get("b")));
  assert.ok(after.get("c")!.equals(before.get("c")));
  assert.deepEqual(log.slice(3), ["stop b boom", "start b"]);
  await rt.shutdown();
});

Deno.test("supervisor: one_for_all restarts every child, stopping the others in reverse order first", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_all",
    children: [worker("a", log), worker("b", log), worker("c", log)],
  });
  const before = await pidsOf(rt, sup);
  await crash(rt, before.get("b")!);
  const after = await pidsOf(rt, sup);
  for (const id of ["a", "b", "c"]) {
    assert.ok(!after.get(id)!.equals(before.get(id)), id);
    assert.equal(rt.isAlive(before.get(id)!), false);
  }
  assert.deepEqual(log.slice(3), [
    "stop b boom",
    "stop c shutdown",
    "stop a shutdown",
    "start a",
    "start b",
    "start c",
  ]);
  await rt.shutdown();
});

Deno.test("supervisor: rest_for_one restarts the failed child and those after it", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "rest_for_one",
    children: [worker("a", log), worker("b", log), worker("c", log)],
  });
  const before = await pidsOf(rt, sup);
  await crash(rt, before.get("b")!);
  const after = await pidsOf(rt, sup);
  assert.ok(after.get("a")!.equals(before.get("a")));
  assert.ok(!after.get("b")!.equals(before.get("b")));
  assert.ok(!after.get("c")!.equals(before.get("c")));
  assert.deepEqual(log.slice(3), [
    "stop b boom",
    "stop c shutdown",
    "start b",
    "start c",
  ]);
  await rt.shutdown();
});

Deno.test("supervisor: permanent, transient and temporary children restart as their type says", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    intensity: 10,
    children: [
      worker("perm", log),
      worker("trans", log, { restart: "transient" }),
      worker("temp", log, { restart: "temporary" }),
    ],
  });
  let pids = await pidsOf(rt, sup);
  // permanent: restarted even after a normal exit.
  const p1 = pids.get("perm")!;
  await stopServer(rt, p1, "normal");
  pids = await pidsOf(rt, sup);
  assert.ok(pids.has("perm") && !pids.get("perm")!.equals(p1));
  // transient: restarted after a crash, not after a normal exit.
  const t1 = pids.get("trans")!;
  await crash(rt, t1, "boom");
  pids = await pidsOf(rt, sup);
  assert.ok(pids.has("trans") && !pids.get("trans")!.equals(t1));
  await stopServer(rt, pids.get("trans")!, "normal");
  const children = await whichChildren(rt, sup);
  assert.deepEqual(
    children.map((c) => [c.id, c.pid !== undefined]),
    [["perm", true], ["trans", false], ["temp", true]],
  );
  // temporary: never restarted, and its spec is dropped.
  await crash(rt, pids.get("temp")!, "boom");
  assert.deepEqual((await whichChildren(rt, sup)).map((c) => c.id), [
    "perm",
    "trans",
  ]);
  await rt.shutdown();
});

Deno.test('supervisor: a transient child that exits with ["shutdown", detail] (Erlang\'s {shutdown, Term}) is not restarted; one with another pair is', async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    intensity: 0, // a restart would shut the supervisor down
    children: [
      worker("trans", log, { restart: "transient" }),
      worker("other", log),
    ],
  });
  const t1 = (await pidsOf(rt, sup)).get("trans")!;
  await stopServer(rt, t1, ["shutdown", "moved"]);
  assert.deepEqual(
    (await whichChildren(rt, sup)).map((c) => [c.id, c.pid !== undefined]),
    [["trans", false], ["other", true]],
  );
  assert.deepEqual(log.slice(2), ["stop trans shutdown,moved"]);
  // A pair of another length is not a {shutdown, _}: abnormal, restarted.
  const sup2 = await startSupervisor(rt, {
    strategy: "one_for_one",
    intensity: 1,
    children: [worker("t2", log, { restart: "transient" })],
  });
  const t2 = (await pidsOf(rt, sup2)).get("t2")!;
  await stopServer(rt, t2, ["shutdown", "a", "b"]);
  const t3 = (await pidsOf(rt, sup2)).get("t2")!;
  assert.ok(!t3.equals(t2));
  await rt.shutdown();
});

Deno.test("supervisor: more restarts than the intensity within the period shut it down, and it says so in the log", async () => {
  const logged: [string, Record<string, unknown> | undefined][] = [];
  const rt = new Runtime({
    logger: {
      error: (message, details) => logged.push([message, details]),
      warn: () => {},
    },
  });
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    intensity: 2,
    period: 60_000,
    children: [worker("a", log), worker("b", log)],
  });
  const supExit = rt.whenExited(sup);
  for (let i = 0; i < 2; i++) {
    await crash(rt, (await pidsOf(rt, sup)).get("a")!);
  }
  const b = (await pidsOf(rt, sup)).get("b")!;
  await crash(rt, (await pidsOf(rt, sup)).get("a")!);
  assert.equal(await supExit, "shutdown");
  assert.equal(rt.isAlive(b), false);
  assert.equal(log.at(-1), "stop b shutdown");
  assert.equal(rt.processCount, 0);
  const reports = logged.filter(([m]) => m.includes("restart intensity"));
  assert.equal(reports.length, 1, Deno.inspect(logged));
  assert.match(reports[0]![0], /more than 2 restarts in 60000 ms/);
  assert.equal(reports[0]![1]?.child, "a");
  await rt.shutdown();
});

Deno.test("supervisor: a restart exactly period ms ago still counts toward the intensity (as OTP's Now =< Then + Period); one older does not", async () => {
  const clock = new ManualClock();
  const rt = new Runtime({ clock });
  const log: string[] = [];
  const start = () =>
    startSupervisor(rt, {
      strategy: "one_for_one",
      intensity: 1,
      period: 1000,
      children: [worker("a", log)],
    });
  const sup = await start();
  await crash(rt, (await pidsOf(rt, sup)).get("a")!);
  clock.advance(1001);
  await crash(rt, (await pidsOf(rt, sup)).get("a")!);
  assert.ok(rt.isAlive(sup), "the first restart is older than the period");
  const sup2 = await start();
  await crash(rt, (await pidsOf(rt, sup2)).get("a")!);
  clock.advance(1000);
  const supExit = rt.whenExited(sup2);
  await crash(rt, (await pidsOf(rt, sup2)).get("a")!);
  assert.equal(await supExit, "shutdown");
  await rt.shutdown();
});

Deno.test("supervisor: a child that ignores shutdown is killed after its shutdown time; brutal_kill kills at once", async () => {
  const rt = new Runtime();
  const stubborn: ChildSpec = {
    id: "stubborn",
    start: (sup) => sup.spawnLink(idle, { trapExit: true }),
    shutdown: 30,
  };
  const brutal: ChildSpec = {
    id: "brutal",
    start: (sup) => sup.spawnLink(idle, { trapExit: true }),
    shutdown: "brutal_kill",
  };
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [stubborn, brutal],
  });
  const pids = await pidsOf(rt, sup);
  const exits = [...pids.values()].map((p) => rt.whenExited(p));
  await terminateChild(rt, sup, "brutal");
  await terminateChild(rt, sup, "stubborn");
  assert.deepEqual(await Promise.all(exits), ["killed", "killed"]);
  assert.ok(rt.isAlive(sup));
  // Their exits were not taken for crashes: nothing restarted.
  assert.deepEqual((await whichChildren(rt, sup)).map((c) => c.pid), [
    undefined,
    undefined,
  ]);
  await rt.shutdown();
});

Deno.test("supervisor: shutdown 0 kills at once: a child that traps exits gets no turn to act on the shutdown, as in OTP", async () => {
  await using rt = new Runtime();
  const acted: unknown[] = [];
  const trapping: ChildSpec = {
    id: "trapping",
    start: (sup) =>
      sup.spawnLink(async (p) => {
        acted.push(await p.receive()); // the Exit of the shutdown
        return p.stop("its own reason");
      }, { trapExit: true }),
    shutdown: 0,
  };
  const plain: ChildSpec = {
    id: "plain",
    start: (sup) => sup.spawnLink(idle),
    shutdown: 0,
  };
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [trapping, plain],
  });
  const [child, other] = await whichChildren(rt, sup);
  const exited = [rt.whenExited(child!.pid!), rt.whenExited(other!.pid!)];
  await terminateChild(rt, sup, "trapping");
  await terminateChild(rt, sup, "plain");
  assert.deepEqual(await Promise.all(exited), ["killed", "shutdown"]);
  assert.deepEqual(acted, []);
});

Deno.test("supervisor: a call it does not know crashes it, as OTP's (function_clause there); it was taken for deleteChild", async () => {
  await using rt = new Runtime();
  for (const request of [{ bogus: 1 }, "bogus", null]) {
    const sup = await startSupervisor(rt, {
      strategy: "one_for_one",
      children: [],
    });
    const error = await call(rt, sup as never, request as never).catch((
      e,
    ) => e);
    assertInstanceOf(error, CallError);
    assert.ok(error.reason instanceof Crash, Deno.inspect(error.reason));
    assert.equal(error.reason.name, "InvalidArgumentError");
    assert.ok(!rt.isAlive(sup));
  }
});

Deno.test("supervisor: startChild, terminateChild, deleteChild and whichChildren", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [],
    name: "sup",
  });
  assert.deepEqual(await whichChildren(rt, "sup"), []);
  const pid = await startChild(rt, "sup", worker("x", log));
  assert.ok(rt.isAlive(pid));
  assert.deepEqual(await whichChildren(rt, sup), [{
    id: "x",
    pid,
    restart: "permanent",
    type: "worker",
  }]);
  const dup = await startChild(rt, sup, worker("x", log)).catch((e) => e);
  assertInstanceOf(dup, SupervisorError);
  assert.equal(dup.reason, "already_started");
  const running = await deleteChild(rt, sup, "x").catch((e) => e);
  assertInstanceOf(running, SupervisorError);
  assert.equal(running.reason, "running");
  await terminateChild(rt, sup, "x");
  assert.equal(rt.isAlive(pid), false);
  assert.deepEqual(log, ["start x", "stop x shutdown"]);
  await deleteChild(rt, sup, "x");
  assert.deepEqual(await whichChildren(rt, sup), []);
  const missing = await terminateChild(rt, sup, "x").catch((e) => e);
  assertInstanceOf(missing, SupervisorError);
  assert.equal(missing.reason, "not_found");
  // A child whose start fails is not added.
  const failed = await startChild(rt, sup, {
    id: "bad",
    start: () => Promise.reject(new Error("no")),
  }).catch((e) => e);
  assertInstanceOf(failed, SupervisorError);
  // The reason is an exit reason (the crash of what start threw), as OTP's
  // {error, Reason}: one that can cross the wire to a remote caller.
  assertInstanceOf(failed.reason, Crash);
  assert.equal(failed.reason.message, "no");
  assert.deepEqual(await whichChildren(rt, sup), []);
  await rt.shutdown();
});

Deno.test("supervisor: startChild with the id of a running child is already_started, with its pid; of a stopped one, already_present (as in OTP)", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [worker("x", log)],
  });
  const pid = (await pidsOf(rt, sup)).get("x")!;
  const running = await startChild(rt, sup, worker("x", log)).catch((e) => e);
  assertInstanceOf(running, SupervisorError);
  assert.equal(running.reason, "already_started");
  assert.ok(running.pid?.equals(pid));
  assert.match(running.message, /already_started \(<.*>\)/);
  await terminateChild(rt, sup, "x");
  const stopped = await startChild(rt, sup, worker("x", log)).catch((e) => e);
  assertInstanceOf(stopped, SupervisorError);
  assert.equal(stopped.reason, "already_present");
  assert.equal(stopped.pid, undefined);
  assert.deepEqual(log, ["start x", "stop x shutdown"]);
  await rt.shutdown();
});

Deno.test("supervisor: rest_for_one tries a failed restart again from the child that failed to start, not from the one that exited (as in OTP)", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const attempts = new Map<string, number>();
  // Like `worker`, but its second start fails once.
  const flaky = (id: string): ChildSpec => {
    const spec = worker(id, log);
    return {
      ...spec,
      start: (sup) => {
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        if (n === 2) throw new Error(`${id} cannot start now`);
        return spec.start(sup);
      },
    };
  };
  const sup = await startSupervisor(rt, {
    strategy: "rest_for_one",
    intensity: 5,
    children: [worker("a", log), worker("b", log), flaky("c")],
  });
  const before = await pidsOf(rt, sup);
  await crash(rt, before.get("a")!);
  const after = await pidsOf(rt, sup);
  // a and b were started once again, c twice (the first failed).
  assert.deepEqual(log.slice(3), [
    "stop a boom",
    "stop c shutdown",
    "stop b shutdown",
    "start a",
    "start b",
    "start c",
  ]);
  assert.equal(attempts.get("c"), 3);
  assert.deepEqual([...after.keys()], ["a", "b", "c"]);
  await rt.shutdown();
});

Deno.test("supervisor: a child that fails to start makes startSupervisor reject, stopping the ones started", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const error = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [
      worker("a", log),
      serverChild("b", {
        init: () => {
          throw new Error("b cannot start");
        },
      }, undefined),
      worker("c", log),
    ],
  }).catch((e) => e);
  assertInstanceOf(error, ServerStartError);
  assert.deepEqual(log, ["start a", "stop a shutdown"]);
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("supervisor: nested supervisors restart at the right level and stop as a tree", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const top = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [
      worker("top_worker", log),
      supervisorChild("inner", {
        strategy: "one_for_one",
        children: [worker("leaf", log)],
      }),
    ],
  });
  const topPids = await pidsOf(rt, top);
  const inner = topPids.get("inner")!;
  const leaf = (await pidsOf(rt, inner)).get("leaf")!;
  // A leaf crash is the inner supervisor's business only.
  await crash(rt, leaf);
  const leaf2 = (await pidsOf(rt, inner)).get("leaf")!;
  assert.ok(!leaf2.equals(leaf));
  assert.ok((await pidsOf(rt, top)).get("inner")!.equals(inner));
  // Killing the inner supervisor takes its leaf down; top restarts both.
  await crash(rt, inner, "kill");
  assert.equal(rt.isAlive(leaf2), false);
  const inner2 = (await pidsOf(rt, top)).get("inner")!;
  assert.ok(!inner2.equals(inner));
  assert.ok((await pidsOf(rt, inner2)).get("leaf"));
  assert.ok((await pidsOf(rt, top)).get("top_worker")!.equals(
    topPids.get("top_worker"),
  ));
  log.length = 0;
  await stopServer(rt, top, "shutdown");
  assert.deepEqual(log, ["stop leaf shutdown", "stop top_worker shutdown"]);
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("supervisor: bad options and child specs are InvalidArgumentErrors, rejected before anything starts", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const ok = worker("ok", log);
  // deno-lint-ignore no-explicit-any
  const start = (options: any, caller: any = rt) =>
    startSupervisor(caller, options);
  const refusals: [unknown, RegExp][] = [
    [{}, /^Invalid strategy: expected "one_for_one", .* got undefined$/],
    [{ strategy: "bogus", children: [] }, /got "bogus"$/],
    [{ strategy: "simple_one_for_one", children: [] }, /Invalid strategy/],
    [null, /^Invalid supervisor options: expected an object, got null$/],
    [{ strategy: "one_for_one" }, /^Invalid children: .*got undefined$/],
    [{ strategy: "one_for_one", children: 5 }, /Invalid children: .*number 5/],
    [
      { strategy: "one_for_one", children: [ok], intensity: "3" },
      /^Invalid intensity: expected an integer >= 0, got "3"$/,
    ],
    [{ strategy: "one_for_one", children: [], intensity: -1 }, /intensity/],
    [{ strategy: "one_for_one", children: [], intensity: 1.5 }, /intensity/],
    [{ strategy: "one_for_one", children: [], period: 0 }, /Invalid period/],
    [{ strategy: "one_for_one", children: [], period: -5 }, /Invalid period/],
    [{ strategy: "one_for_one", children: [], period: NaN }, /Invalid period/],
    [{ strategy: "one_for_one", children: [], period: "5" }, /got "5"$/],
    [{ strategy: "one_for_one", children: [], link: "yes" }, /link option/],
    [{ strategy: "one_for_one", children: [], name: 5 }, /name option/],
    [
      { strategy: "one_for_one", children: [{ ...ok, restart: "sometimes" }] },
      /^Invalid restart of child "ok": .* got "sometimes"$/,
    ],
    [
      { strategy: "one_for_one", children: [{ ...ok, shutdown: "soon" }] },
      /^Invalid shutdown of child "ok": .*got "soon"$/,
    ],
    [
      { strategy: "one_for_one", children: [{ ...ok, shutdown: -1 }] },
      /shutdown of child "ok"/,
    ],
    [
      { strategy: "one_for_one", children: [{ id: "x", start: 5 }] },
      /^Invalid start of child "x": .*got number 5$/,
    ],
    [
      { strategy: "one_for_one", children: [{ ...ok, id: 7 }] },
      /^Invalid child id: .*got number 7$/,
    ],
    [
      { strategy: "one_for_one", children: [ok, null] },
      /^Invalid child spec 1: .*got null$/,
    ],
  ];
  for (const [options, message] of refusals) {
    let promise: Promise<unknown> | undefined;
    assert.doesNotThrow(() => promise = start(options), "rejects, not throws");
    const error = await promise!.catch((e) => e);
    assertInstanceOf(error, InvalidArgumentError, Deno.inspect(options));
    assert.match(error.message, message);
  }
  for (const caller of [null, undefined, "rt"]) {
    await assert.rejects(
      startSupervisor(caller as never, {
        strategy: "one_for_one",
        children: [ok],
      }),
      InvalidArgumentError,
    );
  }
  // Two children with one id: refused as in OTP (duplicate_child_name).
  const twice = await start({ strategy: "one_for_one", children: [ok, ok] })
    .catch((e) => e);
  assertInstanceOf(twice, SupervisorError);
  assert.match(twice.message, /duplicate child id "ok"/);
  assert.deepEqual(log, [], "no child was started");
  assert.equal(rt.processCount, 0);
  // An empty list is valid: children come later through startChild.
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [],
  });
  await assert.rejects(
    startChild(rt, sup, { ...ok, restart: "sometimes" as never }),
    InvalidArgumentError,
  );
  await assert.rejects(
    startChild(rt, sup, null as never),
    InvalidArgumentError,
  );
  await assert.rejects(
    terminateChild(rt, sup, 5 as never),
    InvalidArgumentError,
  );
  await assert.rejects(deleteChild(rt, sup, {} as never), InvalidArgumentError);
  assert.deepEqual(await whichChildren(rt, sup), []);
  await rt.shutdown();
});

Deno.test("supervisor: serverChild and supervisorChild refuse a bad id, behaviour, restart or shutdown at once", () => {
  // deno-lint-ignore no-explicit-any
  const anyServerChild = serverChild as any;
  // deno-lint-ignore no-explicit-any
  const anySupervisorChild = supervisorChild as any;
  const behaviour = { init: () => null };
  const bad: [() => unknown, RegExp][] = [
    [
      () => anyServerChild(5, behaviour, undefined),
      /^Invalid child id: expected a non-empty string, got number 5$/,
    ],
    [() => anyServerChild("", behaviour, undefined), /Invalid child id/],
    [
      () => anyServerChild("c", {}, undefined),
      /^Invalid server behaviour of child "c": expected init to be a function/,
    ],
    [
      () => anyServerChild("c", behaviour, undefined, { restart: "sometimes" }),
      /^Invalid restart of child "c"/,
    ],
    [
      () => anyServerChild("c", behaviour, undefined, { shutdown: "later" }),
      /^Invalid shutdown of child "c"/,
    ],
    [
      () => anySupervisorChild(5, { strategy: "one_for_one", children: [] }),
      /Invalid child id/,
    ],
    [
      () => anySupervisorChild("s", { strategy: "bogus", children: [] }),
      /Invalid strategy/,
    ],
    [
      () =>
        anySupervisorChild(
          "s",
          { strategy: "one_for_one", children: [] },
          "sometimes",
        ),
      /Invalid restart of child "s"/,
    ],
  ];
  for (const [attempt, message] of bad) {
    const error = (() => {
      try {
        attempt();
      } catch (e) {
        return e;
      }
    })();
    assertInstanceOf(error, InvalidArgumentError);
    assert.match(error.message, message);
  }
});

Deno.test("supervisor: restartChild starts again a terminated child, keeping its place; running, not_found and a failed start are errors (as OTP's restart_child)", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  let failNext = false;
  const flaky: ChildSpec = {
    ...worker("b", log),
    start: (sup) => {
      if (failNext) throw new Error("b cannot start");
      return worker("b", log).start(sup);
    },
  };
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    intensity: 0, // a restart through restartChild is not counted
    children: [worker("a", log), flaky, worker("c", log)],
  });
  const before = await pidsOf(rt, sup);
  const running = await restartChild(rt, sup, "b").catch((e) => e);
  assertInstanceOf(running, SupervisorError);
  assert.equal(running.reason, "running");
  const missing = await restartChild(rt, sup, "zz").catch((e) => e);
  assertInstanceOf(missing, SupervisorError);
  assert.equal(missing.reason, "not_found");
  await terminateChild(rt, sup, "b");
  log.length = 0;
  const pid = await restartChild(rt, sup, "b");
  assert.deepEqual(log, ["start b"], "b alone starts, whatever the strategy");
  assert.ok(rt.isAlive(pid) && !pid.equals(before.get("b")!));
  assert.deepEqual(
    (await whichChildren(rt, sup)).map((c) => [c.id, c.pid]),
    [["a", before.get("a")], ["b", pid], ["c", before.get("c")]],
  );
  // A failed start leaves it stopped, its spec kept, and can be retried.
  await terminateChild(rt, sup, "b");
  failNext = true;
  const failed = await restartChild(rt, sup, "b").catch((e) => e);
  assertInstanceOf(failed, SupervisorError);
  assertInstanceOf(failed.reason, Crash);
  assert.equal(failed.reason.message, "b cannot start");
  assert.deepEqual(
    (await whichChildren(rt, sup)).map((c) => [c.id, c.pid !== undefined]),
    [["a", true], ["b", false], ["c", true]],
  );
  failNext = false;
  assert.ok(rt.isAlive(await restartChild(rt, sup, "b")));
  assert.ok(rt.isAlive(sup));
  await assert.rejects(
    restartChild(rt, sup, 5 as never),
    InvalidArgumentError,
  );
  await assert.rejects(
    restartChild(rt, sup, "" as never),
    /^InvalidArgumentError: Invalid child id/,
  );
  await rt.shutdown();
});

Deno.test("supervisor: restartChild restarts a transient child that exited normally; a temporary child that stopped is not_found (its spec is gone, as in OTP)", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [
      worker("t", log, { restart: "transient" }),
      worker("tmp", log, { restart: "temporary" }),
    ],
  });
  const tmpRunning = await restartChild(rt, sup, "tmp").catch((e) => e);
  assertInstanceOf(tmpRunning, SupervisorError);
  assert.equal(tmpRunning.reason, "running");
  const t = (await pidsOf(rt, sup)).get("t")!;
  await stopServer(rt, t, "normal");
  assert.equal((await pidsOf(rt, sup)).has("t"), false, "not restarted");
  const again = await restartChild(rt, sup, "t");
  assert.ok(rt.isAlive(again));
  await terminateChild(rt, sup, "tmp");
  const tmpGone = await restartChild(rt, sup, "tmp").catch((e) => e);
  assertInstanceOf(tmpGone, SupervisorError);
  assert.equal(tmpGone.reason, "not_found");
  await rt.shutdown();
});

Deno.test("supervisor: countChildren counts specs, running children, supervisors and workers (as OTP's count_children); whichChildren reports each child's type", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [
      worker("w", log),
      supervisorChild("inner", { strategy: "one_for_one", children: [] }),
      serverChild("manager", { init: () => null }, undefined, {
        type: "supervisor",
      }),
    ],
  });
  assert.deepEqual(await countChildren(rt, sup), {
    specs: 3,
    active: 3,
    supervisors: 2,
    workers: 1,
  });
  assert.deepEqual(
    (await whichChildren(rt, sup)).map((c) => [c.id, c.type]),
    [["w", "worker"], ["inner", "supervisor"], ["manager", "supervisor"]],
  );
  // A stopped child still counts as a spec and by its type, not as active.
  await terminateChild(rt, sup, "inner");
  await terminateChild(rt, sup, "w");
  assert.deepEqual(await countChildren(rt, sup), {
    specs: 3,
    active: 1,
    supervisors: 2,
    workers: 1,
  });
  await deleteChild(rt, sup, "w");
  await startChild(rt, sup, worker("late", log, { type: "worker" }));
  assert.deepEqual(await countChildren(rt, sup), {
    specs: 3,
    active: 2,
    supervisors: 2,
    workers: 1,
  });
  const empty = await startSupervisor(rt, {
    strategy: "one_for_all",
    children: [],
  });
  assert.deepEqual(await countChildren(rt, empty), {
    specs: 0,
    active: 0,
    supervisors: 0,
    workers: 0,
  });
  // A type other than worker or supervisor is refused, as a bad restart is.
  const boss = { ...worker("x", log), type: "boss" as never };
  await assert.rejects(startChild(rt, sup, boss), /Invalid type of child "x"/);
  await assert.rejects(
    startSupervisor(rt, { strategy: "one_for_one", children: [boss] }),
    InvalidArgumentError,
  );
  assert.throws(
    () =>
      serverChild("x", { init: () => null }, undefined, {
        type: "boss" as never,
      }),
    /^InvalidArgumentError: Invalid type of child "x": expected "worker" or "supervisor", got "boss"$/,
  );
  await rt.shutdown();
});

Deno.test("supervisor: a child's default shutdown is 5000 ms for a worker and Infinity for a supervisor (as in OTP)", async () => {
  const clock = new ManualClock();
  const rt = new Runtime({ clock });
  const gotShutdown = new Map<string, PromiseWithResolvers<void>>();
  // Traps exits and ignores them: only a kill ends it.
  const stubborn = (id: string, type?: "worker" | "supervisor"): ChildSpec => ({
    id,
    ...(type !== undefined ? { type } : {}),
    start: (sup) =>
      sup.spawnLink(async (p) => {
        for (;;) {
          if (await p.receive() instanceof Exit) gotShutdown.get(id)?.resolve();
        }
      }, { trapExit: true }),
  });
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [stubborn("w"), stubborn("s", "supervisor")],
  });
  const pids = await pidsOf(rt, sup);
  for (const id of ["w", "s"]) gotShutdown.set(id, Promise.withResolvers());
  const workerExit = rt.whenExited(pids.get("w")!);
  let workerGone = false;
  const stopWorker = terminateChild(rt, sup, "w").then(() => workerGone = true);
  await gotShutdown.get("w")!.promise;
  clock.advance(4999);
  await settle();
  assert.equal(workerGone, false);
  clock.advance(1);
  await stopWorker;
  assert.equal(await workerExit, "killed");
  let supervisorGone = false;
  const stopSupervisor = terminateChild(rt, sup, "s").then(() =>
    supervisorGone = true
  );
  await gotShutdown.get("s")!.promise;
  clock.advance(24 * 3_600_000);
  await settle();
  assert.equal(supervisorGone, false, "a supervisor child is waited for");
  assert.ok(rt.isAlive(pids.get("s")!));
  rt.exit(pids.get("s")!, "kill");
  await stopSupervisor;
  await rt.shutdown();
});

Deno.test("supervisor: a child that fails to start stops the supervisor with [shutdown, [failed_to_start_child, id, reason]] after stopping the others in reverse order; startSupervisor rejects with SupervisorStartError (as OTP's start_link)", async () => {
  const rt = new Runtime();
  const log: string[] = [];
  let supExit: Promise<unknown> | undefined;
  const thrown = new Error("c cannot start");
  const error = await startSupervisor(rt, {
    strategy: "one_for_all",
    children: [worker("a", log), worker("b", log), {
      id: "c",
      start: (sup) => {
        supExit = rt.whenExited(sup.self);
        throw thrown;
      },
    }, worker("d", log)],
  }).catch((e) => e);
  assertInstanceOf(error, SupervisorStartError);
  assertInstanceOf(error, ServerStartError);
  assert.equal(error.childId, "c");
  assertInstanceOf(error.childReason, Crash);
  assert.equal(error.childReason.message, "c cannot start");
  assert.deepEqual(error.reason, [
    "shutdown",
    ["failed_to_start_child", "c", error.childReason],
  ]);
  assert.equal(error.cause, thrown);
  assert.equal(
    error.message,
    'Cannot start supervisor: child "c" failed to start: Error: c cannot start',
  );
  assert.deepEqual(log, [
    "start a",
    "start b",
    "stop b shutdown",
    "stop a shutdown",
  ]);
  // The supervisor itself exited with that reason: a monitor sees it.
  assert.deepEqual(await supExit, error.reason);
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("supervisor: a server child whose init fails, or a nested supervisor that fails to start, gives its own start reason as the child's reason", async () => {
  const rt = new Runtime();
  const server = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [
      serverChild("s", {
        init: () => {
          throw new RangeError("no config");
        },
      }, undefined),
    ],
  }).catch((e) => e);
  assertInstanceOf(server, SupervisorStartError);
  // The init's crash, not the ServerStartError that carried it.
  assertInstanceOf(server.childReason, Crash);
  assert.equal(server.childReason.name, "RangeError");
  const nested = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [
      supervisorChild("inner", {
        strategy: "one_for_one",
        children: [{
          id: "leaf",
          start: () => {
            throw new Error("leaf cannot start");
          },
        }],
      }),
    ],
  }).catch((e) => e);
  assertInstanceOf(nested, SupervisorStartError);
  assert.equal(nested.childId, "inner");
  const [shutdown, [tag, id, leafReason]] = nested.childReason as [
    string,
    [string, string, unknown],
  ];
  assert.deepEqual([shutdown, tag, id], [
    "shutdown",
    "failed_to_start_child",
    "leaf",
  ]);
  assertInstanceOf(leafReason, Crash);
  assert.equal(leafReason.message, "leaf cannot start");
  assert.deepEqual(nested.reason, [
    "shutdown",
    ["failed_to_start_child", "inner", nested.childReason],
  ]);
  assert.match(
    nested.message,
    /child "inner" failed to start: \["shutdown", \["failed_to_start_child", "leaf", Error: leaf cannot start\]\]$/,
  );
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("supervisor: a linked starter hears of a failed start through the rejection only, as from any server", async () => {
  const rt = new Runtime();
  const outcome = Promise.withResolvers<unknown>();
  const starter = rt.spawn(async (proc) => {
    outcome.resolve(
      await startSupervisor(proc, {
        strategy: "one_for_one",
        children: [{
          id: "x",
          start: () => {
            throw new Error("no");
          },
        }],
        link: true,
      }).catch((e) => e),
    );
    await proc.receive((m) => m === "done");
  }, { trapExit: true });
  const error = await outcome.promise;
  assertInstanceOf(error, SupervisorStartError);
  await settle();
  assert.ok(rt.isAlive(starter));
  assert.equal(rt.processInfo(starter)?.mailboxLength, 0, "no Exit came");
  await rt.shutdown();
});

Deno.test("supervisor: a child start that returns anything but a pid (a name, say) fails that start; the supervisor keeps running", async () => {
  await using rt = new Runtime();
  const named = rt.spawn(idle, { name: "somebody" });
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [],
  });
  for (const result of ["somebody", ["somebody", rt.node], null, 42]) {
    const error = await startChild(rt, sup, {
      id: "c",
      start: () => result as never,
    }).catch((e) => e);
    assertInstanceOf(error, SupervisorError);
    assert.match(error.message, /expected a Pid/);
  }
  assert.ok(rt.isAlive(sup) && rt.isAlive(named));
  assert.equal((await whichChildren(rt, sup)).length, 0);
});
