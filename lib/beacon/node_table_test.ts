import { assert, assertEquals } from "../../tests/assert.ts";
import { type Endpoint, NodeTable } from "./node_table.ts";

const ep = (port: number): Endpoint => ({ address: "127.0.0.1", ip: "127.0.0.1", port });

Deno.test("node table: record, refresh, expire, cap", () => {
  const table = new NodeTable(2, 1000, 5000);
  assertEquals(table.record(1, ep(1), 0), "ok");
  assertEquals(table.record(2, ep(2), 0), "ok");
  assertEquals(table.record(3, ep(3), 0), "full");
  assertEquals(table.record(1, ep(11), 500), "ok"); // refreshing an existing node is always allowed
  assertEquals(table.lookup(1, 1400), ep(11));
  assertEquals(table.lookup(2, 1001), undefined); // expired, even before a sweep
  assertEquals(table.localNodes(1001, 10), [1]);
  table.sweep(1001);
  assertEquals(table.size, 1);
  assertEquals(table.record(3, ep(3), 1001), "ok");
  assertEquals(table.localNodes(1001, 1).length, 1);
});

Deno.test("node table: gossip attribution is replaced per peer and never shadows local nodes", () => {
  const table = new NodeTable(10, 1000, 5000);
  table.record(1, ep(1), 0);
  table.replacePeerNodes("A", [1, 2, 3], 0);
  assertEquals([table.peerFor(1), table.peerFor(2), table.peerFor(3)], [undefined, "A", "A"]);
  table.replacePeerNodes("B", [3, 4], 0);
  assertEquals([table.peerFor(3), table.peerFor(4)], ["A", "B"]); // first claim wins
  table.replacePeerNodes("A", [2], 10);
  assertEquals([table.peerFor(2), table.peerFor(3)], ["A", undefined]);
  assertEquals(table.remoteSize, 2);
  table.sweep(5006); // B last synced at 0, A at 10
  assertEquals([table.peerFor(2), table.peerFor(4)], ["A", undefined]);
  table.sweep(5011);
  assertEquals(table.remoteSize, 0);
});

Deno.test("node table: a proven binding moves only by a newer proof; unproven claims keep the reference's last-wins", () => {
  const table = new NodeTable(10, 1000, 5000);
  assertEquals(table.record(1, ep(1), 0), "ok"); // unproven
  assertEquals(table.record(1, ep(2), 10), "ok"); // unproven from elsewhere: last claim wins
  assertEquals(table.record(1, ep(3), 20, { proven: true, timestamp: 100, token: new Uint8Array(8) }), "ok");
  assert(table.isProven(1, 20));
  assertEquals(table.record(1, ep(4), 30), "conflict"); // an unproven claim from another address
  assertEquals(table.lookup(1, 30)?.port, 3);
  assertEquals(table.record(1, ep(3), 40), "ok"); // refreshed from its own address, still proven
  assert(table.isProven(1, 40));
  assertEquals(table.record(1, ep(5), 50, { proven: true, timestamp: 100 }), "stale"); // a replayed proof
  assertEquals(table.record(1, ep(3), 55, { proven: true, timestamp: 100 }), "ok"); // the same, at its own address
  assertEquals(table.record(1, ep(5), 60, { proven: true, timestamp: 101 }), "ok"); // roaming with a new proof
  assertEquals(table.lookup(1, 60)?.port, 5);
  assertEquals(table.tokenOf(1, 60), undefined);
  // Once the proven binding has expired, an unproven claim may take the ID again.
  assertEquals(table.record(1, ep(6), 2000), "ok");
  assert(!table.isProven(1, 2000));
});
