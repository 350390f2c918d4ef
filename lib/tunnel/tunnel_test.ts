/**
 * Tunnel integration tests over real UDP on 127.0.0.1 with ephemeral ports. Raw node:dgram sockets
 * play the attacker (tamper, replay, garbage) and a forwarding proxy sits on the path where a test
 * needs to see or change datagrams.
 */
import dgram from "node:dgram";
import { assert, assertEquals } from "../../tests/assert.ts";
import { packet, payloadText as text } from "../../tests/helpers/packets.ts";
import { until } from "../../tests/helpers/wait.ts";
import { BeaconServer } from "../beacon/server.ts";
import { encodeBeaconMessage } from "../beacon/messages.ts";
import { LAST_COUNTER } from "../crypto/aead.ts";
import { generateEd25519KeyPair } from "../crypto/ed25519.ts";
import type { Packet } from "../protocol/packet.ts";
import { Logger } from "../log.ts";
import { Endpoint, type HostPort } from "./endpoint.ts";
import { MAGIC_PILS, MAGIC_PILT } from "./frames.ts";
import { MAX_PENDING_PER_PEER, MAX_QUEUED_PEERS } from "./peer.ts";
import { KEY_EXCHANGE_RETRY_MS, Tunnel, type TunnelOptions } from "./tunnel.ts";
import type { TunnelIdentity } from "./key_exchange.ts";
import { REPLAY_EVENT_INTERVAL_MS, type TunnelEvent } from "./events.ts";

const LOOPBACK = "127.0.0.1";
const QUIET = new Logger("tunnel-test", "silent");
const FAST_KX = { keyExchangeRetryMs: 40, keyExchangeMaxAttempts: 4 };

function newIdentity(): TunnelIdentity {
  const kp = generateEd25519KeyPair();
  return { seed: kp.seed, publicKey: kp.publicKey };
}

interface Node {
  tunnel: Tunnel;
  identity: TunnelIdentity;
  got: { packet: Packet; from: number }[];
  addr: HostPort;
}

/** Opens a tunnel for `nodeId` whose registry is `registry` (node → Ed25519 key). */
async function openNode(
  nodeId: number,
  registry: Map<number, Uint8Array>,
  extra: Omit<Partial<TunnelOptions>, "identity"> & { identity?: TunnelIdentity | null } = {},
): Promise<Node> {
  const identity = extra.identity === null ? undefined : extra.identity ?? newIdentity();
  if (identity) registry.set(nodeId, identity.publicKey);
  const { identity: _, ...rest } = extra;
  const tunnel = await Tunnel.open({
    listen: { host: LOOPBACK, port: 0 },
    nodeId,
    encrypt: true,
    resolvePeerKey: (node) => Promise.resolve(registry.get(node)),
    log: QUIET,
    ...FAST_KX,
    ...rest,
    identity,
  });
  const got: Node["got"] = [];
  tunnel.onPacket = (p, from) => got.push({ packet: p, from });
  return { tunnel, identity: identity!, got, addr: tunnel.localAddress() };
}

/** A raw UDP socket on loopback. */
async function rawSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, LOOPBACK, () => r()));
  return s;
}

function sendRaw(s: dgram.Socket, bytes: Uint8Array, to: HostPort): Promise<void> {
  return new Promise((resolve) => s.send(bytes, to.port, to.host, () => resolve()));
}

/**
 * A two-way forwarder: datagrams from anyone but `target` go to `target`, datagrams from `target`
 * go back to the last other sender. `captured` records what went towards the target.
 */
