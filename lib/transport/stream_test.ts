/** Packet-level behaviour of one Stream driven by hand (fake host and clock). */
import { toHex } from "../bytes.ts";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { Address } from "../protocol/address.ts";
import { FLAG_ACK, FLAG_FIN, FLAG_RST, FLAG_SYN, PROTO_STREAM } from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { encodeSack } from "./sack.ts";
import {
  type CloseReason,
  IDLE_TIMEOUT_MS,
  MAX_TRANSMISSIONS,
  PERSIST_INITIAL_MS,
  PERSIST_MAX_MS,
  RECV_BUFFER_BYTES,
  RECV_OVERCOMMIT_BYTES,
  Stream,
  type StreamHost,
  type StreamOptions,
  StreamStateError,
  TIME_WAIT_GRANULARITY_MS,
  TIME_WAIT_MS,
} from "./stream.ts";
import { TimerQueue } from "./timers.ts";

const ME = new Address(0, 1), PEER = new Address(0, 2);

class FakeHost implements StreamHost {
  now = 0;
  readonly timers = new TimerQueue(() => this.now);
  sent: Packet[] = [];
  states: string[] = [];
  ackAtBatchEnd?: (stream: Stream) => boolean;
  send(pkt: Packet): void {
    this.sent.push(pkt);
  }
  stateChanged(s: Stream): void {
    this.states.push(s.state);
  }
  /** Advances the clock to now + ms, firing timers on the way. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let t = this.timers.nextDeadline(); t !== undefined && t <= end; t = this.timers.nextDeadline()) {
      this.now = Math.max(this.now, t);
      this.timers.runDue(this.now);
    }
    this.now = end;
  }
  take(): Packet[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
}

function from(p: Partial<Packet>): Packet {
  return {
    version: 1,
    flags: FLAG_ACK,
    protocol: PROTO_STREAM,
    src: PEER,
    dst: ME,
    srcPort: 1000,
    dstPort: 49152,
    seq: 1,
    ack: 1,
    window: 512,
    payload: new Uint8Array(0),
    ...p,
  };
}

/** A stream established by dialing (SYN, SYN+ACK from the peer), with its sent packets cleared. */
function dialed(options: StreamOptions = {}, peerWindow = 512) {
  const host = new FakeHost();
  const s = new Stream({
    id: 1,
    host,
    localAddr: ME,
    localPort: 49152,
    remoteAddr: PEER,
    remotePort: 1000,
    options,
  });
  s.openActive();
  s.handlePacket(from({ flags: FLAG_SYN | FLAG_ACK, seq: 0, ack: 1, window: peerWindow }));
  host.take();
  return { s, host };
}

/** A stream established passively (peer's SYN with ISN 0). */
function accepted(options: StreamOptions = {}) {
  const host = new FakeHost();
  const s = new Stream({
    id: 1,
    host,
    localAddr: ME,
    localPort: 1000,
    remoteAddr: PEER,
    remotePort: 49152,
    options,
  });
  s.openPassive(from({ flags: FLAG_SYN, seq: 0, ack: 0, srcPort: 49152, dstPort: 1000 }));
  host.take();
  return { s, host };
}

const data = (seq: number, len: number, fill = 1, extra: Partial<Packet> = {}) =>
  from({ seq, payload: new Uint8Array(len).fill(fill), srcPort: 49152, dstPort: 1000, ...extra });

const fields = (p: Packet) => [p.flags, p.seq, p.ack, p.window, p.payload.length];

Deno.test("stream: dial handshake packets (§3.1) and the first data segment", () => {
  const host = new FakeHost();
  const s = new Stream({ id: 1, host, localAddr: ME, localPort: 49152, remoteAddr: PEER, remotePort: 1000 });
  let opened = 0;
  s.onOpen = () => opened++;
  s.openActive();
  assertEquals(fields(host.take()[0]), [FLAG_SYN, 0, 0, 512, 0]);
  assertEquals(s.state, "SYN_SENT");
  s.write(new TextEncoder().encode("hello")); // buffered until established
  assertEquals(host.sent.length, 0);
  s.handlePacket(
    from({ flags: FLAG_SYN | FLAG_ACK, seq: 0, ack: 1, window: 300, payload: new Uint8Array(9) }),
  );
  const [ack, hello] = host.take();
  assertEquals(fields(ack), [FLAG_ACK, 1, 1, 512, 0]);
  assertEquals(fields(hello), [FLAG_ACK, 1, 1, 512, 5]);
  assertEquals([s.state, opened, s.stats().peerRecvWin], ["ESTABLISHED", 1, 300 * 4096]);
  // A duplicate SYN+ACK is ignored (no second ACK).
  s.handlePacket(from({ flags: FLAG_SYN | FLAG_ACK, seq: 0, ack: 1 }));
  assertEquals(host.sent.length, 0);
});

Deno.test("stream: the receiver's SACK matches the spec example (segments 1 and 3 lost)", () => {
  const { s, host } = accepted();
  s.handlePacket(data(4097, 4096));
  s.handlePacket(data(12289, 4096));
  const acks = host.take();
  assertEquals(acks.length, 2); // out-of-order data is acknowledged at once
  assertEquals(acks[1].ack, 1);
  assertEquals(
    toHex(acks[1].payload).toUpperCase(),
    "5341434B02" + "00001001" + "00002001" + "00003001" + "00004001",
  );
  // Filling the holes delivers everything in order.
  // Filling the holes delivers everything in order; a segment that fills a gap is acknowledged at once.
  s.handlePacket(data(1, 4096));
  s.handlePacket(data(8193, 4096));
  assertEquals(s.readableLength, 4 * 4096);
  assertEquals(host.sent.map((p) => [p.ack, p.payload.length]), [[8193, 13], [16385, 0]]);
});

Deno.test("stream: three duplicate pure ACKs trigger fast retransmit; window changes and data do not count", () => {
  const { s, host } = dialed({ noDelay: true });
  s.write(new Uint8Array(10 * 4096));
  assertEquals(host.take().length, 10);
  s.handlePacket(from({ ack: 1, window: 511 })); // window changed: not a duplicate
  s.handlePacket(from({ ack: 1, window: 511, seq: 1, payload: new Uint8Array(3) })); // carries data
  s.handlePacket(from({ ack: 1, window: 511, seq: 1 })); // duplicate 1 (old data above was delivered? seq 1→4)
  s.handlePacket(from({ ack: 1, window: 511, seq: 4 }));
  assertEquals(host.sent.filter((p) => p.payload.length > 100).length, 0);
  s.handlePacket(from({ ack: 1, window: 511, seq: 4, payload: encodeSack([{ left: 8193, right: 12289 }]) }));
  const retx = host.take().filter((p) => p.payload.length > 100);
  assertEquals(retx.map((p) => p.seq), [1]);
  assertEquals(s.stats().fastRetx, 1);
  assertEquals(s.stats().congWin, 5 * 4096); // halved from 10 segments
});

Deno.test("stream: an empty ACK with window 0 that does not advance is ignored (reference keepalive)", () => {
  const { s } = dialed();
  s.handlePacket(from({ ack: 1, window: 0 }));
  assertEquals(s.stats().peerRecvWin, 512 * 4096);
  s.handlePacket(from({ ack: 1, window: 7 })); // a non-zero window is always news
  assertEquals(s.stats().peerRecvWin, 7 * 4096);
});

Deno.test("stream: zero window → 1-byte probes at 0.5 s doubling to 30 s, not limited like retransmissions", () => {
  const { s, host } = dialed({ noDelay: true });
  s.write(new Uint8Array(8192).fill(3));
  assertEquals(host.take().length, 2);
  s.handlePacket(from({ ack: 8193, window: 0 })); // all acked, window closed
  s.write(new Uint8Array(1000));
  assertEquals(host.take().length, 0);
  const probes: number[] = [];
  for (let t = 0; t < 10 * 60_000; t += 100) {
    host.advance(100);
    for (const p of host.take().filter((p) => p.payload.length > 0)) {
      assertEquals([p.seq, p.payload.length], [8193, 1]);
      probes.push(host.now);
      // A receiver that cannot take the byte yet still answers: window 0, Ack unchanged.
      s.handlePacket(from({ ack: 8193, window: 0 }));
    }
  }
  assert(probes.length > MAX_TRANSMISSIONS, `only ${probes.length} probes`);
  const gaps = probes.slice(1).map((t, i) => t - probes[i]);
  assertEquals(probes[0] - 0 <= PERSIST_INITIAL_MS + 100, true);
  assert(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]));
  assert(gaps.at(-1)! <= PERSIST_MAX_MS + 100);
  assertEquals(s.state, "ESTABLISHED");
  // The receiver acknowledges the probe and opens its window: the rest flows at once.
  s.handlePacket(from({ ack: 8194, window: 100 }));
  assertEquals(host.take().map((p) => p.payload.length), [999]);
});

