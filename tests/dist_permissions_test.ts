import assert from "node:assert/strict";

Deno.test("S2: distribution needs only network permission for the addresses it uses", async () => {
  const script =
    new URL("./fixtures/two_nodes_script.ts", import.meta.url).pathname;
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-net=127.0.0.1", script],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), '"across"');
});
