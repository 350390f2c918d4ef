/**
 * The tunnel's rules against a hostile network (roaming.ts, handshake.ts budgets, peer_table.ts),
 * over real UDP on loopback with a raw socket as the attacker.
 */
import dgram from "node:dgram";
import { assert, assertEquals } from "../../tests/assert.ts";
import { packet } from "../../tests/helpers/packets.ts";
import { until } from "../../tests/helpers/wait.ts";
import { BeaconServer } from "../beacon/server.ts";
import { encodeBeaconMessage } from "../beacon/messages.ts";
import { generateEd25519KeyPair } from "../crypto/ed25519.ts";
import { Logger } from "../log.ts";
import type { HostPort } from "./endpoint.ts";
import { encodeFrame, MAGIC_PILA, MAGIC_PILS } from "./frames.ts";
import { KEY_EXCHANGE_SOURCE_BURST } from "./handshake.ts";
import { PeerTable, UNPROVEN_PEER_TTL_MS } from "./peer_table.ts";
import { Tunnel } from "./tunnel.ts";

const LOOPBACK = "127.0.0.1";
const QUIET = new Logger("roaming-test", "silent");

async function openNode(nodeId: number, registry: Map<number, Uint8Array>, beacon?: HostPort) {
  const kp = generateEd25519KeyPair();
  registry.set(nodeId, kp.publicKey);
  const lookups: number[] = [];
  const tunnel = await Tunnel.open({
    listen: { host: LOOPBACK, port: 0 },
    nodeId,
    encrypt: true,
    identity: { seed: kp.seed, publicKey: kp.publicKey },
    resolvePeerKey: (node) => {
      lookups.push(node);
      return Promise.resolve(registry.get(node));
    },
    beacon,
    log: QUIET,
  });
  const got: string[] = [];
  tunnel.onPacket = (p) => got.push(new TextDecoder().decode(p.payload));
  return { tunnel, got, lookups, addr: tunnel.localAddress() };
}

/** A raw socket that records what it receives. */
async function attacker() {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, LOOPBACK, () => r()));
  const received: Uint8Array[] = [];
  socket.on("message", (m: Uint8Array) => received.push(new Uint8Array(m)));
  const send = (bytes: Uint8Array, to: HostPort) =>
    new Promise<void>((r) => socket.send(bytes, to.port, to.host, () => r()));
  const magic = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0);
  const close = () => new Promise<void>((r) => socket.close(() => r()));
  return { socket, received, send, magic, close, port: socket.address().port };
}

/** A PILS header claiming `sender` with a tag that cannot verify. */
function forgedPils(sender: number): Uint8Array {
  const out = new Uint8Array(4 + 4 + 12 + 34 + 16);
  new DataView(out.buffer).setUint32(0, MAGIC_PILS);
  new DataView(out.buffer).setUint32(4, sender);
  return out;
}

