/**
 * The trust service on a {@link ServiceContext} of its own, without a daemon: two nodes on the
 * simulated network (virtual time, pumped in the background), a real in-process registry, and
 * the session layer's own connect as the context's `dial`. A request goes to the peer's port 444
 * directly, the operator approves it, and the accept comes back directly: both trust each other.
 */
import { assert, assertEquals } from "../../../tests/assert.ts";
import { registeredClient, startRegistry } from "../../../tests/registry/helpers.ts";
import { fromBase64 } from "../../bytes.ts";
import { Logger } from "../../log.ts";
import type { RegistryClient } from "../../registry/client.ts";
import { Address } from "../../protocol/address.ts";
import { SimNet } from "../../transport/testing/sim.ts";
import type { SessionManager } from "../../transport/manager.ts";
import { streamFromTransport } from "../byte_stream.ts";
import type { ServiceContext } from "../context.ts";
import { TrustService } from "./service.ts";
import { TrustStore } from "./store.ts";

const quiet = new Logger("test", "silent");

function context(registry: RegistryClient, manager: SessionManager, events: string[]): ServiceContext {
  const id = registry.identity!;
  return {
    nodeId: () => id.nodeId,
    identity: { seed: id.seed, publicKey: fromBase64(registry.publicKey) },
    stateDir: "",
    log: quiet,
    sessions: manager,
    registry,
    dial: async (node, port) => streamFromTransport(await manager.connect(new Address(0, node), port)),
    peers: {
      publicKey: async (n) => fromBase64(String((await registry.lookup(n)).public_key)),
      isRouted: () => true,
      disconnect: () => {},
    },
    webhooks: { emit: (event) => void events.push(event) },
    lifecycle: { afterHeartbeat: () => {}, afterReregister: () => {} },
  };
}

async function until(what: string, probe: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("trust service without a daemon: request and accept travel directly through the context's dial", async () => {
  const reg = await startRegistry();
  const net = new SimNet(1, { delayMs: 2 });
  const pump = setInterval(() => net.advance(10), 1);
  const services: TrustService[] = [];
  try {
    const ra = await registeredClient(reg.address);
    const rb = await registeredClient(reg.address);
    const [ia, ib] = [ra.identity!.nodeId, rb.identity!.nodeId];
    const [ea, eb]: string[][] = [[], []];
    const a = new TrustService(context(ra, net.addNode(ia), ea), { store: TrustStore.memory() });
    const b = new TrustService(context(rb, net.addNode(ib), eb), { store: TrustStore.memory() });
    services.push(a, b);
    a.start();
    b.start();

    await a.request(ib, "let me in");
    assertEquals(a.stats.sent, { direct: 1, relay: 0, failed: 0 });
    assert(a.isAsking(ib));
    await until("B to hold A's request", () => b.pendingCount === 1);
    assertEquals(b.pending().map((p) => [p.node_id, p.justification]), [[ia, "let me in"]]);
    assertEquals(b.stats.processed, { handshake_request: 1 });

    await b.approve(ia);
    assert(b.isTrusted(ia));
    await until("A to trust B", () => a.isTrusted(ib));
    assertEquals(a.trusted().map((t) => [t.node_id, t.mutual]), [[ib, true]]);
    assertEquals(a.stats.processed, { handshake_accept: 1 });
    assertEquals(b.stats.sent.direct, 1);
    assertEquals(eb, ["handshake.received", "handshake.pending", "handshake.approved"]);
    ra.close();
    rb.close();
  } finally {
    clearInterval(pump);
    for (const s of services) await s.close();
    await reg.close();
  }
});