async function openProxy(target: HostPort) {
  const socket = await rawSocket();
  let client: { address: string; port: number } | undefined;
  const captured: Uint8Array[] = [];
  const state = { mutate: undefined as ((b: Uint8Array) => Uint8Array | undefined) | undefined };
  socket.on("message", (msg: Uint8Array, rinfo) => {
    if (rinfo.port === target.port) {
      if (client) socket.send(msg, client.port, client.address);
      return;
    }
    client = { address: rinfo.address, port: rinfo.port };
    const copy = new Uint8Array(msg);
    captured.push(copy);
    const out = state.mutate ? state.mutate(copy.slice()) : copy;
    if (out) socket.send(out, target.port, target.host);
  });
  const addr = { host: LOOPBACK, port: socket.address().port };
  return { socket, addr, captured, state, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

const isPils = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0) === MAGIC_PILS;

for (const aes of ["auto", "batch"] as const) {
  Deno.test(`tunnel (${aes}): PILA key exchange, then PILS both ways`, async () => {
    const registry = new Map<number, Uint8Array>();
    // The shipped retry interval: the frame count below is the handshake's own, not retries that a
    // loaded machine would trigger with the fast test interval.
    const timing = { keyExchangeRetryMs: KEY_EXCHANGE_RETRY_MS };
    const a = await openNode(1, registry, { aes, ...timing });
    const b = await openNode(2, registry, { aes, ...timing });
    try {
      a.tunnel.addPeer(2, b.addr);
      a.tunnel.send(2, packet(1, 2, "hello b"));
      await until("b receives", () => b.got.length === 1);
      assertEquals(text(b.got[0].packet), "hello b");
      assertEquals(b.got[0].from, 1);
      b.tunnel.send(1, packet(2, 1, "hello a"));
      await until("a receives", () => a.got.length === 1);
      assertEquals(text(a.got[0].packet), "hello a");
      for (const t of [a.tunnel, b.tunnel]) {
        const s = t.stats();
        assertEquals(s.authenticatedPeers, 1);
        assertEquals(s.encryptedPeers, 1);
        assert(s.framesEncrypted >= 1 && s.framesDecrypted >= 1);
        assertEquals(s.drops["auth-failure"] + s.drops.replay + s.drops["plaintext-refused"], 0);
      }
      const [row] = b.tunnel.peers();
      assertEquals(row, {
        node_id: 1,
        endpoint: `${LOOPBACK}:${a.addr.port}`,
        encrypted: true,
        authenticated: true,
        path: "direct",
        pending: 0,
      });
      // The handshake stays short: our frame on first contact and once per new key, plus at most one
      // answer each to a repeated key; nothing keeps bouncing afterwards.
      await new Promise((r) => setTimeout(r, 50));
      const kx = a.tunnel.stats().keyExchangesSent + b.tunnel.stats().keyExchangesSent;
      assert(kx <= 5, `key-exchange frames sent: ${kx}`);
      await new Promise((r) => setTimeout(r, 50));
      assertEquals(a.tunnel.stats().keyExchangesSent + b.tunnel.stats().keyExchangesSent, kx);
      // A burst keeps order and arrives whole.
      for (let i = 0; i < 200; i++) a.tunnel.send(2, packet(1, 2, `n${i}`, i));
      await until("burst", () => b.got.length === 201);
      assertEquals(b.got.slice(1).map((g) => g.packet.seq), [...Array(200).keys()]);
    } finally {
      await a.tunnel.close();
      await b.tunnel.close();
    }
  });
}

Deno.test("tunnel: node:dgram binding with synchronous AES works the same", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry, { udp: "node", aes: "sync" });
  const b = await openNode(2, registry, { udp: "node", aes: "sync" });
  try {
    assertEquals(a.tunnel.socketInfo().backend, "node");
    a.tunnel.addPeer(2, b.addr);
    for (let i = 0; i < 20; i++) a.tunnel.send(2, packet(1, 2, `m${i}`, i));
    await until("b receives", () => b.got.length === 20);
    b.tunnel.send(1, packet(2, 1, "back"));
    await until("a receives", () => a.got.length === 1);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: a PILA whose Ed25519 key differs from the registry's is refused", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  registry.set(1, newIdentity().publicKey); // the registry holds another key for node 1
  try {
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "x"));
    await until("refusal", () => b.tunnel.stats().drops["key-mismatch"] >= 1);
    await until("a gives up", () => a.tunnel.stats().drops["kx-timeout"] === 1);
    assertEquals(b.got.length, 0);
    assertEquals(b.tunnel.stats().encryptedPeers, 0);
    assertEquals(a.tunnel.stats().encryptedPeers, 0);
    // A node the registry does not know at all is refused too.
    const c = await openNode(3, registry);
    registry.delete(3);
    try {
      c.tunnel.addPeer(2, b.addr);
      c.tunnel.send(2, packet(3, 2, "y"));
      await until("unknown key", () => b.tunnel.stats().drops["unknown-key"] >= 1);
      assertEquals(b.got.length, 0);
    } finally {
      await c.tunnel.close();
    }
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: PILK is refused unless allowed, and then only unauthenticated", async () => {
  const registry = new Map<number, Uint8Array>();
  const anon = await openNode(1, registry, { identity: null }); // sends PILK
  const strict = await openNode(2, registry);
  const lenient = await openNode(3, registry, { allowPilk: true });
  try {
    anon.tunnel.addPeer(2, strict.addr);
    anon.tunnel.send(2, packet(1, 2, "x"));
    await until("refused", () => strict.tunnel.stats().drops["pilk-refused"] >= 1);
    assertEquals(strict.got.length, 0);
    assertEquals(strict.tunnel.stats().encryptedPeers, 0);

    anon.tunnel.addPeer(3, lenient.addr);
    anon.tunnel.send(3, packet(1, 3, "anon"));
    await until("accepted", () => lenient.got.length === 1);
    assertEquals(lenient.tunnel.peers()[0].authenticated, false);
    assertEquals(lenient.tunnel.peers()[0].encrypted, true);
    // The lenient side proved itself with PILA, so the anonymous side sees it authenticated.
    assertEquals(anon.tunnel.peers().find((p) => p.node_id === 3)?.authenticated, true);

    // A node with a registered key cannot fall back to PILK, even where PILK is allowed.
    registry.set(1, newIdentity().publicKey);
    const lenient2 = await openNode(4, registry, { allowPilk: true });
    try {
      anon.tunnel.addPeer(4, lenient2.addr);
      anon.tunnel.send(4, packet(1, 4, "x"));
      await until("refused", () => lenient2.tunnel.stats().drops["pilk-refused"] >= 1);
      assertEquals(lenient2.got.length, 0);
    } finally {
      await lenient2.tunnel.close();
    }
  } finally {
    await anon.tunnel.close();
    await strict.tunnel.close();
    await lenient.tunnel.close();
  }
});

