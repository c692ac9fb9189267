import assert from "node:assert/strict";
import { isTag, Tag, tagName } from "./tags.ts";

Deno.test("tags: values are unique bytes in their ranges", () => {
  const values = Object.values(Tag);
  assert.equal(new Set(values).size, values.length);
  for (const [name, v] of Object.entries(Tag)) {
    if (name.startsWith("GLOBAL_")) {
      assert.ok(v >= 0x30 && v <= 0x3f, name);
      continue;
    }
    assert.ok(v > 0 && v < 0x30, name);
    if (
      name.startsWith("HANDSHAKE") || ["TICK", "PING", "PONG"].includes(name)
    ) {
      assert.ok(v < 0x10, name);
    }
    if (name.startsWith("SPAWN")) assert.ok(v >= 0x20 && v < 0x30, name);
  }
});

Deno.test("tags: 0x13–0x18 follow the runtime we follow", () => {
  assert.deepStrictEqual(
    [
      Tag.LINK,
      Tag.UNLINK,
      Tag.EXIT,
      Tag.MONITOR,
      Tag.DEMONITOR,
      Tag.MONITOR_EXIT,
    ],
    [0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
  );
});

Deno.test("tags: tagName and isTag", () => {
  assert.equal(tagName(Tag.SEND), "SEND");
  assert.equal(tagName(Tag.EXIT2), "EXIT2");
  assert.equal(tagName(0x7f), "0x7f");
  assert.equal(tagName(0x0), "0x00");
  assert.ok(isTag(0x10));
  assert.ok(isTag(0x20));
  assert.equal(tagName(Tag.SPAWN_REPLY), "SPAWN_REPLY");
  assert.ok(!isTag(0x22));
});
