// The README's TypeScript examples run as written (with `jsr:@mote/mote`
// pointing at this checkout) and print what their comments say.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", root));
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) =>
  m[1]!
);

// What each example must print, in order of appearance.
const expected: string[][] = [
  [
    'echo: { hello: "world" }',
    "{ reply: 42 } then noise",
    'worker died: Crash {\n  name: "TypeError",\n  message: "bad input"',
    'linked child exited: Crash {\n  name: "Error",\n  message: "boom"',
  ],
  ["15\n{ specs: 1, active: 0, supervisors: 0, workers: 1 }\n10\n"],
  ["count: 1"],
  ['db got { get: "key" }'],
  ["a's chatter got hello, room"],
  [" 0\n", 'id: "w"'],
];

Deno.test("README: every TypeScript example runs and prints what it says", async (t) => {
  assert.equal(
    examples.length,
    expected.length,
    "an example was added or removed: say here what it prints",
  );
  for (const [i, code] of examples.entries()) {
    await t.step(`example ${i + 1}`, async () => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--check",
          `--config=${new URL("deno.json", root).pathname}`,
          "--allow-net=127.0.0.1",
          "-",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(
        new TextEncoder().encode(
          code.replaceAll('"jsr:@mote/mote"', `"${new URL("mod.ts", root)}"`),
        ),
      );
      await writer.close();
      const out = await child.output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `example ${i + 1} failed:\n${stderr}`);
      for (const text of expected[i]!) {
        assert.ok(
          stdout.includes(text),
          `missing ${JSON.stringify(text)} in:\n${stdout}`,
        );
      }
    });
  }
});

// The workspace's copy, where there is one: docs/semantics.md must match it.
const shared = new URL("../shared/semantics.md", root);
const sharedText = await Deno.readTextFile(shared).catch(() => undefined);

Deno.test({
  name:
    "README: docs/semantics.md is the workspace's semantics document, word for word",
  ignore: sharedText === undefined,
  fn: async () => {
    assert.equal(
      await Deno.readTextFile(new URL("docs/semantics.md", root)),
      sharedText,
      "copy ../shared/semantics.md to docs/semantics.md",
    );
  },
});
