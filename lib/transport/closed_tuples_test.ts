import { assert, assertEquals } from "../../tests/assert.ts";
import { RecentlyClosedTuples } from "./closed_tuples.ts";

Deno.test("closed tuples: held for the hold time, per (local port, node, remote port)", () => {
  const t = new RecentlyClosedTuples(1_000, 10);
  t.remember(49152, 7, 1000, 0);
  assert(t.has(49152, 7, 1000, 999));
  assert(!t.has(49152, 8, 1000, 10));
  assert(!t.has(49152, 7, 1001, 10));
  assert(!t.has(49153, 7, 1000, 10));
  assert(!t.has(49152, 7, 1000, 1_000));
  assertEquals(t.size, 0);
});

Deno.test("closed tuples: bounded, the oldest goes first; closing again renews", () => {
  const t = new RecentlyClosedTuples(60_000, 3);
  t.remember(1, 1, 1, 0);
  t.remember(2, 1, 1, 1);
  t.remember(3, 1, 1, 2);
  t.remember(1, 1, 1, 3); // renewed: now the newest
  t.remember(4, 1, 1, 4);
  assertEquals(t.size, 3);
  assert(!t.has(2, 1, 1, 5));
  assert(t.has(1, 1, 1, 5) && t.has(3, 1, 1, 5) && t.has(4, 1, 1, 5));
});
