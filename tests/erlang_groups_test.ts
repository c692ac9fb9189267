// Mote's process groups against Erlang's `pg`: the same random scenarios run
// on Mote (dist/groups.ts, on one runtime) and on Erlang
// (tests/erlang/groups.escript, one node). Four members join and leave three
// groups (a member given twice, or joined twice, is a member twice), members
// exit, exited ones join again (and leave as soon as the scope hears they
// are gone), and two watchers monitor a group or the whole scope and
// demonitor.
// After every step both sides log the step's result and then every group's
// members and which groups exist; at the end, every event each watcher got.
// Runs where `escript` is on the PATH; elsewhere it is ignored.
// MOTE_GROUPS_SEED and MOTE_GROUPS_SCENARIOS draw others.
//
// Where Mote differs on purpose (the Groups JSDoc), the test maps it:
// - members are listed in another order (pg: newest first): lists are
//   compared sorted;
// - an event lists a pid once per occurrence where pg sends a pid that
//   exits as one event per occurrence, and events of one step for several
//   groups may come in another order: each watcher's events are compared
//   as one list of (kind, pid) items per group, in order;
// - a GroupLeave lists only the pids that were members, where pg echoes
//   what leave was given: the scenarios leave either members only (as many
//   times as they are members at most) or non-members only.
import assert from "node:assert/strict";
import { Runtime } from "../mod.ts";
import type { Pid, Ref } from "../mod.ts";
import { GroupJoin, GroupLeave, startGroups } from "../dist/mod.ts";
import { prng } from "../wire/_samples_test.ts";
import { hasEscript, runEscript } from "./_erlang.ts";

const MEMBERS = ["m0", "m1", "m2", "m3"] as const;
const WATCHERS = ["w0", "w1"] as const;
const GROUPS = ["g0", "g1", "g2"] as const;
type Member = typeof MEMBERS[number];
type Watcher = typeof WATCHERS[number];
type Group = typeof GROUPS[number];

type Step =
  | { op: "join" | "leave"; group: Group; members: Member[] }
  | { op: "exit"; member: Member }
  | { op: "monitor"; watcher: Watcher; group: Group }
  | { op: "monitor_scope"; watcher: Watcher }
  | { op: "demonitor"; watcher: Watcher };

/** A scenario, drawn with a model of the membership only to keep clear of the mapped differences. */
function scenario(rand: () => number): Step[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const alive = new Set<Member>(MEMBERS);
  const joined = new Map<Group, Member[]>(GROUPS.map((g) => [g, []]));
  const steps: Step[] = [];
  const count = 8 + Math.floor(rand() * 24);
  while (steps.length < count) {
    const r = rand();
    const group = pick(GROUPS);
    const members = joined.get(group)!;
    if (r < 0.35) {
      // Now and then a member that has exited: it joins, and leaves again
      // as soon as the scope hears it is gone.
      const pool = alive.size > 0 && rand() < 0.9 ? [...alive] : [...MEMBERS];
      const list = Array.from(
        { length: 1 + Math.floor(rand() * 3) },
        () => pick(pool),
      );
      members.push(...list.filter((m) => alive.has(m)));
      steps.push({ op: "join", group, members: list });
    } else if (r < 0.6) {
      let list: Member[];
      if (members.length > 0 && rand() < 0.8) {
        // Members only, each at most as often as it is one.
        const pool = [...members];
        list = [];
        for (let n = 1 + Math.floor(rand() * 2); n > 0 && pool.length; n--) {
          list.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
        }
        for (const m of list) members.splice(members.indexOf(m), 1);
      } else {
        const others = MEMBERS.filter((m) => !members.includes(m));
        if (others.length === 0) continue;
        list = [pick(others)];
      }
      steps.push({ op: "leave", group, members: list });
    } else if (r < 0.7 && alive.size > 0) {
      const member = pick([...alive]);
      alive.delete(member);
      for (const g of GROUPS) {
        joined.set(g, joined.get(g)!.filter((m) => m !== member));
      }
      steps.push({ op: "exit", member });
    } else if (r < 0.82) {
      steps.push({ op: "monitor", watcher: pick(WATCHERS), group });
    } else if (r < 0.91) {
      steps.push({ op: "monitor_scope", watcher: pick(WATCHERS) });
    } else {
      steps.push({ op: "demonitor", watcher: pick(WATCHERS) });
    }
  }
  return steps;
}

/** The scenario as an Erlang term, for groups.escript. */
function erlangTerm(id: number, steps: Step[]): string {
  const list = (xs: readonly string[]) => `[${xs.join(",")}]`;
  const step = (s: Step): string => {
    switch (s.op) {
      case "join":
      case "leave":
        return `{${s.op},${s.group},${list(s.members)}}`;
      case "exit":
        return `{exit,${s.member}}`;
      case "monitor":
        return `{monitor,${s.watcher},${s.group}}`;
      case "monitor_scope":
      case "demonitor":
        return `{${s.op},${s.watcher}}`;
    }
  };
  return `{scenario,${id},${list(steps.map(step))}}.`;
}

/** A process that keeps every message it gets, and hands them over on "report". */
function collector(
  rt: Runtime,
  onMessage: (m: unknown) => void = () => {},
): { pid: Pid; seen: unknown[]; report(): Promise<unknown[]> } {
  const seen: unknown[] = [];
  let waiting: ((seen: unknown[]) => void) | undefined;
  const pid = rt.spawn(async (proc) => {
    for (;;) {
      const m = await proc.receive();
      if (m === "report") waiting?.(seen);
      else {
        seen.push(m);
        onMessage(m);
      }
    }
  });
  return {
    pid,
    seen,
    report: () =>
      new Promise((resolve) => {
        waiting = resolve;
        rt.send(pid, "report");
      }),
  };
}

