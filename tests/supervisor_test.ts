// Supervisors (actor/supervisor.ts): ordered start, reverse stop, the three
// strategies, restart types, the intensity limit, nesting and the child
// management calls. Nothing sleeps to synchronise: a test awaits a child's
// exit, then asks the supervisor, whose mailbox already holds that exit.
import assert from "node:assert/strict";
import {
  type ChildSpec,
  deleteChild,
  InvalidArgumentError,
  type Pid,
  Runtime,
  serverChild,
  ServerStartError,
  startChild,
  startSupervisor,
  stopServer,
  supervisorChild,
  SupervisorError,
  terminateChild,
  whichChildren,
} from "../actor/mod.ts";
import { ManualClock } from "../actor/clock.ts";
import { assertInstanceOf, idle } from "./_util.ts";

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
