/** Session manager: SYN processing order, limits, datagrams, ping, ports. */
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { Address } from "../protocol/address.ts";
import {
  FLAG_ACK,
  FLAG_RST,
  FLAG_SYN,
  PROTO_CONTROL,
  PROTO_DATAGRAM,
  PROTO_STREAM,
} from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import {
  ACCEPT_QUEUE_CAPACITY,
  type Datagram,
  MAX_CONNECTIONS_PER_PORT,
  MAX_CONNECTIONS_TOTAL,
  PingTimeoutError,
  SessionError,
} from "./manager.ts";
import { SYN_RATE_GLOBAL, SYN_RATE_PER_SOURCE } from "./rate-limit.ts";
import type { SessionEvent } from "./session_events.ts";
import { IDLE_TIMEOUT_MS } from "./stream.ts";
import { SimNet } from "./testing/sim.ts";

const SERVER = 2;

function packet(p: Partial<Packet> & { src: Address }): Packet {
  return {
    version: 1,
    flags: 0,
    protocol: PROTO_STREAM,
    dst: new Address(0, SERVER),
    srcPort: 50000,
    dstPort: 1000,
    seq: 0,
    ack: 0,
    window: 512,
    payload: new Uint8Array(0),
    ...p,
  };
}

function syn(node: number, srcPort: number, dstPort = 1000, extra: Partial<Packet> = {}): Packet {
  return packet({ src: new Address(0, node), srcPort, dstPort, flags: FLAG_SYN, ...extra });
}

/** A server node whose outgoing packets are recorded (the sources below are not simulated nodes). */
function server(opts: Parameters<SimNet["addNode"]>[1] = {}) {
  const net = new SimNet(1, { delayMs: 1 });
  const out: Packet[] = [];
  net.tap = (pkt) => out.push(pkt);
  const m = net.addNode(SERVER, opts);
  return { net, m, out };
}

const replies = (out: Packet[], flags: number) => out.filter((p) => p.flags === flags);

Deno.test("manager: limits are the reference constants", () => {
  assertEquals([MAX_CONNECTIONS_PER_PORT, MAX_CONNECTIONS_TOTAL, ACCEPT_QUEUE_CAPACITY], [1024, 4096, 64]);
  assertEquals([SYN_RATE_GLOBAL, SYN_RATE_PER_SOURCE], [100, 10]);
});

Deno.test("manager: SYN+ACK fields (§3.1) and accept queue delivery", () => {
  const { m, out } = server();
  const l = m.listen(1000);
  let notified = 0;
  l.onConnection = () => notified++;
  m.onPacket(syn(9, 50001, 1000, { seq: 77, window: 100 }));
  const sa = replies(out, FLAG_SYN | FLAG_ACK)[0];
  assertEquals([sa.seq, sa.ack, sa.window, sa.srcPort, sa.dstPort, sa.dst.node], [
    0,
    78,
    512,
    1000,
    50001,
    9,
  ]);
  assertEquals(notified, 1);
  const s = l.accept()!;
  assertEquals([s.state, s.remoteAddr.node, s.remotePort, s.localPort], ["ESTABLISHED", 9, 50001, 1000]);
  assertEquals(s.stats().peerRecvWin, 100 * 4096);
  assertEquals(l.accept(), null);
});

Deno.test("manager: per-source SYN rate limit drops silently; the bucket refills with time", () => {
  const { net, m, out } = server();
  m.listen(1000);
  for (let i = 0; i < 25; i++) m.onPacket(syn(9, 50000 + i));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, SYN_RATE_PER_SOURCE);
  assertEquals(replies(out, FLAG_RST).length, 0);
  assertEquals(m.counters.synRateSource, 15);
  net.advance(1000);
  out.length = 0;
  for (let i = 0; i < 25; i++) m.onPacket(syn(9, 51000 + i));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 10);
});

Deno.test("manager: global SYN rate limit across sources", () => {
  const { m, out } = server();
  const l = m.listen(1000);
  l.onConnection = () => l.accept();
  for (let node = 100; node < 250; node++) m.onPacket(syn(node, 50000));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, SYN_RATE_GLOBAL);
  assertEquals(m.counters.synRateGlobal, 50);
  assertEquals(replies(out, FLAG_RST).length, 0);
});

