/**
 * A peer's RST for an old connection must not end a new one: dials do not reuse a recently
 * closed tuple, and an RST is checked against the connection it names (RFC 5961 §3). Run in the
 * I/O-free simulator.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { Address } from "../protocol/address.ts";
import { FLAG_ACK, FLAG_RST, FLAG_SYN, PROTO_STREAM } from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from "../protocol/ports.ts";
import { CLOSED_TUPLE_HOLD_MS } from "./closed_tuples.ts";
import { CHALLENGE_ACK_BURST } from "./rst_check.ts";
import type { SessionManager } from "./manager.ts";
import type { Stream } from "./stream.ts";
import { SimNet } from "./testing/sim.ts";

const A = new Address(0, 1), B = new Address(0, 2);
const PORT = 1000;

function setup() {
  const net = new SimNet(1, { delayMs: 5 });
  const a = net.addNode(1), b = net.addNode(2);
  const wire: { pkt: Packet; from: number; at: number }[] = [];
  net.tap = (pkt, from) => wire.push({ pkt, from, at: net.now });
  const l = b.listen(PORT);
  const accepted: Stream[] = [];
  l.onConnection = () => {
    for (let s = l.accept(); s; s = l.accept()) accepted.push(s);
  };
  return { net, a, b, wire, accepted };
}

function open(net: SimNet, a: SessionManager, accepted: Stream[]): { c: Stream; s: Stream } {
  const before = accepted.length;
  const c = a.dial(B, PORT);
  assert(
    net.run(() => c.state === "ESTABLISHED" && accepted.length > before, 10_000),
    "handshake did not complete",
  );
  return { c, s: accepted[accepted.length - 1] };
}

/** A packet from B's port 1000 to `c`'s local port, as the peer would send it. */
function fromPeer(c: Stream, p: Partial<Packet>): Packet {
  return {
    version: 1,
    flags: FLAG_RST,
    protocol: PROTO_STREAM,
    src: B,
    dst: A,
    srcPort: PORT,
    dstPort: c.localPort,
    seq: 0,
    ack: 0,
    window: 0,
    payload: new Uint8Array(0),
    ...p,
  };
}

Deno.test("stale reset: the peer's retransmission-limit RST for a connection we forgot does not kill a new one", () => {
  const { net, a, wire, accepted } = setup();
  const { c: old, s: peerOld } = open(net, a, accepted);
  const oldPort = old.localPort;
  // We drop the connection and our RST is lost: the peer keeps it and retransmits data into the void.
  net.link.filter = (pkt) => pkt.src.node === 1 && (pkt.flags & FLAG_RST) !== 0;
  old.abort();
  net.link.filter = undefined;
  peerOld.write(new Uint8Array(2000));
  // The allocator comes round to the old port again (a busy node, or a long run).
  comeRoundTo(a, oldPort);
  const fresh = a.dial(B, PORT);
  assert(net.run(() => fresh.state === "ESTABLISHED", 10_000), "handshake did not complete");
  let reason: string | undefined;
  fresh.onClose = (r) => reason = r;
  // The peer gives up on the old connection and resets it from its 4-tuple, Seq 0 / Ack 0.
  assert(net.run(() => peerOld.state === "CLOSED", 120_000), "the peer's old connection never hit its limit");
  assertEquals(peerOld.closeReason, "timeout");
  const rst = wire.find((e) => e.from === 2 && (e.pkt.flags & FLAG_RST) !== 0)!;
  assertEquals([rst.pkt.dstPort, rst.pkt.seq, rst.pkt.ack], [oldPort, 0, 0]); // the reference's shape
  net.advance(1_000);
  assertEquals(fresh.state, "ESTABLISHED", `new connection ended: ${reason}`);
  assert(
    fresh.localPort !== oldPort,
    `the new dial reused port ${oldPort} while the peer still sends for it`,
  );
});

Deno.test("stale reset: a dial skips a tuple closed within the hold time, and reuses it after", () => {
  const { net, a, accepted } = setup();
  const { c } = open(net, a, accepted);
  const port = c.localPort;
  c.close();
  assert(net.run(() => [...a.connections()].length === 0, 60_000), "connection never left TIME_WAIT");
  comeRoundTo(a, port);
  assertEquals(a.allocatePort(), port, "ports not dialed from are not held back");
  comeRoundTo(a, port);
  const d = a.dial(B, PORT);
  assert(d.localPort !== port, "the dial took the recently closed tuple");
  d.abort();
  comeRoundTo(a, port);
  assertEquals(a.allocatePort({ node: 2, port: 9 }), port, "another peer port makes another tuple");
  net.advance(CLOSED_TUPLE_HOLD_MS);
  comeRoundTo(a, port);
  assertEquals(a.allocatePort({ node: 2, port: PORT }), port, "the hold ended");
});