Deno.test("stream: a zero-window peer that never answers a probe is closed as idle after 120 s", () => {
  const { s, host } = dialed({ noDelay: true });
  s.write(new Uint8Array(10));
  s.handlePacket(from({ ack: 11, window: 0 }));
  s.write(new Uint8Array(10));
  // The probe (new data, at 0.5 s) is the last activity.
  host.advance(PERSIST_INITIAL_MS + IDLE_TIMEOUT_MS - 1);
  assertEquals(s.state, "ESTABLISHED");
  host.advance(2);
  assertEquals([s.state, s.closeReason], ["TIME_WAIT", "idle"]);
});

Deno.test("stream: in-order data beyond the receive buffer is accepted up to the hard cap, then dropped unacknowledged", () => {
  const { s, host } = accepted({ recvBufferBytes: 8192 });
  let seq = 1;
  const seg = 65_536;
  let accepted_ = 0;
  for (let i = 0; i < 20; i++) {
    s.handlePacket(data(seq, seg));
    seq += seg;
    host.advance(50); // let delayed ACKs go
    const acks = host.take();
    if (acks.length) accepted_ = acks.at(-1)!.ack - 1;
  }
  assertEquals(accepted_, 8192 + RECV_OVERCOMMIT_BYTES - ((8192 + RECV_OVERCOMMIT_BYTES) % seg));
  assertEquals(s.readableLength, accepted_);
  assert(host.sent.length === 0);
  // Reading reopens the window: a window update is sent.
  while (s.read());
  const upd = host.take();
  assertEquals(upd.length, 1);
  assertEquals([upd[0].ack, upd[0].window], [accepted_ + 1, 2]);
});