Deno.test("tunnel: tampered and replayed PILS are dropped, counted, and never move the endpoint", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  const proxy = await openProxy(b.addr);
  const attacker = await rawSocket();
  try {
    a.tunnel.addPeer(2, proxy.addr);
    a.tunnel.send(2, packet(1, 2, "first"));
    await until("delivery through the proxy", () => b.got.length === 1);
    assertEquals(b.tunnel.peers()[0].endpoint, `${LOOPBACK}:${proxy.addr.port}`);

    // Flip one ciphertext bit on the path.
    proxy.state.mutate = (bytes) => {
      if (isPils(bytes)) bytes[30] ^= 0x01;
      return bytes;
    };
    a.tunnel.send(2, packet(1, 2, "tampered"));
    await until("auth failure", () => b.tunnel.stats().drops["auth-failure"] === 1);
    assertEquals(b.tunnel.stats().decryptFailures, 1);
    proxy.state.mutate = undefined;

    // Replay the first PILS byte for byte, through the proxy and from a stranger's socket.
    const firstPils = proxy.captured.find(isPils)!;
    await sendRaw(proxy.socket, firstPils, b.addr);
    await sendRaw(attacker, firstPils, b.addr);
    await until("replays dropped", () => b.tunnel.stats().drops.replay === 2);
    // A forged frame with a huge fresh counter fails authentication and must not slide the
    // replay window (else every honest frame after it would look too old).
    const forged = firstPils.slice();
    new DataView(forged.buffer).setUint32(12, 0x7fff_ffff);
    await sendRaw(attacker, forged, b.addr);
    await until("forgery dropped", () => b.tunnel.stats().drops["auth-failure"] === 2);
    // PILP from the stranger is ignored.
    await sendRaw(attacker, Uint8Array.of(0x50, 0x49, 0x4c, 0x50, 0, 0, 0, 1), b.addr);
    assertEquals(b.got.length, 1);
    assertEquals(b.tunnel.peers()[0].endpoint, `${LOOPBACK}:${proxy.addr.port}`);

    // Traffic still flows; an authenticated frame from a new address moves the endpoint (roaming).
    a.tunnel.setEndpoint(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "direct"));
    await until("direct delivery", () => b.got.length === 2);
    assertEquals(b.tunnel.peers()[0].endpoint, `${LOOPBACK}:${a.addr.port}`);
  } finally {
    attacker.close();
    await proxy.close();
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: a PILS whose inner Src.node is not the sender is dropped", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  try {
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "ok"));
    await until("delivery", () => b.got.length === 1);
    a.tunnel.send(2, packet(77, 2, "spoofed"));
    await until("spoof dropped", () => b.tunnel.stats().drops["spoofed-source"] === 1);
    assertEquals(b.got.length, 1);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: a restarted peer (new X25519 key, same identity) re-keys and traffic resumes", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  let b = await openNode(2, registry);
  try {
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "before"));
    await until("delivery", () => b.got.length === 1);
    const oldKey = b.tunnel.x25519PublicKey;
    const port = b.addr.port;
    const identity = b.identity;
    await b.tunnel.close();
    b = await openNode(2, registry, { identity, listen: { host: LOOPBACK, port } });
    assert(!b.tunnel.x25519PublicKey.every((v, i) => v === oldKey[i]));
    // A still holds the old key: its PILS is unknown to the new B, which offers its key back.
    a.tunnel.send(2, packet(1, 2, "lost"));
    await until("offer", () => b.tunnel.stats().drops["unknown-sender"] >= 1);
    await until("a re-keyed", () => a.tunnel.stats().rekeys === 1);
    await until("b keyed", () => b.tunnel.isEncrypted(1));
    a.tunnel.send(2, packet(1, 2, "after"));
    await until("delivery after restart", () => b.got.some((g) => text(g.packet) === "after"));
    b.tunnel.send(1, packet(2, 1, "reply"));
    await until("reply", () => a.got.some((g) => text(g.packet) === "reply"));
    assertEquals(a.tunnel.stats().authenticatedPeers, 1);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: a replayed PILA carrying a retired key does not switch the peer back", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const proxy = await openProxy(a.addr);
  let b = await openNode(2, registry);
  const attacker = await rawSocket();
  try {
    // B reaches A through the proxy, which records B's PILA.
    b.tunnel.addPeer(1, proxy.addr);
    b.tunnel.send(1, packet(2, 1, "one"));
    await until("delivery", () => a.got.length === 1);
    const oldPila = proxy.captured.find((d) => d[3] === 0x41)!;
    const identity = b.identity;
    await b.tunnel.close();
    b = await openNode(2, registry, { identity });
    b.tunnel.addPeer(1, a.addr);
    b.tunnel.send(1, packet(2, 1, "two"));
    await until("re-keyed", () => a.got.length === 2 && a.tunnel.stats().rekeys === 1);
    await sendRaw(attacker, oldPila, a.addr);
    await until("stale key refused", () => a.tunnel.stats().drops["stale-key"] === 1);
    b.tunnel.send(1, packet(2, 1, "three"));
    await until("still keyed", () => a.got.length === 3);
  } finally {
    attacker.close();
    await proxy.close();
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: plaintext is refused unless enabled, and never a silent fallback", async () => {
  const registry = new Map<number, Uint8Array>();
  const plain = await openNode(1, registry, { encrypt: false });
  const strict = await openNode(2, registry);
  const open = await openNode(3, registry, { allowPlaintext: true });
  try {
    plain.tunnel.addPeer(2, strict.addr);
    plain.tunnel.send(2, packet(1, 2, "clear"));
    await until("refused", () => strict.tunnel.stats().drops["plaintext-refused"] === 1);
    assertEquals(strict.got.length, 0);
    plain.tunnel.addPeer(3, open.addr);
    plain.tunnel.send(3, packet(1, 3, "clear"));
    await until("accepted", () => open.got.length === 1);

    // Encrypting towards a plaintext-only peer: key exchange is ignored, packets time out unsent.
    strict.tunnel.addPeer(1, plain.addr);
    strict.tunnel.send(1, packet(2, 1, "secret"));
    await until("timeout", () => strict.tunnel.stats().drops["kx-timeout"] === 1);
    assert(plain.tunnel.stats().drops["encryption-off"] >= 1);
    assertEquals(plain.got.length, 0);
    // With allowPlaintext the fallback is explicit and the packet goes as PILT.
    open.tunnel.addPeer(1, plain.addr);
    open.tunnel.send(1, packet(3, 1, "fallback"));
    await until("fallback", () => plain.got.length === 1);
    assertEquals(text(plain.got[0].packet), "fallback");
  } finally {
    await plain.tunnel.close();
    await strict.tunnel.close();
    await open.tunnel.close();
  }
});

