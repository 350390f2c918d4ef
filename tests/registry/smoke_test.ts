import { assertEquals } from "../assert.ts";
import { cleanup, registeredClient, startRegistry } from "./helpers.ts";

Deno.test("smoke: register, heartbeat, lookup", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const hb = await a.heartbeat();
    assertEquals(hb.type, "heartbeat_ok");
    const l = await a.lookup(a.identity!.nodeId);
    assertEquals(l.node_id, 4);
    console.log(l);
    a.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