async function runMote(id: number, steps: Step[]): Promise<string> {
  const rt = new Runtime();
  try {
    const groups = await startGroups(rt, { scope: `pg_scenario_${id}` });
    const roles = new Map<string, string>();
    const members = new Map<Member, Pid>();
    for (const m of MEMBERS) {
      const pid = rt.spawn(async (proc) =>
        void await proc.receive((x) => x === "stop")
      );
      members.set(m, pid);
      roles.set(pid.key, m);
    }
    const watchers = new Map<Watcher, ReturnType<typeof collector>>();
    const latest = new Map<Watcher, Ref>();
    for (const w of WATCHERS) {
      const c = collector(rt);
      watchers.set(w, c);
      roles.set(c.pid.key, w);
    }
    // A hidden watcher of the whole scope: an exit is handled once the
    // member's leaves have all come.
    let left = new Map<string, number>();
    let onLeft = () => {};
    const sync = collector(rt, (m) => {
      if (!(m instanceof GroupLeave)) return;
      for (const p of m.pids) left.set(p.key, (left.get(p.key) ?? 0) + 1);
      onLeft();
    });
    groups.monitor(sync.pid);
    /** Resolves once the scope has reported each of `pids` (with repeats) as left. */
    const leavesOf = (pids: Pid[]): Promise<void> => {
      left = new Map();
      const wanted = new Map<string, number>();
      for (const p of pids) wanted.set(p.key, (wanted.get(p.key) ?? 0) + 1);
      return new Promise<void>((resolve) => {
        onLeft = () => {
          for (const [key, n] of wanted) if ((left.get(key) ?? 0) < n) return;
          resolve();
        };
        onLeft();
      });
    };
    const role = (p: Pid) => roles.get(p.key) ?? "?";
    const show = (pids: readonly Pid[]) =>
      `[${pids.map(role).sort().join(",")}]`;
    const state = () =>
      GROUPS.map((g) => `${g}=${show(groups.members(g))}`).join(" ") +
      ` wg=[${groups.whichGroups().join(",")}]`;
    const log: string[] = [];
    for (const s of steps) {
      let result: string;
      switch (s.op) {
        case "join": {
          const pids = s.members.map((m) => members.get(m)!);
          const done = leavesOf(pids.filter((p) => !rt.isAlive(p)));
          groups.join(s.group, pids);
          await done;
          result = "join ok";
          break;
        }
        case "leave":
          result = groups.leave(s.group, s.members.map((m) => members.get(m)!))
            ? "leave ok"
            : "leave not_joined";
          break;
        case "exit": {
          const pid = members.get(s.member)!;
          const done = leavesOf(
            GROUPS.flatMap((g) =>
              groups.localMembers(g).filter((p) => p.equals(pid))
            ),
          );
          rt.send(pid, "stop");
          await rt.whenExited(pid);
          await done;
          result = "exit";
          break;
        }
        case "monitor": {
          const { ref, members: now } = groups.monitor(
            watchers.get(s.watcher)!.pid,
            s.group,
          );
          latest.set(s.watcher, ref);
          result = `mon ${s.watcher} ${show(now)}`;
          break;
        }
        case "monitor_scope": {
          const { ref, members: now } = groups.monitor(
            watchers.get(s.watcher)!.pid,
          );
          latest.set(s.watcher, ref);
          result = `monscope ${s.watcher} {${
            [...now].sort(([a], [b]) => a < b ? -1 : 1).map(([g, ps]) =>
              `${g}:${show(ps)}`
            ).join(",")
          }}`;
          break;
        }
        case "demonitor": {
          const ref = latest.get(s.watcher);
          result = `demon ${s.watcher} ${
            ref !== undefined && groups.demonitor(ref)
          }`;
          break;
        }
      }
      log.push(`${result} | ${state()}`);
    }
    for (const w of WATCHERS) {
      const seen = await watchers.get(w)!.report();
      const items = new Map<string, string[]>(GROUPS.map((g) => [g, []]));
      let others = 0;
      for (const m of seen) {
        if (m instanceof GroupJoin || m instanceof GroupLeave) {
          const kind = m instanceof GroupJoin ? "join" : "leave";
          items.get(m.group)!.push(
            ...m.pids.map(role).sort().map((r) => `${kind} ${r}`),
          );
        } else others++;
      }
      log.push(
        `${w}: ${
          GROUPS.map((g) => `${g}:[${items.get(g)!.join(",")}]`).join(" ")
        } other=${others}`,
      );
    }
    return log.join("; ");
  } finally {
    await rt.shutdown();
  }
}

const seed = Number(Deno.env.get("MOTE_GROUPS_SEED") ?? 11);
const count = Number(Deno.env.get("MOTE_GROUPS_SCENARIOS") ?? 300);

Deno.test({
  name:
    `groups: ${count} random scenarios log the same on Mote and on Erlang's pg (seed ${seed})`,
  ignore: !(await hasEscript()),
  async fn() {
    const rand = prng(seed);
    const scenarios = Array.from({ length: count }, () => scenario(rand));
    const erlang = await runEscript(
      "groups.escript",
      scenarios.map((steps, id) => erlangTerm(id, steps)),
    );
    for (const [id, steps] of scenarios.entries()) {
      const mote = await runMote(id, steps);
      assert.equal(
        mote,
        erlang[id],
        `scenario ${id} (seed ${seed}) differs; steps:\n${
          steps.map((s) => JSON.stringify(s)).join("\n")
        }`,
      );
    }
  },
});
