import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { type Segment, SendBuffer } from "./send-buffer.ts";
import { seqAdd, seqAfterOrEqual, seqBeforeOrEqual } from "./seq.ts";

function fill(buf: SendBuffer, start: number, lens: number[], now = 0): Segment[] {
  const out: Segment[] = [];
  let seq = start;
  for (const len of lens) {
    const seg: Segment = {
      seq,
      end: seqAdd(seq, len),
      data: new Uint8Array(len),
      sentAt: now,
      order: 0,
      attempts: 1,
      sacked: false,
      lost: false,
    };
    buf.push(seg);
    out.push(seg);
    seq = seg.end;
  }
  return out;
}

Deno.test("send-buffer: cumulative ACK removes whole segments and samples RTT (Karn)", () => {
  const b = new SendBuffer();
  const segs = fill(b, 1, [100, 100, 100]);
  segs[1].sentAt = 5;
  assertEquals(b.ackTo(50), 0); // inside the first segment: nothing removed
  assertEquals(b.ackTo(201), 200);
  assertEquals(b.rttSampleSentAt, 5);
  assertEquals(b.length, 1);
  b.retransmitted(segs[2], 9);
  assertEquals(b.ackTo(301), 100);
  assertEquals(b.rttSampleSentAt, -1); // retransmitted: no sample
  assertEquals(b.bytes, 0);
});

Deno.test("send-buffer: SACK marks whole segments only and shrinks the pipe", () => {
  const b = new SendBuffer();
  const segs = fill(b, 1, [10, 10, 10, 10]);
  assertEquals(b.pipe, 40);
  assertEquals(b.markSacked(11, 35), 10 + 10); // [11,21) and [21,31); [31,41) only partly
  assert(!segs[0].sacked && segs[1].sacked && segs[2].sacked && !segs[3].sacked);
  assertEquals(b.markSacked(11, 31), 0);
  assertEquals(b.markSacked(40, 20), 0); // inverted
  assertEquals(b.pipe, 20);
  b.restartLossScan();
  b.markLostUpTo(31);
  assert(segs[0].lost && !segs[3].lost);
  assertEquals(b.pipe, 10);
  assertEquals(b.nextLost(), segs[0]);
  b.retransmitted(segs[0], 1);
  assertEquals(b.nextLost(), undefined);
  assertEquals(b.pipe, 20);
  assertEquals(b.ackTo(31), 30);
  assertEquals(b.sackedBytes, 0);
});

Deno.test("send-buffer: front-lost marking after a partial ACK", () => {
  const b = new SendBuffer();
  const segs = fill(b, 1, [10, 10, 10]);
  b.restartLossScan();
  b.markFrontLost();
  assertEquals(b.nextLost(), segs[0]);
  b.retransmitted(segs[0], 1);
  assertEquals(b.nextLost(), undefined);
  b.ackTo(11);
  b.markFrontLost();
  assertEquals(b.nextLost(), segs[1]);
  b.clear();
  assertEquals(b.length + b.bytes + b.lostBytes, 0);
  assertEquals(b.nextLost(), undefined);
});

Deno.test("send-buffer: running totals match a recount under random operations", () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant("push" as const), n: fc.integer({ min: 1, max: 30 }) }),
    fc.record({ k: fc.constant("ack" as const), n: fc.integer({ min: 0, max: 120 }) }),
    fc.record({
      k: fc.constant("sack" as const),
      n: fc.integer({ min: 0, max: 150 }),
      m: fc.integer({ min: 0, max: 80 }),
    }),
    fc.record({ k: fc.constant("lost" as const), n: fc.integer({ min: 0, max: 150 }) }),
    fc.constant({ k: "front" as const }),
    fc.constant({ k: "restart" as const }),
    fc.constant({ k: "retx" as const }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(op, { maxLength: 120 }), (isn, ops) => {
      const b = new SendBuffer();
      const segs: Segment[] = []; // model (also removed ones)
      let una = isn, nxt = isn;
      for (const o of ops) {
        if (o.k === "push") {
          segs.push(...fill(b, nxt, [o.n]));
          nxt = seqAdd(nxt, o.n);
        } else if (o.k === "ack") {
          const ack = seqAdd(una, o.n);
          if (!seqBeforeOrEqual(ack, nxt)) continue;
          b.ackTo(ack);
          una = ack;
        } else if (o.k === "sack") b.markSacked(seqAdd(una, o.n), seqAdd(una, o.n + o.m));
        else if (o.k === "lost") b.markLostUpTo(seqAdd(una, o.n));
        else if (o.k === "front") b.markFrontLost();
        else if (o.k === "restart") b.restartLossScan();
        else {
          const s = b.nextLost();
          if (s) {
            assert(s.lost);
            b.retransmitted(s, 1);
          }
        }
        const live = segs.filter((s) => !seqAfterOrEqual(una, s.end));
        assertEquals(b.length, live.length);
        assertEquals(b.bytes, live.reduce((a, s) => a + s.data.length, 0));
        assertEquals(b.sackedBytes, live.filter((s) => s.sacked).reduce((a, s) => a + s.data.length, 0));
        assertEquals(b.lostBytes, live.filter((s) => s.lost).reduce((a, s) => a + s.data.length, 0));
        assert(b.pipe >= 0);
        assert(!live.some((s) => s.sacked && s.lost));
        // nextLost finds the lowest lost segment whenever one exists
        const firstLost = live.find((s) => s.lost);
        if (firstLost) assertEquals(b.nextLost(), firstLost);
      }
    }),
  );
});

Deno.test("send-buffer: transmissions are numbered in send order; delivery is reported once per segment", () => {
  const b = new SendBuffer();
  const segs = fill(b, 1, [10, 10, 10, 10]);
  assertEquals(segs.map((s) => s.order), [1, 2, 3, 4]);
  b.markLostAt(1);
  assertEquals(b.nextLost(), segs[1]);
  b.retransmitted(segs[1], 7);
  assertEquals([segs[1].order, b.lastOrder], [5, 5]);
  assertEquals(b.at(2), segs[2]);
  const seen: number[] = [];
  b.markSacked(21, 41, (s) => seen.push(s.seq));
  b.markSacked(21, 41, (s) => seen.push(s.seq)); // already SACKed: not reported again
  b.ackTo(41, (s) => seen.push(s.seq)); // SACKed ones were reported already
  assertEquals(seen, [21, 31, 1, 11]);
  b.markLostAt(0); // nothing there any more
  assertEquals(b.lostBytes, 0);
});