Deno.test("stream: advertised window tracks unread data; reading sends a window update", () => {
  const { s, host } = accepted();
  for (let i = 0; i < 512; i++) s.handlePacket(data(1 + i * 4096, 4096));
  const last = host.take().at(-1)!;
  assertEquals([last.ack, last.window], [1 + 512 * 4096, 0]);
  assertEquals(s.readableLength, RECV_BUFFER_BYTES);
  const part = s.read(100)!;
  assertEquals(part.length, 100);
  s.read(); // rest of the first chunk
  assertEquals(host.take().map((p) => p.window), [1]); // 0 → 1: update
  for (let i = 0; i < 200; i++) s.read();
  assertEquals(host.take().map((p) => p.window), [129]);
});

Deno.test("stream: FIN that overtook data: the data is still delivered before EOF", () => {
  const { s, host } = accepted();
  let reason: CloseReason | undefined;
  s.onClose = (r) => reason = r;
  s.handlePacket(data(5, 4, 2));
  s.handlePacket(from({ flags: FLAG_FIN, seq: 9, ack: 0, window: 0, srcPort: 49152, dstPort: 1000 }));
  const finAck = host.take().at(-1)!;
  assertEquals(fields(finAck), [FLAG_FIN | FLAG_ACK, 1, 10, 0, 0]);
  assertEquals([s.state, reason, s.eof], ["TIME_WAIT", "remote", false]);
  s.handlePacket(data(1, 4, 1));
  assertEquals(s.readableLength, 8);
  assertEquals([...s.read()!, ...s.read()!], [1, 1, 1, 1, 2, 2, 2, 2]);
  assert(s.eof);
  assertEquals(host.sent.length, 0); // nothing is acknowledged in TIME_WAIT
});

Deno.test("stream: FIN+ACK is not answered; a repeated bare FIN in TIME_WAIT is", () => {
  const { s, host } = dialed();
  s.close();
  assertEquals(fields(host.take()[0]), [FLAG_FIN, 1, 0, 0, 0]);
  s.handlePacket(from({ flags: FLAG_FIN | FLAG_ACK, seq: 1, ack: 2, window: 0 }));
  assertEquals([s.state, host.sent.length], ["TIME_WAIT", 0]);
  s.handlePacket(from({ flags: FLAG_FIN, seq: 1, ack: 0, window: 0 }));
  assertEquals(fields(host.take()[0]), [FLAG_FIN | FLAG_ACK, 1, 2, 0, 0]);
  host.advance(10_000);
  assertEquals(s.state, "CLOSED");
});

