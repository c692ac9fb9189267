// Helpers shared by the differential tests that run scenarios on Erlang
// itself (tests/erlang_*_test.ts, scripts in tests/erlang/).
import assert from "node:assert/strict";

/** Whether an `escript` runs here at all (its exit status does not matter). */
export async function hasEscript(): Promise<boolean> {
  try {
    await new Deno.Command("escript", {
      args: ["-h"],
      stdout: "null",
      stderr: "null",
    }).output();
    return true;
  } catch {
    return false; // not installed
  }
}

/**
 * Runs `tests/erlang/<script>` with one input line per scenario on its
 * stdin, and returns its output lines: exactly one per scenario.
 */
export async function runEscript(
  script: string,
  lines: string[],
): Promise<string[]> {
  const escript = new Deno.Command("escript", {
    args: [new URL(`./erlang/${script}`, import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = escript.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await escript.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `escript failed: ${stderr}`);
  const got = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(got.length, lines.length, stderr);
  return got;
}