Deno.test("manager: per-port and total connection limits answer RST", () => {
  const { m, out } = server({ maxConnectionsPerPort: 3, maxConnectionsTotal: 5, synRatePerSource: 1000 });
  m.listen(1000);
  m.listen(2000);
  for (let i = 0; i < 4; i++) m.onPacket(syn(9, 50000 + i, 1000));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 3);
  assertEquals(replies(out, FLAG_RST).length, 1);
  assertEquals(m.counters.rstPortLimit, 1);
  for (let i = 0; i < 3; i++) m.onPacket(syn(9, 51000 + i, 2000));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 5);
  assertEquals(m.counters.rstTotalLimit, 1);
  assertEquals(m.liveConnections, 5);
  // A connection that leaves frees its slot.
  [...m.connections()][0].abort();
  m.onPacket(syn(9, 52000, 2000));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 6);
});

Deno.test("manager: a full accept queue sends SYN+ACK then RST and forgets the connection", () => {
  const { m, out } = server({ synRatePerSource: 1000 });
  const l = m.listen(1000);
  for (let i = 0; i <= ACCEPT_QUEUE_CAPACITY; i++) m.onPacket(syn(9, 50000 + i));
  assertEquals(l.pending, ACCEPT_QUEUE_CAPACITY);
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, ACCEPT_QUEUE_CAPACITY + 1);
  const rst = replies(out, FLAG_RST);
  assertEquals(rst.length, 1);
  assertEquals([rst[0].srcPort, rst[0].dstPort], [1000, 50000 + ACCEPT_QUEUE_CAPACITY]);
  assertEquals(m.counters.rstAcceptQueueFull, 1);
  assertEquals(m.liveConnections, ACCEPT_QUEUE_CAPACITY);
});

Deno.test("manager: SYN processing order — no listener RST beats trust; untrusted is silent", () => {
  const { m, out } = server({ trustGate: (a) => a.node === 7 });
  m.onPacket(syn(9, 50000, 1000)); // no listener → RST even for an untrusted source
  assertEquals(replies(out, FLAG_RST).length, 1);
  m.listen(1000);
  m.onPacket(syn(9, 50001));
  assertEquals(out.length, 1);
  assertEquals(m.counters.synUntrusted, 1);
  m.onPacket(syn(7, 50001));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 1);
});

Deno.test("manager: an asynchronous trust gate admits the SYN when it resolves; retransmits meanwhile are dropped", async () => {
  const decisions: ((ok: boolean) => void)[] = [];
  const { m, out } = server({
    trustGate: () => new Promise<boolean>((r) => decisions.push(r)),
  });
  const l = m.listen(1000);
  m.onPacket(syn(9, 50000));
  m.onPacket(syn(9, 50000)); // retransmitted while pending
  m.onPacket(syn(8, 50000));
  assertEquals(decisions.length, 2);
  decisions[0](true);
  decisions[1](false);
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 1);
  assertEquals(l.pending, 1);
  assertEquals(m.counters.synUntrusted, 1);
});

Deno.test("manager: retransmitted SYN for an existing connection gets the SYN+ACK again", () => {
  const { m, out } = server();
  m.listen(1000);
  m.onPacket(syn(9, 50000));
  m.onPacket(syn(9, 50000));
  const sa = replies(out, FLAG_SYN | FLAG_ACK);
  assertEquals(sa.length, 2);
  assertEquals([sa[1].seq, sa[1].ack], [0, 1]);
  assertEquals(m.liveConnections, 1);
});

Deno.test("manager: unsupported version — SYN gets a version-1 RST, other packets are dropped", () => {
  const { m, out } = server();
  m.listen(1000);
  m.onPacket(syn(9, 50000, 1000, { version: 2 }));
  const rst = replies(out, FLAG_RST);
  assertEquals(rst.length, 1);
  assertEquals(rst[0].version, 1);
  m.onPacket(packet({ src: new Address(0, 9), flags: FLAG_ACK, version: 2 }));
  assertEquals(out.length, 1);
  assertEquals(m.counters.badVersion, 2);
});

