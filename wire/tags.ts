/**
 * The one-byte tags that open every frame body, grouped by range.
 *
 * @module
 */

/**
 * Frame tags. Ranges: 0x01–0x0F handshake and liveness; 0x10–0x1F messages
 * and process signals (0x13–0x18 follow Erlang's distribution protocol:
 * link, unlink, exit, monitor, demonitor, monitor exit); 0x20–0x2F remote
 * spawn (0x20 SPAWN_REQUEST, 0x21 SPAWN_REPLY, the rest reserved); 0x30–0x3F
 * global names (register, unregister, the snapshot sent on connect, and a
 * ping/pong pair that lets a node wait until its peers' earlier changes have
 * arrived).
 *
 * @example
 * ```ts
 * import { Tag, tagName } from "./tags.ts";
 * if (Tag.SEND !== 0x10 || tagName(Tag.SEND) !== "SEND") throw new Error();
 * ```
 */
export const Tag = {
  // 0x01–0x0F: handshake and liveness
  HANDSHAKE_NAME: 0x01,
  HANDSHAKE_CHALLENGE: 0x02,
  HANDSHAKE_REPLY: 0x03,
  HANDSHAKE_ACK: 0x04,
  HANDSHAKE_REFUSE: 0x05,
  TICK: 0x08,
  PING: 0x09,
  PONG: 0x0a,
  // 0x10–0x1F: messages and process signals (0x13–0x18 fixed by the runtime we follow)
  SEND: 0x10,
  REG_SEND: 0x11,
  PEER_LIST: 0x12,
  LINK: 0x13,
  UNLINK: 0x14,
  EXIT: 0x15,
  MONITOR: 0x16,
  DEMONITOR: 0x17,
  MONITOR_EXIT: 0x18,
  UNLINK_ACK: 0x19,
  EXIT2: 0x1a,
  LINK_NAME: 0x1b,
  LINK_NAME_REPLY: 0x1c,
  // 0x20–0x2F: remote spawn (0x22–0x2F reserved)
  SPAWN_REQUEST: 0x20,
  SPAWN_REPLY: 0x21,
  // 0x30–0x3F: global names
  GLOBAL_REGISTER: 0x30,
  GLOBAL_UNREGISTER: 0x31,
  GLOBAL_SYNC: 0x32,
  GLOBAL_PING: 0x33,
  GLOBAL_PONG: 0x34,
} as const;

/** Any one of the values of {@linkcode Tag}. */
export type TagValue = typeof Tag[keyof typeof Tag];

const names: ReadonlyMap<number, string> = new Map(
  Object.entries(Tag).map(([name, tag]) => [tag, name]),
);

/**
 * The name of a tag (`"SEND"`), or its hex form (`"0x7f"`) when unknown.
 *
 * @example
 * ```ts
 * import { tagName } from "./tags.ts";
 * if (tagName(0x13) !== "LINK" || tagName(0x7f) !== "0x7f") throw new Error();
 * ```
 */
export function tagName(tag: number): string {
  return names.get(tag) ?? `0x${tag.toString(16).padStart(2, "0")}`;
}

/** Whether `tag` is one of the known {@linkcode Tag} values. */
export function isTag(tag: number): tag is TagValue {
  return names.has(tag);
}