/** A dialed stream that sent 10 bytes and a FIN at `at` ms, and got both acknowledged with the peer's FIN. */
function closedAt(at: number) {
  const { s, host } = dialed();
  host.now = at;
  s.write(new Uint8Array(10)); // a retransmission clock starts
  s.close();
  const rto = host.timers.nextDeadline()!;
  assert(rto < at + TIME_WAIT_MS, `retransmission deadline ${rto}`);
  s.handlePacket(from({ flags: FLAG_FIN | FLAG_ACK, seq: 1, ack: 12, window: 512 })); // data and FIN acked
  assertEquals(s.state, "TIME_WAIT");
  return { s, host };
}

Deno.test("stream: entering TIME_WAIT replaces its earlier wake-up with TIME_WAIT's end", () => {
  const { host } = closedAt(2_300);
  // Nothing is due before TIME_WAIT's end (rounded up to a whole second), so nothing asks to be woken earlier.
  assertEquals(host.timers.nextDeadline(), 13_000);
});

Deno.test("stream: connections closed within the same second leave TIME_WAIT together", () => {
  const ends = [1_001, 1_450, 1_999, 2_000].map((at) => closedAt(at).host.timers.nextDeadline());
  assertEquals(ends, [12_000, 12_000, 12_000, 12_000]);
  for (const at of [0, 123, 999.5, 7_777]) {
    const end = closedAt(at).host.timers.nextDeadline()!;
    assert(end - at >= TIME_WAIT_MS && end - at < TIME_WAIT_MS + TIME_WAIT_GRANULARITY_MS, `${at} -> ${end}`);
  }
});

Deno.test("stream: ACKs of unsent data, packets without ACK and SYN payloads are ignored", () => {
  const { s, host } = dialed({ noDelay: true });
  s.write(new Uint8Array(100));
  host.take();
  s.handlePacket(from({ ack: 5000 })); // beyond SendSeq
  assertEquals(s.inFlight, 100);
  s.handlePacket(from({ flags: 0, seq: 1, payload: new Uint8Array(10) }));
  assertEquals(s.readableLength, 0);
  s.handlePacket(from({ ack: 101 }));
  assertEquals(s.inFlight, 0);
});

Deno.test("stream: write after close throws; onClose fires once; abort sends RST", () => {
  const { s, host } = dialed();
  const reasons: string[] = [];
  s.onClose = (r) => reasons.push(r);
  s.close();
  assertThrows(() => s.write(new Uint8Array(1)), StreamStateError);
  s.close();
  s.abort();
  assertEquals(reasons, ["local"]);
  assertEquals(host.take().map((p) => p.flags), [FLAG_FIN, FLAG_RST]);
  assertEquals(s.state, "CLOSED");
});

Deno.test("stream: RST while dialing → refused; SYN timer fires the relay hook", () => {
  const host = new FakeHost();
  const s = new Stream({ id: 1, host, localAddr: ME, localPort: 49152, remoteAddr: PEER, remotePort: 1000 });
  const hooks: number[] = [];
  s.onSynTimeout = (n) => hooks.push(n);
  s.openActive();
  host.advance(3500);
  assertEquals(hooks, [1, 2]);
  assertEquals(host.take().filter((p) => p.flags === FLAG_SYN).length, 3);
  s.handlePacket(from({ flags: FLAG_RST, seq: 0, ack: 0, window: 0 }));
  assertEquals([s.state, s.closeReason], ["CLOSED", "refused"]);
  assertEquals(host.timers.size, 0);
});

Deno.test("stream: a timeout retransmits the oldest segment, collapses cwnd to 1 MSS and doubles the RTO", () => {
  const { s, host } = dialed({ noDelay: true });
  s.write(new Uint8Array(4 * 4096));
  assertEquals(host.take().length, 4);
  host.advance(999);
  assertEquals(host.sent.length, 0);
  host.advance(2);
  assertEquals(host.take().map((p) => p.seq), [1]);
  assertEquals(s.stats().congWin, 4096);
  host.advance(1998); // the first retransmission went out at t = 1000; the RTO is now 2 s
  assertEquals(host.sent.length, 0);
  host.advance(2);
  assertEquals(host.take().map((p) => p.seq), [1]);
  // The ACK clock then resends the other presumed-lost segments, one more per ACK (slow start).
  s.handlePacket(from({ ack: 4097 }));
  assertEquals(host.take().map((p) => p.seq), [4097, 8193]);
});

