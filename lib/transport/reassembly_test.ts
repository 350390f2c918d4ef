import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { ReassemblyBuffer } from "./reassembly.ts";
import { seqAdd } from "./seq.ts";

function seg(len: number, fill = 1): Uint8Array {
  return new Uint8Array(len).fill(fill);
}

Deno.test("reassembly: spec SACK example (segments 1 and 3 lost)", () => {
  const r = new ReassemblyBuffer();
  assertEquals(r.insert(4097, seg(4096)), "buffered");
  assertEquals(r.insert(12289, seg(4096)), "buffered");
  assertEquals(r.sackBlocks(), [{ left: 4097, right: 8193 }, { left: 12289, right: 16385 }]);
  assertEquals(r.pull(1), undefined);
  assertEquals(r.pull(4097)?.length, 4096);
  assertEquals(r.pull(8193), undefined);
  assertEquals(r.size, 1);
});

Deno.test("reassembly: duplicates, limits and merging", () => {
  const r = new ReassemblyBuffer(3, 10);
  assertEquals(r.insert(10, seg(2)), "buffered");
  assertEquals(r.insert(10, seg(2)), "duplicate");
  assertEquals(r.insert(12, seg(2)), "buffered"); // touches [10,12)
  assertEquals(r.insert(20, seg(7)), "full"); // bytes
  assertEquals(r.insert(20, seg(3)), "buffered");
  assertEquals(r.insert(30, seg(1)), "full"); // segments
  assertEquals(r.sackBlocks(), [{ left: 10, right: 14 }, { left: 20, right: 23 }]);
  assertEquals(r.bytes, 7);
  r.clear();
  assertEquals(r.size + r.bytes, 0);
});

Deno.test("reassembly: at most 4 blocks, lowest first", () => {
  const r = new ReassemblyBuffer();
  for (let i = 5; i >= 0; i--) r.insert(100 + i * 10, seg(5));
  assertEquals(r.sackBlocks().map((b) => b.left), [100, 110, 120, 130]);
  assertEquals(r.sackBlocks(2).length, 2);
});

Deno.test("reassembly: overlapping segments are trimmed, stale ones dropped", () => {
  const r = new ReassemblyBuffer();
  r.insert(5, Uint8Array.of(5, 6, 7, 8));
  r.insert(7, Uint8Array.of(7, 8, 9));
  r.insert(6, Uint8Array.of(6));
  assertEquals(r.pull(6), Uint8Array.of(6, 7, 8)); // [5,9) trimmed to 6
  // [6,7) is wholly stale and dropped; [7,10) reaches past 9 and is trimmed to [9,10)
  assertEquals(r.pull(9), Uint8Array.of(9));
  assertEquals(r.size, 0);
});

Deno.test("reassembly: works across the u32 wrap", () => {
  const r = new ReassemblyBuffer();
  const base = 0xfffffff0;
  r.insert(seqAdd(base, 32), seg(16, 3));
  r.insert(seqAdd(base, 16), seg(16, 2));
  assertEquals(r.sackBlocks(), [{ left: seqAdd(base, 16), right: seqAdd(base, 48) }]);
  assertEquals(r.pull(base), undefined);
  assertEquals(r.pull(seqAdd(base, 16))?.[0], 2);
  assertEquals(r.pull(seqAdd(base, 32))?.[0], 3);
});

Deno.test("reassembly: any arrival order of a segmented stream reassembles it exactly", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 60 }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.infiniteStream(fc.nat()),
    (lens, isn, rnd) => {
      // segment a byte stream whose byte k has value k & 0xff
      const segs: { seq: number; data: Uint8Array }[] = [];
      let off = 0;
      for (const len of lens) {
        segs.push({
          seq: seqAdd(isn, off),
          data: Uint8Array.from({ length: len }, (_, j) => (off + j) & 0xff),
        });
        off += len;
      }
      const order = segs.slice();
      const it = rnd[Symbol.iterator]();
      for (let i = order.length - 1; i > 0; i--) {
        const j = it.next().value % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const r = new ReassemblyBuffer();
      let next = isn;
      const out: number[] = [];
      const deliver = (d: Uint8Array) => {
        out.push(...d);
        next = seqAdd(next, d.length);
      };
      for (const s of order) {
        if (s.seq === next) deliver(s.data);
        else r.insert(s.seq, s.data);
        for (let d = r.pull(next); d; d = r.pull(next)) deliver(d);
      }
      assertEquals(out.length, off);
      for (let k = 0; k < off; k++) assert(out[k] === (k & 0xff));
      assertEquals(r.size, 0);
    },
  ));
});