Deno.test("manager: packets for unknown connections and unknown protocols are dropped silently", () => {
  const { m, out } = server();
  m.listen(1000);
  m.onPacket(packet({ src: new Address(0, 9), flags: FLAG_ACK, payload: new Uint8Array(5) }));
  m.onPacket(packet({ src: new Address(0, 9), flags: FLAG_RST }));
  m.onPacket(packet({ src: new Address(0, 9), flags: FLAG_SYN | FLAG_ACK }));
  m.onPacket(packet({ src: new Address(0, 9), protocol: 9 }));
  assertEquals(out.length, 0);
  assertEquals([m.counters.unmatched, m.counters.unknownProtocol], [3, 1]);
});

Deno.test("manager: a SYN for a 4-tuple in TIME_WAIT starts a new connection", () => {
  const { m, out } = server();
  const l = m.listen(1000);
  m.onPacket(syn(9, 50000));
  const first = l.accept()!;
  m.onPacket(packet({ src: new Address(0, 9), srcPort: 50000, flags: 4, /* FIN */ seq: 1 }));
  assertEquals(first.state, "TIME_WAIT");
  m.onPacket(syn(9, 50000));
  assertEquals(first.state, "CLOSED");
  const second = l.accept()!;
  assert(second !== first && second.state === "ESTABLISHED");
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 2);
});

Deno.test("manager: ephemeral ports are sequential from 49152, skip ports in use, and wrap", () => {
  const net = new SimNet(1);
  const m = net.addNode(1);
  const far = new Address(0, 99);
  const a = m.dial(far, 80);
  assertEquals(a.localPort, 49152);
  m.listen(49153);
  const sock = m.bindDatagram(49154);
  assertEquals(m.dial(far, 80).localPort, 49155);
  assertEquals(sock.port, 49154);
  for (let p = 49156; p <= 65535; p++) m.allocatePort();
  assertEquals(m.dial(far, 81).localPort, 49156); // wrapped: 49152–49155 are still in use
  assertThrows(() => m.listen(49153), SessionError, /already bound/);
  assertThrows(() => m.dial(far, 80, { localPort: 49152 }), SessionError, /already exists/);
  assertThrows(() => m.listen(70000), SessionError);
});

Deno.test("manager: datagrams reach a bound socket or the catch-all handler, bounded", () => {
  const net = new SimNet(1, { delayMs: 2 });
  const a = net.addNode(1), b = net.addNode(2);
  const sock = b.bindDatagram(5000, 3);
  const other: Datagram[] = [];
  b.onDatagram = (d) => other.push(d);
  const wire: Packet[] = [];
  net.tap = (p) => wire.push(p);
  for (let i = 0; i < 5; i++) a.sendTo(new Address(0, 2), 5000, new Uint8Array([i]));
  a.sendTo(new Address(0, 2), 6000, new Uint8Array([9]));
  a.sendTo(new Address(0, 2), 6000, new Uint8Array(0)); // empty: dropped by the receiver
  net.advance(10);
  assertEquals(sock.pending, 3);
  assertEquals(sock.dropped, 2);
  const d = sock.recvFrom()!;
  assertEquals([d.src.node, d.dstPort, [...d.data]], [1, 5000, [0]]);
  assertEquals(other.length, 1);
  assertEquals(other[0].dstPort, 6000);
  assertEquals(b.counters.datagramDropped, 1);
  // Wire format: flags 0, seq/ack/window 0, a fresh ephemeral source port per send.
  assert(wire.every((p) => p.protocol === PROTO_DATAGRAM && p.flags === 0 && p.seq === 0 && p.window === 0));
  assertEquals(new Set(wire.map((p) => p.srcPort)).size, wire.length);
  // A socket sends from its own port.
  const back = a.bindDatagram(7000);
  sock.sendTo(new Address(0, 1), 7000, new Uint8Array([1, 2]));
  net.advance(10);
  assertEquals(back.recvFrom()!.srcPort, 5000);
  assertThrows(() => a.sendTo(new Address(5, 0xffffffff), 1, new Uint8Array(1)), SessionError, /broadcast/);
  assertThrows(() => a.sendTo(new Address(0, 2), 1, new Uint8Array(70_000)), SessionError);
  sock.close();
  assertThrows(() => sock.sendTo(new Address(0, 1), 1, new Uint8Array(1)), SessionError);
});

