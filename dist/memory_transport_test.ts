import assert from "node:assert/strict";
import { MemoryTransport } from "./memory_transport.ts";

Deno.test("MemoryTransport: ports of closed listeners come round again, so a long run never hands out a port past 65535", async () => {
  const transport = new MemoryTransport();
  const kept = await transport.listen({ host: "mem", port: 0 });
  let highest = 0;
  for (let i = 0; i < 70_000; i++) {
    const listener = await transport.listen({ host: "mem", port: 0 });
    const port = listener.addr.port;
    listener.close();
    assert.notEqual(port, kept.addr.port, "a port in use is not handed out");
    if (port > highest) highest = port;
  }
  assert.ok(highest <= 65535, `port ${highest} handed out`);
  // What listens on a port that came round again is reachable there.
  const again = await transport.listen({ host: "mem", port: 0 });
  const client = await transport.connect(again.addr);
  const server = (await again.accept())!;
  await client.write(new Uint8Array([7]));
  const buf = new Uint8Array(1);
  assert.equal(await server.read(buf), 1);
  assert.equal(buf[0], 7);
  client.close();
  server.close();
  again.close();
  kept.close();
});
