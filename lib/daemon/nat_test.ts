/**
 * NatTraversal over real UDP on 127.0.0.1: discovery against a scripted beacon (public, private
 * and missing answers, a changed endpoint re-registered), the dial strategy (punch on the first
 * SYN timeouts, relay on the 3rd) and probes that bring relayed peers back to the direct path,
 * with real tunnels and a real beacon. Plus the address classification.
 */
import dgram from "node:dgram";
import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { packet, payloadText } from "../../tests/helpers/packets.ts";
import { until as untilWithin } from "../../tests/helpers/wait.ts";
import { BeaconServer } from "../beacon/server.ts";
import { decodeBeaconMessage, encodeBeaconMessage } from "../beacon/messages.ts";
import { generateEd25519KeyPair } from "../crypto/ed25519.ts";
import { Logger } from "../log.ts";
import type { HostPort } from "../tunnel/endpoint.ts";
import { Tunnel } from "../tunnel/tunnel.ts";
import { PROTO_CONTROL } from "../protocol/header.ts";
import { PORT_PING } from "../protocol/ports.ts";
import { pongFor } from "../transport/ping.ts";
import { type NatHost, NatTraversal } from "./nat.ts";
import { parseProof, seedSigner } from "../beacon/proof.ts";
import { isPublicCandidate } from "./nat_endpoint.ts";

const LOOPBACK = "127.0.0.1";
const QUIET = new Logger("nat-test", "silent");

/** This file's waits involve beacon round trips and NAT timers: 5 s before giving up by default. */
const until = (what: string, cond: () => boolean, ms = 5000) => untilWithin(what, cond, ms);

