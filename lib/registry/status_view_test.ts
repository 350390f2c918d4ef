import { assert, assertEquals } from "../../tests/assert.ts";
import { cleanup, registeredClient, startRegistry } from "../../tests/registry/helpers.ts";
import { RegistryStatusView } from "./status_view.ts";

Deno.test("the registry's page view: nodes online, networks, request rates and the audit tail", async () => {
  const svc = await startRegistry({ adminToken: "status-view-admin" });
  const clients = [];
  try {
    clients.push(await registeredClient(svc.address, { adminToken: "status-view-admin" }));
    clients.push(await registeredClient(svc.address));
    await clients[0].createNetwork({ name: "research", joinRule: "invite", enterprise: true });
    let now = svc.registry.startedAt + 10_000;
    const status = new RegistryStatusView(svc.registry, svc.server.stats, () => now);
    const first = status.view();
    assertEquals(first.nodes, { online: 2, registered: 2, public: 0 });
    assertEquals(first.networks.map((n) => [n.name, n.members, n.joinRule]), [["research", 1, "invite"]]);
    // The first view has no earlier sample: the rate is the average since start (2 registrations in 10 s).
    assertEquals(first.requests.find((r) => r.type === "register")?.perSec, 0.2);
    assertEquals(first.connections?.open, 2);
    assert(first.audit.some((e) => e.action === "node.registered"), "registrations in the audit tail");
    assertEquals(first.audit[0].action, "network.created");

    for (let i = 0; i < 4; i++) await clients[1].heartbeat();
    now += 2_000;
    const second = status.view();
    assertEquals(second.requests.find((r) => r.type === "heartbeat")?.perSec, 2);
    assertEquals(second.requests.find((r) => r.type === "register")?.perSec, 0);
  } finally {
    for (const c of clients) c.close();
    await svc.close();
    await cleanup(svc.dir);
  }
});