Deno.test("stream: write() takes what room the window frees at once and never calls onWritable from inside itself", () => {
  const { s, host } = dialed({ noDelay: true, sendBufferBytes: 8192 });
  let inside = false, writable = 0;
  s.onWritable = () => {
    assert(!inside, "onWritable fired inside write()");
    writable++;
  };
  inside = true;
  const n = s.write(new Uint8Array(100_000));
  inside = false;
  // 10 segments fill the initial window and 8192 bytes wait in the send buffer.
  assertEquals([n, host.take().length, s.writableLength], [10 * 4096 + 8192, 10, 8192]);
  assertEquals(writable, 0);
  s.handlePacket(from({ ack: 1 + 4 * 4096 }));
  assertEquals(writable, 1);
});

/** A dialed stream whose first segment was acknowledged after `rtt` ms, so RTT-based timers are armed. */
function withRtt(rtt: number, segments: number, options: StreamOptions = {}) {
  const { s, host } = dialed({ noDelay: true, ...options });
  s.write(new Uint8Array(segments * 4096));
  const sent = host.take().length;
  host.advance(rtt);
  s.handlePacket(from({ ack: 4097 }));
  return { s, host, sent };
}

Deno.test("stream: tail loss probe — the last segment is resent at the probe timeout, twice as late next, before the RTO", () => {
  const { s, host } = withRtt(10, 4); // SRTT 10, RTTVAR 5: PTO = max(20, 30) + 2 = 32 ms; RTO 200 ms
  const at = (p: Packet[]) => p.map((x) => [host.now, x.seq]);
  const log: (number | number)[][] = [];
  for (let t = 0; t < 200; t++) {
    host.advance(1);
    log.push(...at(host.take().filter((p) => p.payload.length > 0)));
  }
  // Probes at 10 + 32 and 42 + 64 retransmit the highest segment; the RTO at 200 resends the oldest.
  assertEquals(log, [[42, 12289], [106, 12289], [200, 4097]]);
  const st = s.stats();
  assertEquals([st.tlpProbes, st.timeouts, st.congWin], [2, 1, 4096]);
});

Deno.test("stream: a probe sends new data when some is waiting, even with the congestion window full", () => {
  const { s, host, sent } = withRtt(10, 20);
  assertEquals(sent, 10);
  const after = host.take().map((p) => p.seq); // the ACK grew cwnd by one segment: two more go out
  assertEquals(after, [40961, 45057]);
  host.advance(31);
  assertEquals(host.sent.length, 0);
  host.advance(1);
  assertEquals(host.take().map((p) => [p.seq, p.payload.length]), [[49153, 4096]]);
  assertEquals(s.stats().retransmits, 0);
});

Deno.test("stream: SACKs after a reordering-free flight mark the hole lost at once; an early ACK undoes the reduction", () => {
  const { s, host } = withRtt(10, 1);
  s.write(new Uint8Array(4 * 4096));
  assertEquals(host.take().length, 4); // seqs 4097, 8193, 12289, 16385 at t = 10
  const before = s.stats().congWin;
  host.advance(10);
  // Three segments SACKed: with no reordering seen, the first is lost without waiting.
  s.handlePacket(from({ ack: 4097, payload: encodeSack([{ left: 8193, right: 20481 }]) }));
  assertEquals(host.take().map((p) => p.seq), [4097]);
  let st = s.stats();
  assertEquals([st.fastRetx, st.rackLost, st.inRecovery, st.congWin], [1, 1, true, Math.floor(before / 2)]);
  // 1 ms later — far sooner than the 10 ms minimum RTT — everything is acknowledged: the original
  // was only delayed, so the retransmission was spurious and the reduction is undone.
  host.advance(1);
  s.handlePacket(from({ ack: 20481 }));
  st = s.stats();
  assertEquals([st.spuriousRetx, st.undos, st.inRecovery, st.congWin], [1, 1, false, before]);
});

