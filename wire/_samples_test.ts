// Shared test data (no tests here): one sample frame per kind, with the
// name of its golden fixture in tests/fixtures/, and a seeded PRNG.

import type { Frame } from "./frame.ts";
import { Tag } from "./tags.ts";
import { Crash, Pid, Ref } from "./terms.ts";

const a = new Pid("a@host", 7, 1);
const b = new Pid("b@other.example", 2 ** 40 + 3, 0xfffffffe);
const r = new Ref("a@host", 2 ** 53 - 1, 1);
const bytes32 = (seed: number) =>
  Uint8Array.from({ length: 32 }, (_, i) => (seed + i * 7) & 0xff);

/** [fixture name, frame] for every frame kind (some kinds twice). */
export const samples: [string, Frame][] = [
  ["handshake_name", {
    tag: Tag.HANDSHAKE_NAME,
    name: "a@host",
    creation: 1,
    version: 1,
  }],
  ["handshake_challenge", {
    tag: Tag.HANDSHAKE_CHALLENGE,
    name: "b@other.example",
    creation: 0xfffffffe,
    challenge: bytes32(1),
  }],
  ["handshake_reply", {
    tag: Tag.HANDSHAKE_REPLY,
    challenge: bytes32(2),
    digest: bytes32(3),
  }],
  ["handshake_ack", { tag: Tag.HANDSHAKE_ACK, digest: bytes32(4) }],
  ["handshake_refuse", {
    tag: Tag.HANDSHAKE_REFUSE,
    reason: "not allowed: bad cookie",
  }],
  ["tick", { tag: Tag.TICK }],
  ["ping", { tag: Tag.PING }],
  ["pong", { tag: Tag.PONG }],
  ["send", {
    tag: Tag.SEND,
    to: a,
    message: { op: "incr", n: 42, who: "alice" },
  }],
  ["send_terms", {
    tag: Tag.SEND,
    to: b,
    message: [
      a,
      r,
      new Map<unknown, unknown>([["k", new Set([1, -(2n ** 70n)])]]),
      undefined,
      null,
      -0,
      1.5,
      "é€𝄞",
      new Uint8Array([0, 255]),
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    ],
  }],
  ["reg_send", {
    tag: Tag.REG_SEND,
    from: a,
    name: "db",
    message: { get: "key" },
  }],
  ["reg_send_anonymous", {
    tag: Tag.REG_SEND,
    from: null,
    name: "logger",
    message: "hello",
  }],
  ["peer_list", {
    tag: Tag.PEER_LIST,
    peers: [
      { name: "a@host", host: "127.0.0.1", port: 4369 },
      { name: "b@other.example", host: "::1", port: 65535 },
    ],
  }],
  ["link", { tag: Tag.LINK, from: a, to: b }],
  ["unlink", { tag: Tag.UNLINK, id: 2 ** 53 - 1, from: a, to: b }],
  ["unlink_ack", { tag: Tag.UNLINK_ACK, id: 5, from: b, to: a }],
  ["exit", { tag: Tag.EXIT, from: a, to: b, reason: "normal" }],
  ["exit2", {
    tag: Tag.EXIT2,
    from: b,
    to: a,
    reason: new Crash(
      "TypeError",
      "x is not a function",
      "TypeError: x\n  at f",
    ),
  }],
  ["exit2_name", { tag: Tag.EXIT2, from: b, to: "db", reason: "kill" }],
  ["link_name", { tag: Tag.LINK_NAME, from: a, ref: r, name: "db" }],
  ["link_name_reply", { tag: Tag.LINK_NAME_REPLY, ref: r, pid: b }],
  ["link_name_noproc", { tag: Tag.LINK_NAME_REPLY, ref: r, pid: null }],
  ["monitor", { tag: Tag.MONITOR, from: a, to: b, ref: r }],
  ["monitor_name", { tag: Tag.MONITOR, from: a, to: "db", ref: r }],
  ["demonitor", { tag: Tag.DEMONITOR, from: a, to: "db", ref: r }],
  ["monitor_exit", {
    tag: Tag.MONITOR_EXIT,
    from: b,
    to: a,
    ref: r,
    reason: "noproc",
  }],
  ["monitor_exit_name", {
    tag: Tag.MONITOR_EXIT,
    from: "db",
    to: a,
    ref: r,
    reason: { shutdown: true },
  }],
  ["spawn_request", {
    tag: Tag.SPAWN_REQUEST,
    from: a,
    ref: new Ref("a@host", 9, 1),
    name: "worker",
    link: true,
    monitor: false,
    args: [1, "x"],
  }],
  ["spawn_request_monitor", {
    tag: Tag.SPAWN_REQUEST,
    from: a,
    ref: r,
    name: "cache",
    link: true,
    monitor: true,
    args: null,
  }],
  ["spawn_reply", {
    tag: Tag.SPAWN_REPLY,
    to: a,
    ref: new Ref("a@host", 9, 1),
    ok: true,
    pid: new Pid("b@host", 5, 2),
  }],
  ["spawn_reply_error", {
    tag: Tag.SPAWN_REPLY,
    to: a,
    ref: new Ref("a@host", 9, 1),
    ok: false,
    reason: "unknown_spawnable",
  }],
  ["global_register", { tag: Tag.GLOBAL_REGISTER, name: "db", pid: a }],
  ["global_unregister", { tag: Tag.GLOBAL_UNREGISTER, name: "db", pid: a }],
  ["global_sync", {
    tag: Tag.GLOBAL_SYNC,
    entries: [
      { name: "db", pid: b },
      { name: "日本", pid: b },
    ],
  }],
  ["global_sync_empty", { tag: Tag.GLOBAL_SYNC, entries: [] }],
  ["global_ping", { tag: Tag.GLOBAL_PING, id: 1 }],
  ["global_pong", { tag: Tag.GLOBAL_PONG, id: 2 ** 53 - 1 }],
];

/** Mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pieces = ["a", "é", "€", "𝄞", "\u0000", "\uFEFF", "z", " ", "日本"];

/** A random payload value of bounded depth, drawn with `rand`. */
export function randomValue(rand: () => number, depth = 0): unknown {
  const int = (n: number) => Math.floor(rand() * n);
  const kind = int(depth > 3 ? 9 : 14);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return rand() < 0.5;
    case 3: {
      const nums = [
        0,
        -0,
        1,
        -1,
        127,
        128,
        -33,
        255,
        65536,
        2 ** 32,
        -(2 ** 31) - 1,
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        2 ** 60,
        1e300,
        -1.5e-300,
        Math.PI,
        NaN,
        Infinity,
        -Infinity,
      ];
      return rand() < 0.5 ? nums[int(nums.length)] : (rand() - 0.5) * 1e6;
    }
    case 4: {
      let s = "";
      const n = int(rand() < 0.9 ? 12 : 300);
      for (let i = 0; i < n; i++) s += pieces[int(pieces.length)];
      return s;
    }
    case 5: {
      let v = BigInt(int(1000)) ** BigInt(int(12));
      if (rand() < 0.5) v = -v;
      return v;
    }
    case 6:
      return Uint8Array.from({ length: int(40) }, () => int(256));
    case 7:
      return rand() < 0.5
        ? new Pid(`n${int(5)}@h`, int(2 ** 40), int(2 ** 32))
        : new Ref(`n${int(5)}@h`, int(2 ** 52), int(9));
    case 8:
      return rand() < 0.1
        ? new Date(NaN)
        : new Date(Math.floor((rand() - 0.5) * 2 ** 45));
    case 9:
      return Array.from({ length: int(6) }, () => randomValue(rand, depth + 1));
    case 10: {
      const o: Record<string, unknown> = {};
      for (let i = int(6); i > 0; i--) {
        o[String(randomValue(rand, 9)).slice(0, 8) + i] = randomValue(
          rand,
          depth + 1,
        );
      }
      return o;
    }
    case 11: {
      const m = new Map<unknown, unknown>();
      for (let i = int(4); i > 0; i--) {
        m.set(randomValue(rand, depth + 1), randomValue(rand, depth + 1));
      }
      return m;
    }
    case 12:
      return new Set(
        Array.from({ length: int(4) }, () => randomValue(rand, depth + 1)),
      );
    default: {
      if (rand() < 0.5) {
        return new Crash(
          "Error",
          `boom ${int(100)}`,
          rand() < 0.5 ? "s" : undefined,
        );
      }
      const e = new RangeError(`bad ${int(100)}`, {
        cause: randomValue(rand, depth + 1),
      });
      return e;
    }
  }
}

