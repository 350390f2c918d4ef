import { assertEquals } from "../../tests/assert.ts";
import { DialPacer } from "./dial_pacer.ts";

Deno.test("dial pacer: a burst beyond the bucket is spaced at the rate, per node", () => {
  let now = 0;
  const p = new DialPacer(8, 8, () => now);
  const waits = Array.from({ length: 12 }, () => p.reserve(1));
  assertEquals(waits.slice(0, 8), [0, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(waits.slice(8), [125, 250, 375, 500]);
  assertEquals(p.reserve(2), 0); // another node has its own bucket
  now = 10_000; // refilled, never beyond the capacity
  assertEquals(Array.from({ length: 9 }, () => p.reserve(1)).filter((w) => w > 0).length, 1);
});