Deno.test("manager: the trust gate also filters datagrams", () => {
  const net = new SimNet(1);
  const a = net.addNode(1), b = net.addNode(2, { trustGate: () => false });
  const got: Datagram[] = [];
  b.onDatagram = (d) => got.push(d);
  a.sendTo(new Address(0, 2), 1, new Uint8Array(1));
  net.advance(10);
  assertEquals(got.length, 0);
  assertEquals(b.counters.datagramUntrusted, 1);
});

Deno.test("manager: ping measures the RTT; the pong follows docs/protocol/wire.md §7", async () => {
  const net = new SimNet(1, { delayMs: 7 });
  const a = net.addNode(1), b = net.addNode(2, { trustGate: () => false }); // pings are not gated
  const wire: Packet[] = [];
  net.tap = (p) => wire.push(p);
  const p = a.ping(new Address(0, 2), { payload: new Uint8Array([1, 2, 3]) });
  net.advance(100);
  const r = await p;
  assertEquals(r, { rttMs: 14, bytes: 3 });
  const [req, pong] = wire;
  assertEquals([req.protocol, req.flags, req.dstPort], [PROTO_CONTROL, 0, 0]);
  assert(req.srcPort >= 49152);
  assertEquals([pong.flags, pong.srcPort, pong.dstPort, pong.seq, pong.ack, pong.window], [
    FLAG_ACK,
    0,
    req.srcPort,
    req.seq,
    req.seq + 1,
    0,
  ]);
  assertEquals([...pong.payload], [1, 2, 3]);
  assertEquals(b.counters.pingsAnswered, 1);
});

Deno.test("manager: a peer's RTT comes from its open connections, else the last ping or closed one", async () => {
  const net = new SimNet(1, { delayMs: 7 });
  const a = net.addNode(1), b = net.addNode(2), c = net.addNode(3);
  assertEquals(a.peerRtt(2), undefined);
  const p = a.ping(new Address(0, 2));
  net.advance(100);
  await p;
  assertEquals(a.peerRtt(2), 14);
  // Node 3 was never pinged: its RTT comes from a connection, and stays once the connection is gone.
  const l = c.listen(1000);
  l.onConnection = () => l.accept();
  const conn = a.dial(new Address(0, 3), 1000);
  net.advance(50);
  conn.write(new Uint8Array(100));
  net.advance(100);
  const live = conn.smoothedRttMs;
  assert(live !== undefined, "the connection has an RTT sample");
  assertEquals(a.peerRtt(3), live);
  conn.abort();
  net.advance(10);
  assertEquals(a.liveConnections, 0);
  assertEquals(a.peerRtt(3), live);
  assertEquals(b.peerRtt(1), undefined); // answering a ping measures nothing
});

Deno.test("manager: a ping nobody answers times out; a pong is never answered", async () => {
  const net = new SimNet(1);
  const a = net.addNode(1);
  const b = net.addNode(2);
  const p = a.ping(new Address(0, 3), { timeoutMs: 1000 });
  net.advance(1500);
  const err = await p.catch((e) => e);
  assert(err instanceof PingTimeoutError);
  const wire: Packet[] = [];
  net.tap = (x) => wire.push(x);
  b.onPacket(
    packet({ src: new Address(0, 1), protocol: PROTO_CONTROL, flags: FLAG_ACK, dstPort: 0, srcPort: 0 }),
  );
  b.onPacket(packet({ src: new Address(0, 1), protocol: PROTO_CONTROL, flags: 0, dstPort: 5 }));
  assertEquals(wire.length, 0);
});

Deno.test("manager: shutdown resets connections and fails pings", async () => {
  const net = new SimNet(1);
  const a = net.addNode(1), b = net.addNode(2);
  b.listen(1000);
  const c = a.dial(new Address(0, 2), 1000);
  net.advance(10);
  const p = a.ping(new Address(0, 9));
  a.shutdown();
  assertEquals(c.state, "CLOSED");
  assert((await p.catch((e) => e)) instanceof PingTimeoutError);
  net.advance(10);
  assertEquals(b.liveConnections, 0);
});

/** A compact, comparable form of a session event: kind and addressing (connections by id). */
function describe(e: SessionEvent): string {
  if ("stream" in e) {
    const st = e.stream;
    return `${e.kind} #${st.id} ${st.remoteAddr.node}:${st.remotePort}->${st.localPort}`;
  }
  return `${e.kind} ${e.src.node}:${e.srcPort}->${e.dstPort}${"scope" in e ? ` ${e.scope}` : ""}`;
}