Deno.test("tunnel: queues are bounded per peer and in number of peers", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry, { keyExchangeRetryMs: 60_000 });
  const hole = await rawSocket(); // never answers
  const holeAddr = { host: LOOPBACK, port: hole.address().port };
  try {
    a.tunnel.addPeer(2, holeAddr);
    for (let i = 0; i < MAX_PENDING_PER_PEER + 10; i++) a.tunnel.send(2, packet(1, 2, `q${i}`));
    let s = a.tunnel.stats();
    assertEquals(s.pendingPackets, MAX_PENDING_PER_PEER);
    assertEquals(s.drops["queue-full"], 10);
    assertEquals(a.tunnel.peers()[0].pending, MAX_PENDING_PER_PEER);
    for (let node = 3; node < 3 + MAX_QUEUED_PEERS; node++) {
      a.tunnel.setEndpoint(node, holeAddr);
      a.tunnel.send(node, packet(1, node, "q"));
    }
    s = a.tunnel.stats();
    assertEquals(s.drops["too-many-queues"], 1);
    assertEquals(s.pendingPackets, MAX_PENDING_PER_PEER + MAX_QUEUED_PEERS - 1);
    // No endpoint and no relay: nothing to queue for.
    a.tunnel.send(99999, packet(1, 99999, "x"));
    assertEquals(a.tunnel.stats().drops["no-route"], 1);
  } finally {
    hole.close();
    await a.tunnel.close();
  }
});

