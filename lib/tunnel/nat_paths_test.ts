/**
 * The tunnel's NAT path rules over real UDP on 127.0.0.1 with a real beacon: a relayed peer moves
 * back to the direct path when authenticated traffic arrives directly (and relayed stragglers do
 * not flip it back), the "punched" path label, the PILP hint hook, and a key exchange that is
 * re-sent through the relay when a pending peer is switched to it.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { packet, payloadText } from "../../tests/helpers/packets.ts";
import { until } from "../../tests/helpers/wait.ts";
import { BeaconServer } from "../beacon/server.ts";
import { encodeBeaconMessage } from "../beacon/messages.ts";
import { generateEd25519KeyPair } from "../crypto/ed25519.ts";
import { Logger } from "../log.ts";
import type { Endpoint, HostPort } from "./endpoint.ts";
import { Tunnel } from "./tunnel.ts";

const LOOPBACK = "127.0.0.1";
const QUIET = new Logger("nat-paths-test", "silent");

interface Node {
  tunnel: Tunnel;
  got: string[];
  addr: HostPort;
}

async function openNode(nodeId: number, keys: Map<number, Uint8Array>, beacon: HostPort): Promise<Node> {
  const kp = generateEd25519KeyPair();
  keys.set(nodeId, kp.publicKey);
  const tunnel = await Tunnel.open({
    listen: { host: LOOPBACK, port: 0 },
    nodeId,
    encrypt: true,
    identity: { seed: kp.seed, publicKey: kp.publicKey },
    resolvePeerKey: (node) => Promise.resolve(keys.get(node)),
    beacon,
    keyExchangeRetryMs: 40,
    log: QUIET,
  });
  const got: string[] = [];
  tunnel.onPacket = (p) => got.push(payloadText(p));
  tunnel.sendBeacon(encodeBeaconMessage({ kind: "Discover", node: nodeId }));
  return { tunnel, got, addr: tunnel.localAddress() };
}

async function withPair(fn: (a: Node, b: Node, beacon: BeaconServer) => Promise<void>): Promise<void> {
  const beacon = new BeaconServer({ host: LOOPBACK, port: 0, logger: QUIET });
  const beaconAddr = await beacon.start();
  const keys = new Map<number, Uint8Array>();
  const a = await openNode(1, keys, beaconAddr);
  const b = await openNode(2, keys, beaconAddr);
  try {
    await until(
      "beacon knows both",
      () => beacon.endpointOf(1) !== undefined && beacon.endpointOf(2) !== undefined,
    );
    await fn(a, b, beacon);
  } finally {
    await a.tunnel.close();
    await b.tunnel.close();
    await beacon.close();
  }
}

Deno.test("nat paths: a direct authenticated frame takes a relayed peer off the relay; relayed stragglers do not put it back", async () => {
  await withPair(async (a, b, beacon) => {
    a.tunnel.setRelay(2, true);
    a.tunnel.send(2, packet(1, 2, "via relay"));
    await until("relayed delivery", () => b.got.length === 1);
    b.tunnel.send(1, packet(2, 1, "back via relay"));
    await until("relayed reply", () => a.got.length === 1);
    assertEquals(a.tunnel.peer(2)?.path, "relay");
    assertEquals(b.tunnel.peer(1)?.path, "relay");
    const relayedBefore = beacon.metrics().relayedPackets;

    // A probe straight to B's socket: B sees authenticated traffic arrive directly.
    assert(a.tunnel.probe(2, b.addr, packet(1, 2, "probe")));
    await until("probe delivered", () => b.got.includes("probe"));
    assertEquals(b.tunnel.peer(1)?.path, "direct");
    assertEquals(b.tunnel.peer(1)?.endpoint, `${LOOPBACK}:${a.addr.port}`);
    assertEquals(b.tunnel.stats().directRecoveries, 1);
    // A is still relayed until B's frames reach it directly.
    assertEquals(a.tunnel.peer(2)?.path, "relay");
    b.tunnel.send(1, packet(2, 1, "direct now"));
    await until("direct reply", () => a.got.includes("direct now"));
    assertEquals(a.tunnel.peer(2)?.path, "direct");
    assertEquals(beacon.metrics().relayedPackets, relayedBefore, "nothing went through the relay");

    // A straggler through the relay (B still has one queued there) must not move A back.
    b.tunnel.setRelay(1, true);
    b.tunnel.send(1, packet(2, 1, "late relayed"));
    await until("straggler delivered", () => a.got.includes("late relayed"));
    assertEquals(a.tunnel.peer(2)?.path, "direct");
  });
});

Deno.test("nat paths: a punched endpoint is labelled, and a named PILP reaches the hint hook", async () => {
  await withPair(async (a, b) => {
    const hints: { sender: number; from: Endpoint }[] = [];
    b.tunnel.onPunchFrame = (sender, from) => hints.push({ sender, from });
    a.tunnel.addPeer(2, b.addr);
    a.tunnel.send(2, packet(1, 2, "hello"));
    await until("keyed", () => b.got.length === 1);
    assertEquals(a.tunnel.peer(2)?.path, "direct");

    a.tunnel.sendBeacon(encodeBeaconMessage({ kind: "PunchRequest", requester: 1, target: 2 }));
    await until("punch command obeyed", () => a.tunnel.stats().punchCommands === 1);
    assertEquals(a.tunnel.peer(2)?.path, "punched");
    await until("hint", () => hints.length >= 1);
    assertEquals(hints[0].sender, 1);
    assertEquals(hints[0].from.port, a.addr.port);
    assert(b.tunnel.stats().punchesReceived >= 1);
    // A punch towards an endpoint remembers it too (the keepalive path).
    assert(b.tunnel.punch(a.addr));
    await until("b labels a punched", () => b.tunnel.peer(1)?.path === "punched");
  });
});

Deno.test("nat paths: moving a peer with a pending key exchange to the relay re-sends the key exchange through it", async () => {
  await withPair(async (a, b) => {
    // An endpoint nothing answers on: the key exchange can only complete through the relay.
    a.tunnel.addPeer(2, { host: LOOPBACK, port: 9 });
    a.tunnel.send(2, packet(1, 2, "queued"));
    assertEquals(a.tunnel.peer(2)?.pending, 1);
    a.tunnel.setRelay(2, true);
    await until("delivered through the relay", () => b.got.includes("queued"));
    assertEquals(a.tunnel.peer(2)?.path, "relay");
    assertEquals(b.tunnel.peer(1)?.path, "relay");
  });
});