Deno.test("manager events: refused SYNs and datagrams (sync and async gate) and rate-limited SYNs", async () => {
  const events: SessionEvent[] = [];
  let later: ((ok: boolean) => void) | undefined;
  const { m } = server({
    trustGate: (a) => a.node === 8 ? new Promise<boolean>((r) => later = r) : a.node !== 7,
  });
  m.onEvent = (e) => events.push(e);
  m.listen(1000);
  m.onPacket(syn(7, 50001));
  m.onPacket(
    packet({
      src: new Address(0, 7),
      srcPort: 40000,
      dstPort: 5555,
      protocol: PROTO_DATAGRAM,
      payload: Uint8Array.of(1),
    }),
  );
  m.onPacket(syn(8, 50002));
  later!(false);
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(events.map(describe), [
    "syn-rejected 7:50001->1000",
    "datagram-rejected 7:40000->5555",
    "syn-rejected 8:50002->1000",
  ]);
  events.length = 0;
  for (let i = 0; i < SYN_RATE_PER_SOURCE + 2; i++) m.onPacket(syn(9, 51000 + i));
  const limited = events.filter((e) => e.kind === "syn-rate-limited").map(describe);
  assertEquals(limited, [
    `syn-rate-limited 9:${51000 + SYN_RATE_PER_SOURCE}->1000 source`,
    `syn-rate-limited 9:${51001 + SYN_RATE_PER_SOURCE}->1000 source`,
  ]);
  assertEquals(events.filter((e) => e.kind === "established").length, SYN_RATE_PER_SOURCE);
});

Deno.test("manager events: accepted, then ended by the peer's FIN, an RST or the idle timeout; own closes raise none", async () => {
  const net = new SimNet(3, { delayMs: 5 });
  const a = net.addNode(1);
  const b = net.addNode(SERVER);
  const events: string[] = [];
  b.onEvent = (e) => events.push(describe(e));
  const l = b.listen(1000);
  const accepted: ReturnType<typeof l.accept>[] = [];
  l.onConnection = () => accepted.push(l.accept());
  const open = (port: number) => {
    const c = a.dial(new Address(0, SERVER), 1000, { localPort: port });
    assert(net.run(() => c.state === "ESTABLISHED" && accepted.length > 0, 10_000));
    const s = accepted.shift()!;
    return { c, s };
  };
  const settle = () => new Promise((r) => setTimeout(r, 0)); // end events are read after the state change

  const one = open(40001);
  assertEquals(events, [`syn-received #${one.s.id} 1:40001->1000`, `established #${one.s.id} 1:40001->1000`]);
  events.length = 0;
  one.c.close(); // the peer's FIN
  net.run(() => one.s.state === "TIME_WAIT", 10_000);
  await settle();
  assertEquals(events, [`fin #${one.s.id} 1:40001->1000`]);

  events.length = 0;
  const two = open(40002);
  two.c.abort(); // the peer's RST
  net.run(() => two.s.state === "CLOSED", 10_000);
  await settle();
  assertEquals(events.slice(2), [`rst #${two.s.id} 1:40002->1000`]);

  events.length = 0;
  const three = open(40003);
  net.link = { ...net.link, filter: (pkt) => pkt.src.node === 1 }; // the peer falls silent
  net.run(() => three.s.state === "TIME_WAIT", IDLE_TIMEOUT_MS + 60_000);
  await settle();
  assertEquals(events.slice(2), [`idle-timeout #${three.s.id} 1:40003->1000`]);

  events.length = 0;
  net.link = { delayMs: 5 };
  const four = open(40004);
  four.s.close(); // our own close: no end event
  net.run(() => four.s.state === "TIME_WAIT" || four.s.state === "CLOSED", 10_000);
  net.advance(15_000);
  await settle();
  assertEquals(events.slice(2), []);
});

Deno.test("manager events: an observer that throws does not break SYN handling", () => {
  const { m, out } = server({ logger: new Logger("manager-test", "silent") });
  m.onEvent = () => {
    throw new Error("observer bug");
  };
  const l = m.listen(1000);
  m.onPacket(syn(9, 50001));
  assertEquals(replies(out, FLAG_SYN | FLAG_ACK).length, 1);
  assertEquals(l.pending, 1);
});