Deno.test("tunnel: fault injection drops about the configured fraction, deterministically by seed", async () => {
  const registry = new Map<number, Uint8Array>();
  const counts: number[] = [];
  for (let run = 0; run < 2; run++) {
    const a = await openNode(1, registry, { faults: { drop: 0.2, seed: 42 }, encrypt: false });
    const b = await openNode(2, registry, { encrypt: false });
    try {
      a.tunnel.addPeer(2, b.addr);
      const total = 2000;
      for (let i = 0; i < total; i++) {
        a.tunnel.send(2, packet(1, 2, "f", i));
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 1));
      }
      const dropped = a.tunnel.stats().drops["injected-drop"];
      await until("the rest arrives", () => b.got.length === total - dropped);
      // 2000 trials at p = 0.2: mean 400, σ ≈ 18; ±5σ.
      assert(dropped > 310 && dropped < 490, `dropped ${dropped}`);
      counts.push(dropped);
    } finally {
      await a.tunnel.close();
      await b.tunnel.close();
    }
  }
  assertEquals(counts[0], counts[1]);
});

Deno.test("tunnel: duplicated and reordered datagrams are absorbed by the replay window", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry, { faults: { duplicate: 0.2, reorder: 0.2, seed: 7 } });
  const b = await openNode(2, registry);
  try {
    a.tunnel.addPeer(2, b.addr);
    await until("keyed", () => a.tunnel.isEncrypted(2)); // else the 64-packet queue bound applies
    const total = 500;
    for (let i = 0; i < total; i++) {
      a.tunnel.send(2, packet(1, 2, "d", i));
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
    }
    await until("all unique packets", () => new Set(b.got.map((g) => g.packet.seq)).size === total);
    const s = a.tunnel.stats();
    assert(s.injectedDuplicates > 50 && s.injectedReorders > 50, JSON.stringify(s));
    assertEquals(b.got.length, total, "every duplicate must be dropped");
    assert(b.tunnel.stats().drops.replay >= 1);
    const seqs = b.got.map((g) => g.packet.seq);
    assert(seqs.some((v, i) => i > 0 && v < seqs[i - 1]), "some packets arrive out of order");
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: nonce rotation before counter exhaustion keeps traffic flowing", async () => {
  const registry = new Map<number, Uint8Array>();
  const firstCounter = LAST_COUNTER - 9n; // 10 frames per context: rotate after 5
  const a = await openNode(1, registry, { firstCounter });
  const b = await openNode(2, registry, { firstCounter });
  try {
    a.tunnel.addPeer(2, b.addr);
    for (let i = 0; i < 40; i++) {
      a.tunnel.send(2, packet(1, 2, "r", i));
      await new Promise((r) => setTimeout(r, 2));
    }
    await until("all delivered", () => b.got.length === 40);
    assert(a.tunnel.stats().rekeys >= 4, `rekeys ${a.tunnel.stats().rekeys}`);
    assertEquals(b.tunnel.stats().drops.replay + b.tunnel.stats().drops["auth-failure"], 0);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: relay through the beacon, RelayDeliver marks the sender relay, punch and beacon hooks", async () => {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry, { beacon: beaconAddr });
  const b = await openNode(2, registry, { beacon: beaconAddr });
  try {
    const replies: string[] = [];
    a.tunnel.onBeaconMessage = (m) => replies.push(m.kind);
    for (const [t, node] of [[a.tunnel, 1], [b.tunnel, 2]] as const) {
      t.sendBeacon(encodeBeaconMessage({ kind: "Discover", node }));
    }
    await until("discovered", () => beacon.endpointOf(1) !== undefined && beacon.endpointOf(2) !== undefined);
    await until("DiscoverReply surfaced", () => replies.includes("DiscoverReply"));

    a.tunnel.setRelay(2, true);
    a.tunnel.send(2, packet(1, 2, "via relay"));
    await until("relayed delivery", () => b.got.length === 1);
    assertEquals(text(b.got[0].packet), "via relay");
    assertEquals(b.tunnel.peers()[0].path, "relay");
    b.tunnel.send(1, packet(2, 1, "relay back"));
    await until("relayed reply", () => a.got.length === 1);
    assert(beacon.metrics().relayedPackets >= 4);
    assertEquals(a.tunnel.peers()[0].authenticated, true);

    // A PunchRequest makes the beacon send each side a PunchCommand; each answers with 3 PILP.
    const before = b.tunnel.stats().datagramsReceived;
    const dropsBefore = Object.values(b.tunnel.stats().drops).reduce((x, y) => x + y, 0);
    a.tunnel.sendBeacon(encodeBeaconMessage({ kind: "PunchRequest", requester: 1, target: 2 }));
    await until("command + punches", () => b.tunnel.stats().datagramsReceived >= before + 4);
    assertEquals(Object.values(b.tunnel.stats().drops).reduce((x, y) => x + y, 0), dropsBefore);
    // A beacon message from anywhere but the beacon is refused.
    const fake = await rawSocket();
    try {
      const command = encodeBeaconMessage({ kind: "PunchCommand", ip: LOOPBACK, port: 9 });
      await sendRaw(fake, command, a.addr);
      await until("refused", () => a.tunnel.stats().drops["beacon-source"] === 1);
    } finally {
      fake.close();
    }
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
    await beacon.close();
  }
});

