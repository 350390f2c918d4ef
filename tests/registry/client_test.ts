/** The client's transport behaviour: call timeouts, reconnection after a registry restart, bad addresses. */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { RegistryClient, RegistryConnectionError } from "../../lib/registry/client.ts";
import { cleanup, registeredClient, startRegistry } from "./helpers.ts";
import { settleQuietly } from "../../lib/errors.ts";

Deno.test("a registry that accepts but never answers makes the call time out, not hang", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const c = new RegistryClient({ address: `127.0.0.1:${port}`, timeoutMs: 300 });
    const t0 = Date.now();
    await assertRejects(() => c.listNetworks(), RegistryConnectionError, /did not answer within 300 ms/);
    assert(Date.now() - t0 < 2000);
    c.close();
  } finally {
    listener.close();
    for (const c of held) c.close();
    await settleQuietly(accepting, "cleanup");
  }
});

Deno.test("the client reconnects and resends after the registry restarts on the same address", async () => {
  const first = await startRegistry();
  const dir = first.dir;
  const port = first.addr.port;
  const a = await registeredClient(first.address);
  await first.close();
  const second = await startRegistry({ dir, listen: { hostname: "127.0.0.1", port } });
  try {
    // The old connection is dead; the call reconnects transparently and signs afresh.
    assertEquals((await a.heartbeat()).type, "heartbeat_ok");
    a.close();
  } finally {
    await second.close();
    await cleanup(dir);
  }
});

Deno.test("an unreachable registry gives a connection error after the bounded retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const c = new RegistryClient({ address: `127.0.0.1:${port}`, timeoutMs: 3000, reconnectAttempts: 2 });
  await assertRejects(() => c.listNetworks(), RegistryConnectionError, /cannot connect/);
  c.close();
  await assertRejects(() => c.listNetworks(), RegistryConnectionError, /closed/);
  for (const bad of ["nohost", "host:99999", "host:0"]) {
    let threw = false;
    try {
      new RegistryClient({ address: bad });
    } catch (e) {
      threw = e instanceof RegistryConnectionError;
    }
    assert(threw, bad);
  }
});

Deno.test("concurrent calls on one client are serialised in lock-step and all answered", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => i % 2 ? a.heartbeat() : a.lookup(a.identity!.nodeId)),
    );
    assertEquals(replies.filter((r) => r.type === "heartbeat_ok").length, 25);
    assertEquals(replies.filter((r) => r.type === "lookup_ok").length, 25);
    a.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
