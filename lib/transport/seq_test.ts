import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import {
  seqAdd,
  seqAfter,
  seqAfterOrEqual,
  seqBefore,
  seqBeforeOrEqual,
  seqDiff,
  seqMax,
  seqMin,
} from "./seq.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Distances that keep a comparison meaningful (|d| < 2^31). */
const dist = fc.integer({ min: -0x7fffffff, max: 0x7fffffff });

Deno.test("seq: wrap-around examples", () => {
  assertEquals(seqAdd(0xffffffff, 1), 0);
  assertEquals(seqAdd(0, -1), 0xffffffff);
  assert(seqAfter(5, 0xfffffff0));
  assert(seqBefore(0xfffffff0, 5));
  assertEquals(seqDiff(5, 0xfffffff0), 21);
  assertEquals(seqDiff(0xfffffff0, 5), -21);
  assert(seqAfterOrEqual(7, 7) && seqBeforeOrEqual(7, 7) && !seqAfter(7, 7) && !seqBefore(7, 7));
  assertEquals(seqMax(0xffffffff, 2), 2);
  assertEquals(seqMin(0xffffffff, 2), 0xffffffff);
});

Deno.test("seq: half-space distance is after in neither direction", () => {
  assert(!seqAfter(0x80000000, 0) && !seqAfter(0, 0x80000000));
});

Deno.test("seq: a + d is after a exactly when d > 0", () => {
  fc.assert(fc.property(u32, dist, (a, d) => {
    const b = seqAdd(a, d);
    assertEquals(b >>> 0, b);
    assertEquals(seqDiff(b, a), d);
    assertEquals(seqAfter(b, a), d > 0);
    assertEquals(seqBefore(b, a), d < 0);
    assertEquals(seqAfterOrEqual(b, a), d >= 0);
    assertEquals(seqBeforeOrEqual(b, a), d <= 0);
    assertEquals(seqMax(a, b), d >= 0 ? b : a);
    assertEquals(seqMin(a, b), d >= 0 ? a : b);
  }));
});

Deno.test("seq: after is antisymmetric and translation-invariant", () => {
  fc.assert(fc.property(u32, u32, dist, (a, b, t) => {
    assert(!(seqAfter(a, b) && seqAfter(b, a)));
    assertEquals(seqAfter(seqAdd(a, t), seqAdd(b, t)), seqAfter(a, b));
  }));
});