Deno.test("tunnel: PunchCommand from the beacon sends three PILP frames carrying our node ID", async () => {
  const fakeBeacon = await rawSocket();
  const beaconAddr = { host: LOOPBACK, port: fakeBeacon.address().port };
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(5, registry, { beacon: beaconAddr });
  const target = await rawSocket();
  try {
    const pilps: Uint8Array[] = [];
    target.on("message", (m: Uint8Array) => pilps.push(new Uint8Array(m)));
    const command = encodeBeaconMessage({ kind: "PunchCommand", ip: LOOPBACK, port: target.address().port });
    await sendRaw(fakeBeacon, command, a.addr);
    await until("three punches", () => pilps.length === 3);
    for (const p of pilps) assertEquals([...p], [0x50, 0x49, 0x4c, 0x50, 0, 0, 0, 5]);
  } finally {
    target.close();
    fakeBeacon.close();
    await a.tunnel.close();
  }
});

Deno.test("tunnel: garbage datagrams are counted and never break the tunnel", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry, { beacon: { host: LOOPBACK, port: 9 } });
  const attacker = await rawSocket();
  try {
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "warm-up"));
    await until("keyed", () => b.got.length === 1);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 0x1_0000_0000;
    const prefixes = [
      [],
      [0x50, 0x49, 0x4c, 0x54],
      [0x50, 0x49, 0x4c, 0x53],
      [0x50, 0x49, 0x4c, 0x53, 0, 0, 0, 1],
      [
        0x50,
        0x49,
        0x4c,
        0x4b,
      ],
      [0x50, 0x49, 0x4c, 0x41, 0, 0, 0, 1],
      [0x50, 0x49, 0x4c, 0x50],
      [0x06, 0, 0, 0, 1],
      [0x04, 4],
      [0x02],
      [0x05],
    ];
    for (let i = 0; i < 600; i++) {
      const prefix = prefixes[i % prefixes.length];
      const body = new Uint8Array(Math.floor(rnd() * 300));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(rnd() * 256);
      const datagram = new Uint8Array(prefix.length + body.length);
      datagram.set(prefix);
      datagram.set(body, prefix.length);
      await sendRaw(attacker, datagram, b.addr);
    }
    await until("all garbage seen", () => b.tunnel.stats().datagramsReceived >= 600);
    const s = b.tunnel.stats();
    const dropped = Object.values(s.drops).reduce((x, y) => x + y, 0);
    assert(dropped >= 500, JSON.stringify(s.drops));
    assertEquals(b.got.length, 1);
    // Plaintext with a valid packet is still refused (PILT magic + real packet).
    const pilt = new Uint8Array(4 + 34);
    new DataView(pilt.buffer).setUint32(0, MAGIC_PILT);
    await sendRaw(attacker, pilt, b.addr);
    a.tunnel.send(2, packet(1, 2, "still alive"));
    await until("still works", () => b.got.length === 2);
    assertEquals(b.tunnel.peers().find((p) => p.node_id === 1)?.endpoint, `${LOOPBACK}:${a.addr.port}`);
  } finally {
    attacker.close();
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel: invalid options are refused", async () => {
  const identity = newIdentity();
  let failed = 0;
  for (
    const bad of [
      { identity: { seed: identity.seed, publicKey: newIdentity().publicKey } },
      { nodeId: -1 },
      { faults: { drop: 2 } },
    ]
  ) {
    try {
      const t = await Tunnel.open({ listen: { host: LOOPBACK, port: 0 }, encrypt: true, log: QUIET, ...bad });
      await t.close();
    } catch {
      failed++;
    }
  }
  assertEquals(failed, 3);
  assertEquals(Endpoint.of(LOOPBACK, 1).key, "127.0.0.1:1");
});

