import { assert, assertEquals } from "../../tests/assert.ts";
import { type Endpoint, NodeTable } from "./node_table.ts";

const ep = (port: number): Endpoint => ({ address: "127.0.0.1", ip: "127.0.0.1", port });

Deno.test("node table: record, refresh, expire, cap", () => {
  const table = new NodeTable(2, 1000, 5000);
  assert(table.record(1, ep(1), 0));
  assert(table.record(2, ep(2), 0));
  assert(!table.record(3, ep(3), 0)); // full
  assert(table.record(1, ep(11), 500)); // refreshing an existing node is always allowed
  assertEquals(table.lookup(1, 1400), ep(11));
  assertEquals(table.lookup(2, 1001), undefined); // expired, even before a sweep
  assertEquals(table.localNodes(1001, 10), [1]);
  table.sweep(1001);
  assertEquals(table.size, 1);
  assert(table.record(3, ep(3), 1001));
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
