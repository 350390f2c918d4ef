/**
 * Auto-join against a real in-process registry: open networks accept the signed join; token and
 * invite networks, unknown ids and a repeated join fail without stopping the others; without an
 * admin token nothing is sent (as the reference).
 */
import { assertEquals } from "../../tests/assert.ts";
import { ADMIN_TOKEN, newClient, registeredClient, startRegistry } from "../../tests/registry/helpers.ts";
import { Logger } from "../log.ts";
import { autoJoinNetworks } from "./auto_join.ts";

const quiet = new Logger("auto-join-test", "silent");

Deno.test("auto-join: open networks join, the rest fail alone; nothing without an admin token", async () => {
  const reg = await startRegistry({ dir: null });
  const admin = newClient(reg.address, { adminToken: ADMIN_TOKEN });
  const node = await registeredClient(reg.address);
  try {
    const id = async (name: string, joinRule: "open" | "token" | "invite") =>
      Number(
        (await admin.createNetwork({
          name,
          joinRule,
          token: joinRule === "token" ? "s3cret" : undefined,
          enterprise: joinRule === "invite",
        }))
          .network_id,
      );
    const open1 = await id("open-one", "open");
    const tokenNet = await id("needs-token", "token");
    const invite = await id("invite-only", "invite");
    const open2 = await id("open-two", "open");

    const skipped: number[] = [];
    assertEquals(
      await autoJoinNetworks(node, { networks: [open1], log: quiet, joined: (n) => skipped.push(n) }),
      [],
    );
    assertEquals(skipped, []);

    const joined: number[] = [];
    const result = await autoJoinNetworks(node, {
      networks: [open1, tokenNet, 999, invite, open2],
      adminToken: "anything",
      log: quiet,
      joined: (n) => joined.push(n),
    });
    assertEquals(result, [open1, open2]);
    assertEquals(joined, [open1, open2]);
    const members = await node.signed({ type: "lookup", node_id: node.identity!.nodeId });
    assertEquals((members.networks as number[]).filter((n) => n !== 0).sort(), [open1, open2].sort());

    // A second start: already a member, so no new event.
    assertEquals(
      await autoJoinNetworks(node, { networks: [open1], adminToken: "x", log: quiet, joined: () => {} }),
      [],
    );
  } finally {
    admin.close();
    node.close();
    await reg.close();
  }
});