Deno.test("tunnel: bad packets, missing node ID, removed peers and a taken port fail softly", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  const late = await Tunnel.open({ listen: { host: LOOPBACK, port: 0 }, encrypt: true, log: QUIET });
  try {
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "ok"));
    await until("keyed", () => b.got.length === 1);
    a.tunnel.send(2, new Uint8Array(70_000));
    a.tunnel.send(2, new Uint8Array(10));
    a.tunnel.send(2, { ...packet(1, 2, "x"), srcPort: 70_000 });
    assertEquals(a.tunnel.stats().drops["bad-packet-out"], 3);

    late.setEndpoint(2, b.addr);
    late.send(2, packet(3, 2, "x"));
    assertEquals(late.stats().drops["no-node-id"], 1);

    // After removePeer, B has no key for A: A's next PILS is unknown there and B offers its key —
    // unless a late retry of A's key exchange from the first dial reaches B first and re-keys it.
    const acceptedBefore = b.tunnel.stats().keyExchangesAccepted;
    b.tunnel.removePeer(1);
    assertEquals(b.tunnel.peers().length, 0);
    b.tunnel.send(1, packet(2, 1, "x"));
    assertEquals(b.tunnel.stats().drops["no-route"], 1);
    // A keeps sending (as its transport would retransmit) until B holds a key again.
    const resend = setInterval(() => a.tunnel.send(2, packet(1, 2, "again")), 50);
    try {
      await until("delivered again", () => b.got.some((g) => text(g.packet) === "again"), 5000);
    } finally {
      clearInterval(resend);
    }
    const after = b.tunnel.stats();
    assert(
      after.drops["unknown-sender"] >= 1 || after.keyExchangesAccepted > acceptedBefore,
      "B learnt A's key again, through an offer or A's own key exchange",
    );

    let refused = false;
    try {
      const clash = await Tunnel.open({ listen: b.addr, encrypt: true, log: QUIET });
      await clash.close();
    } catch {
      refused = true;
    }
    assert(refused, "binding a taken port must fail");
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
    await late.close();
  }
});

/** Collects a tunnel's events. */
function watch(t: Tunnel): TunnelEvent[] {
  const events: TunnelEvent[] = [];
  t.onEvent = (e) => events.push(e);
  return events;
}

