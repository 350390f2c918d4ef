import { assert, assertEquals } from "../../tests/assert.ts";
import { Rack, RACK_DUP_THRESH, REO_WND_MAX_MULT, REO_WND_PERSIST } from "./rack.ts";
import { type Segment, SendBuffer } from "./send-buffer.ts";
import { seqAdd } from "./seq.ts";

const MSS = 100;

/** Sends `n` segments of MSS bytes at `now` and returns them. */
function send(b: SendBuffer, start: number, n: number, now: number): Segment[] {
  const out: Segment[] = [];
  let seq = start;
  for (let i = 0; i < n; i++) {
    const seg: Segment = {
      seq,
      end: seqAdd(seq, MSS),
      data: new Uint8Array(MSS),
      sentAt: now,
      order: 0,
      attempts: 1,
      sacked: false,
      lost: false,
    };
    b.push(seg);
    out.push(seg);
    seq = seg.end;
  }
  return out;
}

/** SACKs `seg` at `now`, reporting the delivery to `rack` as the stream does. */
function sack(b: SendBuffer, rack: Rack, seg: Segment, now: number): string[] {
  const verdicts: string[] = [];
  b.markSacked(seg.seq, seg.end, (s) => verdicts.push(rack.onDelivered(s, now)));
  return verdicts;
}

Deno.test("rack: a segment sent before a delivered one is lost after its RTT plus the reordering window", () => {
  const b = new SendBuffer(), rack = new Rack();
  const [s0] = send(b, 1, 1, 0);
  b.ackTo(s0.end, (s) => rack.onDelivered(s, 10)); // min RTT 10 ms
  const segs = send(b, s0.end, 4, 20);
  assertEquals(sack(b, rack, segs[1], 30), ["fresh"]);
  assertEquals(rack.rtt, 10);
  // No reordering seen and fewer than DupThresh SACKed: wait min_RTT/4 = 2.5 ms.
  const reo = rack.reoWnd(false, 1, 10);
  assertEquals(reo, 2.5);
  assertEquals(rack.detectLosses(b, 30, reo), 0);
  assertEquals(rack.timerAt, 32.5);
  assertEquals(rack.detectLosses(b, 32.5, reo), 1);
  assert(segs[0].lost && !segs[2].lost && !segs[3].lost, "only the segment sent before the delivered one");
  assertEquals(rack.timerAt, Infinity);
  // With DupThresh segments SACKed (and no reordering seen) the window is 0.
  assertEquals(rack.reoWnd(false, RACK_DUP_THRESH, 10), 0);
  assertEquals(rack.reoWnd(true, 0, 10), 0);
});

Deno.test("rack: a lost retransmission is found when a later transmission is delivered", () => {
  const b = new SendBuffer(), rack = new Rack();
  const segs = send(b, 1, 3, 0);
  sack(b, rack, segs[1], 10);
  rack.detectLosses(b, 10, 0);
  assert(segs[0].lost);
  b.retransmitted(segs[0], 10); // the retransmission is lost too
  sack(b, rack, segs[2], 10.5); // sent before the retransmission: says nothing about it
  assertEquals(rack.detectLosses(b, 30, 0), 0);
  const [later] = send(b, segs[2].end, 1, 12);
  sack(b, rack, later, 22);
  assertEquals(rack.detectLosses(b, 22, 0), 1);
  assert(segs[0].lost, "the retransmission is marked lost again, without a timeout");
});

Deno.test("rack: an acknowledgement faster than any round trip marks the retransmission spurious", () => {
  const b = new SendBuffer(), rack = new Rack();
  const segs = send(b, 1, 3, 0);
  sack(b, rack, segs[1], 10); // min RTT 10
  assertEquals(rack.minRtt, 10);
  b.markLostAt(0);
  b.retransmitted(segs[0], 12);
  const verdicts: string[] = [];
  b.ackTo(segs[0].end, (s) => verdicts.push(rack.onDelivered(s, 13))); // 1 ms after the resend
  assertEquals(verdicts, ["spurious"]);
  // Before any RTT is known nothing can be concluded.
  const fresh = new Rack(), b2 = new SendBuffer();
  const [x] = send(b2, 1, 1, 0);
  b2.retransmitted(x, 5);
  b2.ackTo(x.end, (s) => verdicts.push(fresh.onDelivered(s, 6)));
  assertEquals(verdicts.at(-1), "ambiguous");
});

Deno.test("rack: reordering widens the window; spurious rounds grow it, capped by SRTT, and it shrinks back", () => {
  const b = new SendBuffer(), rack = new Rack();
  const segs = send(b, 1, 4, 0);
  sack(b, rack, segs[2], 8); // min RTT 8
  assert(!rack.reorderingSeen);
  sack(b, rack, segs[1], 9); // sent once, below the highest delivered: reordering
  assert(rack.reorderingSeen);
  assertEquals(rack.reoWnd(true, 10, 100), 2); // in recovery, still min_RTT/4 once reordering was seen
  rack.onSpurious(1, 401);
  assertEquals(rack.reoWnd(false, 0, 100), 4);
  rack.onSpurious(1, 401); // same round: no growth
  assertEquals(rack.reoWnd(false, 0, 100), 4);
  rack.onSpurious(401, 801);
  assertEquals(rack.reoWnd(false, 0, 100), 6);
  assertEquals(rack.reoWnd(false, 0, 5), 5); // never above SRTT
  for (let i = 0; i < 40; i++) rack.onSpurious(1000 + i * 10, 1000 + i * 10 + 5);
  assertEquals(rack.reoWnd(false, 0, 1000), REO_WND_MAX_MULT * 2);
  for (let i = 0; i < REO_WND_PERSIST; i++) rack.onRecoveryEnd();
  assertEquals(rack.reoWnd(false, 0, 1000), 2);
});

Deno.test("rack: segments sent at the same instant are ordered by transmission, not by sequence", () => {
  const b = new SendBuffer(), rack = new Rack();
  const segs = send(b, 1, 4, 0);
  b.markLostAt(0);
  // At t = 10 new data goes out first, then the retransmission of the first segment.
  const fresh = send(b, segs[3].end, 2, 10);
  b.retransmitted(segs[0], 10);
  sack(b, rack, fresh[1], 20); // delivered, but sent before the retransmission
  // Lost: segments 1..3 and fresh[0], all sent before it; not the retransmission, sent after it.
  assertEquals(rack.detectLosses(b, 100, 0), 4);
  assert(!segs[0].lost && segs[1].lost && segs[3].lost && fresh[0].lost);
});
