import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { CongestionControl, INITIAL_SSTHRESH_BYTES, MAX_CWND_BYTES } from "./congestion.ts";

const MSS = 4096;

Deno.test("congestion: starts at 10 segments with ssthresh 512 KiB", () => {
  const cc = new CongestionControl(MSS);
  assertEquals(cc.cwnd, 40_960);
  assertEquals(cc.ssthresh, INITIAL_SSTHRESH_BYTES);
  assert(cc.inSlowStart);
});

Deno.test("congestion: slow start grows by bytes acked, at most 2 MSS per ACK", () => {
  const cc = new CongestionControl(MSS);
  cc.onAck(MSS);
  assertEquals(cc.cwnd, 40_960 + MSS);
  cc.onAck(10 * MSS); // stretch ACK: ABC limit L = 2
  assertEquals(cc.cwnd, 40_960 + 3 * MSS);
  cc.onAck(100); // partial segment counts its bytes
  assertEquals(cc.cwnd, 40_960 + 3 * MSS + 100);
});

Deno.test("congestion: one window of ACKed bytes adds one MSS in avoidance", () => {
  const cc = new CongestionControl(MSS);
  cc.onFastRetransmit(); // cwnd = ssthresh = 20480
  const start = cc.cwnd;
  assertEquals(start, 20_480);
  assert(!cc.inSlowStart);
  for (let i = 0; i < 4; i++) cc.onAck(MSS);
  assertEquals(cc.cwnd, start); // 16384 < 20480 acked
  cc.onAck(MSS);
  assertEquals(cc.cwnd, start + MSS);
});

Deno.test("congestion: timeout is Tahoe, fast retransmit halves", () => {
  const cc = new CongestionControl(MSS);
  cc.onFastRetransmit();
  assertEquals(cc.cwnd, 20_480);
  cc.onTimeout();
  assertEquals(cc.ssthresh, 10_240);
  assertEquals(cc.cwnd, MSS);
  cc.onTimeout();
  assertEquals(cc.ssthresh, 2 * MSS); // floor of 2 segments
});

Deno.test("congestion: window stays within [1 MSS, 1 MB] under any event sequence", () => {
  const event = fc.oneof(
    fc.integer({ min: 1, max: 1 << 20 }).map((n) => ({ kind: "ack" as const, n })),
    fc.constant({ kind: "fast" as const, n: 0 }),
    fc.constant({ kind: "rto" as const, n: 0 }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 500, max: 9000 }), fc.array(event, { maxLength: 300 }), (mss, evs) => {
      const cc = new CongestionControl(mss);
      for (const e of evs) {
        const before = cc.cwnd;
        if (e.kind === "ack") {
          cc.onAck(e.n);
          assert(cc.cwnd >= before);
        } else if (e.kind === "fast") cc.onFastRetransmit();
        else cc.onTimeout();
        assert(cc.cwnd >= mss && cc.cwnd <= MAX_CWND_BYTES);
        assert(cc.ssthresh >= 2 * mss);
      }
    }),
  );
});

Deno.test("congestion: enough ACKs reach the 1 MB cap", () => {
  const cc = new CongestionControl(MSS);
  for (let i = 0; i < 100_000; i++) cc.onAck(MSS);
  assertEquals(cc.cwnd, MAX_CWND_BYTES);
});

Deno.test("congestion: undo restores the window and threshold saved before a reduction, never shrinking", () => {
  const cc = new CongestionControl(MSS);
  for (let i = 0; i < 10; i++) cc.onAck(MSS); // 20 segments
  cc.saveForUndo();
  cc.onFastRetransmit();
  assertEquals([cc.cwnd, cc.ssthresh], [10 * MSS, 10 * MSS]);
  cc.undo();
  assertEquals([cc.cwnd, cc.ssthresh], [20 * MSS, INITIAL_SSTHRESH_BYTES]);
  cc.saveForUndo();
  cc.onTimeout();
  assertEquals(cc.cwnd, MSS);
  cc.cwnd = 30 * MSS; // regrew past the saved window meanwhile
  cc.undo();
  assertEquals([cc.cwnd, cc.ssthresh], [30 * MSS, INITIAL_SSTHRESH_BYTES]);
});