Deno.test("tunnel events: peer added, key exchange established on both sides, re-key after a restart", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  let b = await openNode(2, registry);
  try {
    const ea = watch(a.tunnel);
    let eb = watch(b.tunnel);
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.addPeer(2, b.addr); // same endpoint: nothing new
    a.tunnel.send(2, packet(1, 2, "hello"));
    await until("delivery", () => b.got.length === 1);
    await until("a established", () => ea.some((e) => e.kind === "established"));
    const direct = { authenticated: true, relay: false, rekeyed: false };
    assertEquals(ea, [
      { kind: "peer-added", node: 2, endpoint: `${LOOPBACK}:${b.addr.port}` },
      { kind: "established", node: 2, ...direct },
    ]);
    assertEquals(eb, [
      { kind: "peer-added", node: 1, endpoint: `${LOOPBACK}:${a.addr.port}` },
      { kind: "established", node: 1, ...direct },
    ]);

    // B restarts with a new X25519 key: A re-keys; the new B sees A for the first time.
    ea.length = 0;
    const { identity } = b;
    const port = b.addr.port;
    await b.tunnel.close();
    b = await openNode(2, registry, { identity, listen: { host: LOOPBACK, port } });
    eb = watch(b.tunnel);
    a.tunnel.send(2, packet(1, 2, "lost"));
    await until("a re-keyed", () => ea.some((e) => e.kind === "established"));
    assertEquals(ea, [{ kind: "established", node: 2, authenticated: true, relay: false, rekeyed: true }]);
    await until("b keyed", () => eb.some((e) => e.kind === "established"));
    assertEquals(eb.map((e) => e.kind), ["peer-added", "established"]);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel events: replayed PILS are reported once per second per peer, with their counter", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  const proxy = await openProxy(b.addr);
  try {
    a.tunnel.addPeer(2, proxy.addr);
    a.tunnel.send(2, packet(1, 2, "first"));
    await until("delivery", () => b.got.length === 1);
    const events = watch(b.tunnel);
    const pils = proxy.captured.find(isPils)!;
    const counter = Number(new DataView(pils.buffer, pils.byteOffset).getBigUint64(12));
    for (let i = 0; i < 20; i++) await sendRaw(proxy.socket, pils, b.addr);
    await until("replays dropped", () => b.tunnel.stats().drops.replay === 20);
    assertEquals(events, [{ kind: "replay", node: 1, counter }]);
    await new Promise((r) => setTimeout(r, REPLAY_EVENT_INTERVAL_MS + 50));
    await sendRaw(proxy.socket, pils, b.addr);
    await until("reported again", () => events.length === 2);
    assertEquals(events[1], { kind: "replay", node: 1, counter });
  } finally {
    await proxy.close();
    await a.tunnel.close();
    await b.tunnel.close();
  }
});

Deno.test("tunnel events: relay activation on setRelay and on the first authenticated relayed frame; the key exchange reports the relay", async () => {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry, { beacon: beaconAddr });
  const b = await openNode(2, registry, { beacon: beaconAddr });
  try {
    for (const [t, node] of [[a.tunnel, 1], [b.tunnel, 2]] as const) {
      t.sendBeacon(encodeBeaconMessage({ kind: "Discover", node }));
    }
    await until("discovered", () => beacon.endpointOf(1) !== undefined && beacon.endpointOf(2) !== undefined);
    const ea = watch(a.tunnel);
    const eb = watch(b.tunnel);
    a.tunnel.setRelay(2, true);
    a.tunnel.setRelay(2, true); // already relayed: nothing new
    a.tunnel.send(2, packet(1, 2, "via relay"));
    await until("relayed delivery", () => b.got.length === 1);
    await until("a established", () => ea.some((e) => e.kind === "established"));
    const relayed = { authenticated: true, relay: true, rekeyed: false };
    assertEquals(ea, [{ kind: "relay-activated", node: 2 }, { kind: "established", node: 2, ...relayed }]);
    // B moves A to the relay only once a relayed frame authenticated (its first PILS), after the exchange.
    assertEquals(eb, [{ kind: "established", node: 1, ...relayed }, { kind: "relay-activated", node: 1 }]);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
    await beacon.close();
  }
});

Deno.test("tunnel events: an observer that throws does not break delivery", async () => {
  const registry = new Map<number, Uint8Array>();
  const a = await openNode(1, registry);
  const b = await openNode(2, registry);
  try {
    for (const t of [a.tunnel, b.tunnel]) {
      t.onEvent = () => {
        throw new Error("observer bug");
      };
    }
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "still"));
    await until("delivery", () => b.got.length === 1);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
  }
});