/** A beacon stand-in that answers each Discover with whatever `answer` returns (or nothing). */
async function scriptedBeacon(answer: () => { ip: string; port: number } | undefined) {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, LOOPBACK, () => r()));
  const seen: number[] = [];
  socket.on("message", (msg: Uint8Array, rinfo) => {
    const m = decodeBeaconMessage(new Uint8Array(msg));
    if (m.kind !== "Discover") return;
    seen.push(m.node);
    const a = answer();
    if (a) socket.send(encodeBeaconMessage({ kind: "DiscoverReply", ...a }), rinfo.port, rinfo.address);
  });
  return {
    addr: { host: LOOPBACK, port: socket.address().port },
    seen,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

/** Identity seeds of the tunnels opened last, by node ID, so each NatHost signs as its node. */
const SEEDS = new Map<number, Uint8Array>();

/** The NatHost of node `id`: our daemons sign their Discover and PunchRequest (docs/compat.md). */
function host(id: number): NatHost {
  return { nodeId: () => id, reregister: () => Promise.resolve(), sign: seedSigner(SEEDS.get(id)!) };
}

async function openTunnel(nodeId: number, keys: Map<number, Uint8Array>, beacon: HostPort): Promise<Tunnel> {
  const kp = generateEd25519KeyPair();
  keys.set(nodeId, kp.publicKey);
  SEEDS.set(nodeId, kp.seed);
  return await Tunnel.open({
    listen: { host: LOOPBACK, port: 0 },
    nodeId,
    encrypt: true,
    identity: { seed: kp.seed, publicKey: kp.publicKey },
    resolvePeerKey: (node) => Promise.resolve(keys.get(node)),
    beacon,
    keyExchangeRetryMs: 40,
    log: QUIET,
  });
}

const text = (hp: HostPort) => `${hp.host}:${hp.port}`;

Deno.test("nat: address classification keeps public and documentation ranges, drops private and local ones", () => {
  for (
    const ip of ["203.0.113.7", "198.51.100.1", "192.0.2.9", "8.8.8.8", "2001:db8::1", "::ffff:203.0.113.7"]
  ) {
    assert(isPublicCandidate(ip), ip);
  }
  for (
    const ip of [
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "127.0.0.1",
      "169.254.1.1",
      "0.0.0.0",
      "224.0.0.1",
      "::",
      "::1",
      "fd00::1",
      "fe80::1",
      "ff02::1",
      "::ffff:10.0.0.1",
      "not an ip",
      "",
    ]
  ) {
    assert(!isPublicCandidate(ip), ip);
  }
  // Never throws, whatever the text.
  fc.assert(fc.property(fc.string(), (s) => typeof isPublicCandidate(s) === "boolean"));
});

Deno.test("nat: discovery registers a public answer, ignores a private one, survives silence, and honours --endpoint", async () => {
  let reply: { ip: string; port: number } | undefined = { ip: "203.0.113.7", port: 40001 };
  const beacon = await scriptedBeacon(() => reply);
  const keys = new Map<number, Uint8Array>();
  const tunnel = await openTunnel(1, keys, beacon.addr);
  try {
    const opts = { beacon: text(beacon.addr), discoverAttempts: 2, discoverRetryMs: 100 };
    const nat = new NatTraversal(tunnel, opts, QUIET);
    assertEquals(await nat.discover(), "203.0.113.7:40001");
    assertEquals(nat.info().endpoint_source, "discovered");
    assertEquals(beacon.seen[0], 0, "the start-up probe is anonymous");
    nat.close();

    reply = { ip: "192.168.1.20", port: 40002 };
    const lan = new NatTraversal(tunnel, opts, QUIET);
    assertEquals(await lan.discover(), undefined);
    assertEquals(lan.info().endpoint_source, "local");
    lan.close();

    reply = undefined;
    const before = beacon.seen.length;
    const silent = new NatTraversal(tunnel, opts, QUIET);
    assertEquals(await silent.discover(), undefined);
    assertEquals(beacon.seen.length - before, 2, "one Discover per attempt");
    silent.close();

    const fixed = new NatTraversal(tunnel, { ...opts, endpoint: "198.51.100.9:4000" }, QUIET);
    const sent = beacon.seen.length;
    assertEquals(await fixed.discover(), "198.51.100.9:4000");
    assertEquals(fixed.info().endpoint_source, "override");
    assertEquals(beacon.seen.length, sent, "no discovery with a fixed endpoint");
    fixed.close();
  } finally {
    await tunnel.close();
    await beacon.close();
  }
});

Deno.test("nat: keepalives refresh the beacon with our node ID and a changed public endpoint is registered again", async () => {
  let port = 40001;
  const beacon = await scriptedBeacon(() => ({ ip: "203.0.113.7", port }));
  const keys = new Map<number, Uint8Array>();
  const tunnel = await openTunnel(9, keys, beacon.addr);
  const nat = new NatTraversal(tunnel, { beacon: text(beacon.addr), keepaliveMs: 40 }, QUIET);
  try {
    assertEquals(await nat.discover(), "203.0.113.7:40001");
    let registrations = 0;
    nat.start({ nodeId: () => 9, reregister: () => Promise.resolve(void registrations++) });
    await until("keepalives with our id", () => beacon.seen.filter((n) => n === 9).length >= 3);
    assertEquals(registrations, 0, "an unchanged endpoint is not registered again");
    port = 40777; // the NAT rebound the mapping
    await until("re-registered", () => registrations === 1);
    assertEquals(nat.advertised(), "203.0.113.7:40777");
    assertEquals(nat.counters.endpointChanges, 1);
    await new Promise((r) => setTimeout(r, 150));
    assertEquals(registrations, 1, "registered once per change");
  } finally {
    nat.close();
    await tunnel.close();
    await beacon.close();
  }
});

Deno.test("nat: dial strategy punches on the first SYN timeouts and relays after the 3rd; the dial then completes through the beacon", async () => {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const keys = new Map<number, Uint8Array>();
  const a = await openTunnel(1, keys, beaconAddr);
  const b = await openTunnel(2, keys, beaconAddr);
  const natA = new NatTraversal(a, { beacon: text(beaconAddr), probeTickMs: 3_600_000 }, QUIET);
  const natB = new NatTraversal(b, { beacon: text(beaconAddr), probeTickMs: 3_600_000 }, QUIET);
  const got: string[] = [];
  b.onPacket = (p) => got.push(payloadText(p));
  try {
    natA.start(host(1));
    natB.start(host(2));
    await until(
      "beacon knows both",
      () => beacon.endpointOf(1) !== undefined && beacon.endpointOf(2) !== undefined,
    );
    // B's registered endpoint is unreachable (port 9) and, as behind a NAT that drops them, B's
    // punches never reach A: the direct tries go nowhere.
    a.onPunchFrame = () => {};
    a.addPeer(2, { host: LOOPBACK, port: 9 });
    a.send(2, packet(1, 2, "syn"));
    natA.onSynTimeout(2, 1);
    natA.onSynTimeout(2, 2);
    assertEquals(natA.counters.punchRequests, 2);
    await until("both sides punched", () => a.stats().punchCommands === 2 && b.stats().punchCommands === 2);
    assertEquals(a.peer(2)?.path, "direct");
    natA.onSynTimeout(2, 3);
    assertEquals(natA.counters.relayFallbacks, 1);
    assertEquals(a.peer(2)?.path, "relay");
    await until("delivered through the relay", () => got.includes("syn"));
    natA.onSynTimeout(2, 4); // later timeouts on a relayed peer change nothing
    assertEquals(natA.counters.punchRequests, 2);
    const families = natA.metrics().map((f) => f.name);
    assert(families.includes("pilot_peer_paths") && families.includes("pilot_nat_events_total"));
    assertEquals(natA.info().paths.relay, 1);
  } finally {
    natA.close();
    natB.close();
    await a.close();
    await b.close();
    await beacon.close();
  }
});

Deno.test("nat: a PILP from the peer we asked to punch leads to a direct key exchange at its real source; keepalives hold the hole", async () => {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const keys = new Map<number, Uint8Array>();
  const a = await openTunnel(1, keys, beaconAddr);
  const b = await openTunnel(2, keys, beaconAddr);
  const natA = new NatTraversal(
    a,
    { beacon: text(beaconAddr), probeTickMs: 3_600_000, keepaliveMs: 100 },
    QUIET,
  );
  const natB = new NatTraversal(b, { beacon: text(beaconAddr), probeTickMs: 3_600_000 }, QUIET);
  const got: string[] = [];
  b.onPacket = (p) => {
    // As every node's session layer does: a port-0 ping is answered (A's path probe).
    if (p.protocol === PROTO_CONTROL && p.dstPort === PORT_PING) b.send(1, pongFor(p, p.dst));
    else got.push(payloadText(p));
  };
  try {
    natA.start(host(1));
    natB.start(host(2));
    await until(
      "beacon knows both",
      () => beacon.endpointOf(1) !== undefined && beacon.endpointOf(2) !== undefined,
    );
    a.addPeer(2, { host: LOOPBACK, port: 9 }); // a stale endpoint from the registry
    a.send(2, packet(1, 2, "syn"));
    natA.onSynTimeout(2, 1);
    // The first copy went to the stale endpoint; a resend (the SYN timer's job) takes the proven path.
    await untilWithin(
      "delivered directly",
      () => {
        if (a.peer(2)?.endpoint !== `${LOOPBACK}:9`) a.send(2, packet(1, 2, "syn"));
        return got.includes("syn");
      },
      5_000,
      100,
    );
    assert(natA.counters.hints >= 1);
    assertEquals(a.peer(2)?.path, "punched");
    assertEquals(a.peer(2)?.endpoint, `${LOOPBACK}:${b.localAddress().port}`);
    assertEquals(beacon.metrics().relayedPackets, 0);
    // The punched path is kept open: every keepalive sends it a PILP.
    const punches = b.stats().punchesReceived;
    const keepalives = natA.counters.keepalives;
    await until("keepalive PILPs", () => b.stats().punchesReceived >= punches + 2, 3000);
    assert(natA.counters.keepalives >= keepalives + 2);
  } finally {
    natA.close();
    natB.close();
    await a.close();
    await b.close();
    await beacon.close();
  }
});

Deno.test("nat: relayed peers are probed and return to the direct path once it works; forced relay never probes", async () => {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const keys = new Map<number, Uint8Array>();
  const a = await openTunnel(1, keys, beaconAddr);
  const b = await openTunnel(2, keys, beaconAddr);
  const fast = { beacon: text(beaconAddr), probeTickMs: 20, probeInitialMs: 20, keepaliveMs: 200 };
  const natA = new NatTraversal(a, fast, QUIET);
  const natB = new NatTraversal(b, fast, QUIET);
  const got: string[] = [];
  b.onPacket = (p) => got.push(payloadText(p));
  a.onPacket = (p) => got.push(payloadText(p));
  try {
    natA.start(host(1));
    natB.start(host(2));
    await until(
      "beacon knows both",
      () => beacon.endpointOf(1) !== undefined && beacon.endpointOf(2) !== undefined,
    );
    // With no peer relayed the probe tick stops, so an idle daemon is not woken for it.
    await until("no probe tick without relayed peers", () => !natA.probing && !natB.probing);
    // Keyed through the relay, as after a failed direct dial.
    a.setRelay(2, true);
    assert(natA.probing, "putting a peer on the relay starts the probe tick");
    a.send(2, packet(1, 2, "relayed"));
    await until("relayed delivery", () => got.includes("relayed"));
    b.send(1, packet(2, 1, "relayed back"));
    await until("relayed reply", () => got.includes("relayed back"));
    // The loopback path works, so the probes (and the punches they trigger) take both off the relay.
    await until("both direct", () => a.peer(2)?.path !== "relay" && b.peer(1)?.path !== "relay");
    assert(natA.counters.probes + natB.counters.probes >= 1);
    await until("the probe ticks stop once no peer is relayed", () => !natA.probing && !natB.probing);
    assertEquals(a.peer(2)?.path, "punched");
    const relayed = beacon.metrics().relayedPackets;
    a.send(2, packet(1, 2, "direct"));
    await until("direct delivery", () => got.includes("direct"));
    assertEquals(beacon.metrics().relayedPackets, relayed);
  } finally {
    natA.close();
    natB.close();
    await a.close();
    await b.close();
    await beacon.close();
  }

  const beacon2 = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const addr2 = await beacon2.start();
  const c = await openTunnel(3, keys, addr2);
  const natC = new NatTraversal(c, { ...fast, beacon: text(addr2), forceRelay: true }, QUIET);
  try {
    natC.start(host(3));
    natC.beforeDial(4);
    assertEquals(c.peer(4)?.path, "relay");
    natC.onSynTimeout(4, 1);
    assertEquals(natC.counters.punchRequests, 0);
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(natC.counters.probes, 0);
    assertEquals(natC.probing, false);
  } finally {
    natC.close();
    await c.close();
    await beacon2.close();
  }
});

Deno.test("nat: a PunchCommand is obeyed only with our echo token (or toward a known peer); a forged one sends no PILP", async () => {
  // The beacon is a test socket, so it can send commands the daemon must judge.
  const beacon = dgram.createSocket("udp4");
  await new Promise<void>((r) => beacon.bind(0, LOOPBACK, () => r()));
  const victim = dgram.createSocket("udp4");
  await new Promise<void>((r) => victim.bind(0, LOOPBACK, () => r()));
  let pilps = 0;
  victim.on("message", () => pilps++);
  let discover: Uint8Array | undefined;
  let from = 0;
  beacon.on("message", (msg: Uint8Array, rinfo) => {
    if (msg[0] === 0x01) [discover, from] = [new Uint8Array(msg), rinfo.port];
  });
  const keys = new Map<number, Uint8Array>();
  const a = await openTunnel(1, keys, { host: LOOPBACK, port: beacon.address().port });
  const natA = new NatTraversal(a, { beacon: `${LOOPBACK}:${beacon.address().port}` }, QUIET);
  const command = (token?: Uint8Array) =>
    new Promise<void>((r) =>
      beacon.send(
        encodeBeaconMessage({ kind: "PunchCommand", ip: LOOPBACK, port: victim.address().port, token }),
        from,
        LOOPBACK,
        () => r(),
      )
    );
  try {
    natA.start(host(1));
    await until("signed Discover", () => discover !== undefined);
    const proof = parseProof(discover!);
    assert(proof.kind === "proof", "our Discover carries a proof");
    await command(); // no token, no peer there, no request of ours pending
    await command(new Uint8Array(8)); // a wrong token
    await until("refused twice", () => natA.counters.punchesRefused === 2);
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(pilps, 0, "a forged command made no PILP");
    assertEquals(a.stats().punchCommands, 0);
    await command(proof.proof.token);
    await until("3 PILP from the vouched command", () => pilps === 3);
    assertEquals(
      natA.metrics().find((f) => f.name === "pilot_nat_events_total")?.samples.find((s) =>
        s.labels?.event === "punch_refused"
      )?.value,
      2,
    );
  } finally {
    natA.close();
    await a.close();
    await new Promise<void>((r) => beacon.close(() => r()));
    await new Promise<void>((r) => victim.close(() => r()));
  }
});