/**
 * A generator of values of the kinds the codec's small fast paths handle, and
 * of a few they leave to the library, for tests that compare the two. The
 * seed comes from MOTE_FUZZ_SEED when set.
 */
export function smallValues(): {
  seed: number;
  value: (depth: number) => unknown;
  int: (n: number) => number;
} {
  const seed = Number(
    Deno.env.get("MOTE_FUZZ_SEED") ?? Date.now() % 2 ** 31,
  );
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

  const nodes = [
    "a@h",
    "alice@host",
    "b@other.example",
    "nö@host",
    "",
    "x".repeat(60),
  ];
  const strings = [
    "",
    "a",
    "incr",
    "$call",
    "x".repeat(31),
    "y".repeat(32),
    "z".repeat(300),
    "é",
    "日本",
    "\uFEFFbom",
    "__proto__",
  ];

  function value(depth: number): unknown {
    switch (int(depth > 3 ? 9 : 12)) {
      case 0:
        return int(256) - 128;
      case 1:
        return pick([
          0,
          127,
          128,
          255,
          256,
          65535,
          65536,
          2 ** 31,
          2 ** 32 - 1,
          2 ** 32,
          2 ** 53 - 1,
          -1,
          -32,
          -33,
          -128,
          -129,
          -32768,
          -32769,
          -(2 ** 31),
          -(2 ** 31) - 1,
          -(2 ** 53) + 1,
        ]);
      case 2:
        return pick([
          0.5,
          -1.25,
          1e300,
          Number.MIN_VALUE,
          NaN,
          Infinity,
          -Infinity,
          -0,
        ]);
      case 3:
        return pick([true, false, null, undefined]);
      case 4:
        return pick(strings);
      case 5:
        return new Pid(
          pick(nodes),
          pick([0, 1, 2 ** 32, 2 ** 53 - 1]),
          int(2 ** 32),
        );
      case 6:
        return new Ref(pick(nodes), int(1000), int(4));
      case 7:
        return pick([
          new Uint8Array([1, 2]),
          new Uint8Array(0),
          new Uint8Array(255).fill(3),
          new Uint8Array(256).fill(4),
          new Uint8Array(65_535).fill(5),
          new Uint8Array(65_536).fill(6),
          new Uint8Array(8).subarray(2, 5),
          10n,
          new Date(0),
          new Map([[1, 2]]),
          new Set([1]),
        ]);
      case 8:
        return pick(strings) + pick(strings);
      case 9:
      case 10: {
        const out: unknown[] = [];
        for (let i = int(5); i > 0; i--) out.push(value(depth + 1));
        return out;
      }
      default: {
        const out: Record<string, unknown> = {};
        for (let i = int(5); i > 0; i--) {
          const key = pick([
            "op",
            "n",
            "who",
            "$call",
            "from",
            "é",
            "",
            "k".repeat(40),
          ]);
          out[key] = value(depth + 1);
        }
        return out;
      }
    }
  }
  return { seed, value, int };
}