Deno.test("roaming: a replayed PILA from elsewhere moves nothing (it is answered there); a fresh PILS does", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  const evil = await attacker();
  try {
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "hello"));
    await until("delivered", () => b.got.length === 1);
    // B offers its PILA to the source of a PILS it cannot open: that is the capture.
    await evil.send(forgedPils(99), b.addr);
    await until("B's PILA", () => evil.received.some((f) => evil.magic(f) === MAGIC_PILA));
    const pila = evil.received.find((f) => evil.magic(f) === MAGIC_PILA)!;
    evil.received.length = 0;
    // Replayed every 100 ms; same-key answers are rate-limited (one a second), so it takes a while.
    await until(
      "answered at the replayer",
      async () => {
        await evil.send(pila, a.addr);
        return evil.received.some((f) => evil.magic(f) === MAGIC_PILA);
      },
      3_000,
      100,
    );
    await until("path probed once", () => a.tunnel.stats().pathProbes === 1);
    assertEquals(a.tunnel.peer(2)?.endpoint, `${LOOPBACK}:${b.addr.port}`);
    assertEquals(a.tunnel.stats().endpointChanges, 0);
    a.tunnel.send(2, packet(1, 2, "still here"));
    await until("still delivered to B", () => b.got.includes("still here"));
    assertEquals(evil.received.filter((f) => evil.magic(f) === MAGIC_PILS).length, 1, "only the probe");

    // B really moves (a new socket in front of it): its fresh PILS moves A's endpoint, counted.
    const nat = dgram.createSocket("udp4");
    await new Promise<void>((r) => nat.bind(0, LOOPBACK, () => r()));
    nat.on("message", (m: Uint8Array, rinfo) => {
      if (rinfo.port === b.addr.port) nat.send(m, a.addr.port, LOOPBACK);
      else nat.send(m, b.addr.port, LOOPBACK);
    });
    b.tunnel.setEndpoint(1, { host: LOOPBACK, port: nat.address().port });
    b.tunnel.send(1, packet(2, 1, "from the new address"));
    await until("delivered", () => a.got.includes("from the new address"));
    assertEquals(a.tunnel.peer(2)?.endpoint, `${LOOPBACK}:${nat.address().port}`);
    assertEquals(a.tunnel.stats().endpointChanges, 1);
    await new Promise<void>((r) => nat.close(() => r()));
  } finally {
    await evil.close();
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("roaming: a forged RelayDeliver creates no peer entry and switches no path", async () => {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry, beaconAddr);
  const b = await openNode(2, registry, beaconAddr);
  const evil = await attacker();
  try {
    b.tunnel.sendBeacon(encodeBeaconMessage({ kind: "Discover", node: 2 }));
    await until("discovered", () => beacon.endpointOf(2) !== undefined);
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "direct"));
    await until("delivered", () => b.got.length === 1);
    // Nothing direct from A for a while would let a real relayed frame switch B; a forged one must not.
    for (const sender of [1, 7777, 7778]) {
      await evil.send(
        encodeBeaconMessage({ kind: "Relay", sender, dest: 2, frame: forgedPils(sender) }),
        beaconAddr,
      );
    }
    await until(
      "relayed to B",
      () => b.tunnel.stats().drops["auth-failure"] + b.tunnel.stats().drops["unknown-sender"] >= 3,
    );
    assertEquals(b.tunnel.peer(1)?.path, "direct");
    assertEquals(b.tunnel.peer(7777), undefined);
    assertEquals(b.tunnel.stats().peers, 1);
  } finally {
    await evil.close();
    await a.tunnel.close();
    await b.tunnel.close();
    await beacon.close();
  }
});

Deno.test("roaming: PILK from made-up IDs is refused per source, without registry look-ups", async () => {
  const registry = new Map<number, Uint8Array>();
  const b = await openNode(2, registry);
  const evil = await attacker();
  try {
    const x25519 = new Uint8Array(32).fill(9);
    const n = 3 * KEY_EXCHANGE_SOURCE_BURST;
    for (let i = 0; i < n; i++) {
      await evil.send(encodeFrame({ kind: "PILK", sender: 1000 + i, x25519 }), b.addr);
    }
    await until("all seen", () => {
      const d = b.tunnel.stats().drops;
      return d["kx-source-limited"] + d["pilk-refused"] === n;
    });
    assert(b.tunnel.stats().drops["kx-source-limited"] >= n - KEY_EXCHANGE_SOURCE_BURST - 5);
    assertEquals(b.lookups.length, 0, "no registry look-up for a PILK that could change nothing");
    assertEquals(b.tunnel.stats().peers, 0);
  } finally {
    await evil.close();
    await b.tunnel.close();
  }
});

Deno.test("peer table: entries nothing authenticated and nobody vouched for expire; the others stay", () => {
  const evicted: number[] = [];
  const table = new PeerTable(() => {}, (p) => evicted.push(p.node));
  const stranger = table.lookup(10, true)!;
  const vouched = table.lookup(11, true)!;
  vouched.path.vouched = true;
  const proven = table.lookup(12, true)!;
  proven.session.proven = true;
  const waiting = table.lookup(13, true)!;
  waiting.pending.enqueue(new Uint8Array(34));
  table.sweep(stranger.lastHeardAt + UNPROVEN_PEER_TTL_MS - 1);
  assertEquals(table.size, 4);
  table.sweep(stranger.lastHeardAt + UNPROVEN_PEER_TTL_MS + 1);
  assertEquals(evicted, [10]);
  assertEquals(table.size, 3);
});