/** Allocates ports until the next sequential one is `port` (the port before it must be free). */
function comeRoundTo(m: SessionManager, port: number): void {
  const before = port === EPHEMERAL_PORT_MIN ? EPHEMERAL_PORT_MAX : port - 1;
  for (let i = 0; i <= EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN; i++) if (m.allocatePort() === before) return;
  throw new Error(`allocator never reached ${before}`);
}

Deno.test("stale reset: without a configured start, managers start the ephemeral range at random", () => {
  const net = new SimNet(1);
  const firsts = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const m = net.addNode(10 + i, { firstEphemeralPort: undefined });
    const p = m.allocatePort();
    assert(p >= EPHEMERAL_PORT_MIN && p <= EPHEMERAL_PORT_MAX, String(p));
    firsts.add(p);
  }
  assert(firsts.size > 1, "every manager started at the same port, as a restarted daemon would");
});

Deno.test("RST check: a reference-shaped RST (Seq 0, Ack 0) still resets an established connection", () => {
  const { net, a, accepted } = setup();
  const { c, s } = open(net, a, accepted);
  s.write(new TextEncoder().encode("hello"));
  assert(net.run(() => c.readableLength === 5, 1_000));
  a.onPacket(fromPeer(c, {}));
  assertEquals([c.state, c.closeReason], ["CLOSED", "reset"]);
});

Deno.test("RST check: exact Seq resets; in-window Seq gets a rate-limited challenge ACK; out of window is ignored", () => {
  const { net, a, wire, accepted } = setup();
  const { c, s } = open(net, a, accepted);
  s.write(new TextEncoder().encode("hello"));
  assert(net.run(() => c.readableLength === 5, 1_000));
  net.advance(200); // our ACK has gone
  const rcvNxt = 1 + 5; // ISN 0, the SYN takes one, then five bytes
  const ours = () => wire.filter((e) => e.from === 1 && e.at === net.now);

  wire.length = 0;
  a.onPacket(fromPeer(c, { seq: rcvNxt + 1_000_000_000 }));
  a.onPacket(fromPeer(c, { seq: rcvNxt - 10, ack: 1 }));
  assertEquals(c.state, "ESTABLISHED");
  assertEquals(a.counters.rstIgnored, 2);
  assertEquals(wire.length, 0, "an out-of-window RST is answered");

  a.onPacket(fromPeer(c, { seq: rcvNxt + 100, ack: 1 }));
  assertEquals(c.state, "ESTABLISHED");
  assertEquals(a.counters.rstChallenged, 1);
  const challenge = ours();
  assertEquals(challenge.length, 1);
  assertEquals([challenge[0].pkt.flags, challenge[0].pkt.seq, challenge[0].pkt.ack], [FLAG_ACK, 1, rcvNxt]);

  for (let i = 0; i < 3 * CHALLENGE_ACK_BURST; i++) {
    a.onPacket(fromPeer(c, { seq: rcvNxt + 100 + i, ack: 1 }));
  }
  assertEquals(a.counters.rstChallenged, CHALLENGE_ACK_BURST);
  assertEquals(a.counters.rstChallengeLimited, 3 * CHALLENGE_ACK_BURST - (CHALLENGE_ACK_BURST - 1));
  assertEquals(c.state, "ESTABLISHED");

  a.onPacket(fromPeer(c, { seq: rcvNxt, ack: 1 }));
  assertEquals([c.state, c.closeReason], ["CLOSED", "reset"]);
});

Deno.test("RST check: in SYN_SENT an RST must acknowledge our SYN (or be reference-shaped)", () => {
  const { net, a } = setup();
  net.link.filter = (pkt) => (pkt.flags & FLAG_SYN) !== 0; // the SYN never arrives
  const c = a.dial(B, PORT);
  net.advance(10);
  a.onPacket(fromPeer(c, { seq: 0, ack: 7 }));
  a.onPacket(fromPeer(c, { seq: 55, ack: 0 }));
  assertEquals(c.state, "SYN_SENT");
  assertEquals(a.counters.rstIgnored, 2);
  a.onPacket(fromPeer(c, { seq: 0, ack: 1 })); // ISN 0: the SYN's answer acknowledges 1
  assertEquals([c.state, c.closeReason], ["CLOSED", "refused"]);

  const d = a.dial(B, PORT);
  net.advance(10);
  a.onPacket(fromPeer(d, {})); // what the reference sends for a SYN to an unbound port
  assertEquals([d.state, d.closeReason], ["CLOSED", "refused"]);
});