Deno.test("stream: several losses in one window reduce the window once", () => {
  const { s, host } = withRtt(10, 1);
  s.write(new Uint8Array(8 * 4096));
  assertEquals(host.take().length, 8); // 4097 .. 32769
  const before = s.stats().congWin;
  host.advance(10);
  // Segments 1 and 4 of the flight are missing; everything else is SACKed, one ACK at a time.
  s.handlePacket(from({ ack: 4097, payload: encodeSack([{ left: 8193, right: 16385 }]) }));
  s.handlePacket(
    from({ ack: 4097, payload: encodeSack([{ left: 8193, right: 16385 }, { left: 20481, right: 36865 }]) }),
  );
  const retx = host.take().filter((p) => p.payload.length > 0).map((p) => p.seq);
  assertEquals(retx, [4097, 16385]);
  const st = s.stats();
  assertEquals([st.fastRetx, st.rackLost, st.congWin], [1, 2, Math.floor(before / 2)]);
  // The retransmissions arrive: recovery ends, without a second reduction.
  host.advance(10);
  s.handlePacket(from({ ack: 36865 }));
  assertEquals([s.stats().inRecovery, s.stats().ssthresh], [false, Math.floor(before / 2)]);
});

Deno.test("stream: a sub-MSS segment is acknowledged when its step ends (§5.3)", () => {
  const { s, host } = accepted();
  s.handlePacket(data(1, 100));
  assertEquals(host.take().map((p) => [p.ack, p.payload.length]), [[101, 0]]);
  s.handlePacket(data(101, 4096)); // a full segment still waits for a second one or the timer
  assertEquals(host.take().length, 0);
});

Deno.test("stream: a reply written while the step's events fire carries the ACK of a sub-MSS segment", () => {
  const { s, host } = accepted();
  s.onReadable = () => {
    const d = s.read();
    if (d) s.write(d);
  };
  s.handlePacket(data(1, 100));
  assertEquals(host.take().map((p) => [p.ack, p.payload.length]), [[101, 100]]);
});

Deno.test("stream: after out-of-order data the receiver acknowledges every segment for a while; duplicates at once", () => {
  const { s, host } = accepted();
  s.handlePacket(data(1, 4096));
  assertEquals(host.take().length, 0); // delayed ACK: the first of two
  s.handlePacket(data(1, 4096)); // a duplicate: the sender is retransmitting, answer now
  assertEquals(host.take().map((p) => p.ack), [4097]);
  s.handlePacket(data(8193, 4096)); // out of order
  s.handlePacket(data(4097, 4096)); // fills the gap
  assertEquals(host.take().map((p) => p.ack), [4097, 12289]);
  let seq = 12289;
  for (let i = 0; i < 16; i++, seq += 4096) s.handlePacket(data(seq, 4096));
  assertEquals(host.take().length, 16); // quick ACKs
  for (let i = 0; i < 4; i++, seq += 4096) s.handlePacket(data(seq, 4096));
  assertEquals(host.take().length, 2); // back to every second segment
});

Deno.test("stream: with a batching host, ACKs wait for the batch's end, 16 segments at most, and data carries them (§5.3)", () => {
  const { s, host } = accepted();
  const held: Stream[] = [];
  host.ackAtBatchEnd = (stream: Stream) => {
    held.push(stream);
    return true;
  };
  let seq = 1;
  for (let i = 0; i < 6; i++, seq += 4096) s.handlePacket(data(seq, 4096));
  assertEquals(host.take().length, 0);
  s.batchEnded();
  assertEquals(host.take().map((p) => [p.ack, p.payload.length]), [[seq, 0]]);
  for (let i = 0; i < 20; i++, seq += 4096) s.handlePacket(data(seq, 4096));
  assertEquals(host.take().map((p) => p.ack), [1 + 16 * 4096 + 6 * 4096]); // the 16th segment's ACK
  s.write(new Uint8Array(10)); // data before the batch ends carries the ACK
  assertEquals(host.take().map((p) => [p.ack, p.payload.length]), [[seq, 10]]);
  s.batchEnded();
  assertEquals(host.take().length, 0);
  s.handlePacket(data(seq + 4096, 4096)); // out of order: a SACK goes at once
  assertEquals(host.take().map((p) => p.payload.length > 0), [true]);
});
