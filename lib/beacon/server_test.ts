import dgram from "node:dgram";
import { assert, assertEquals } from "../../tests/assert.ts";
import { concatBytes, fromHex, toHex } from "../bytes.ts";
import { Logger } from "../log.ts";
import { encodeFrame } from "../tunnel/frames.ts";
import { type BeaconMessage, decodeBeaconMessage, encodeBeaconMessage } from "./messages.ts";
import { BeaconServer, type BeaconServerOptions } from "./server.ts";
import { appendProof, seedSigner } from "./proof.ts";
import type { NodeAuthority } from "./registry_view.ts";
import { generateEd25519KeyPair } from "../crypto/ed25519.ts";

const HOST = "127.0.0.1";
const WAIT_MS = 2000;
const QUIET_MS = 150;
const silent = new Logger("beacon-test", "silent");

/** A daemon stand-in: one real UDP socket on an ephemeral loopback port. */
class Client {
  private inbox: Uint8Array[] = [];
  private waiter?: () => void;

  private constructor(private readonly socket: dgram.Socket, readonly port: number) {
    socket.on("message", (msg) => {
      this.inbox.push(new Uint8Array(msg));
      this.waiter?.();
    });
  }

  static async open(): Promise<Client> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()));
    return new Client(socket, socket.address().port);
  }

  /** Sends and waits for the send to complete, so successive sends keep their order. */
  send(bytes: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(bytes, port, HOST, (err) => (err ? reject(err) : resolve()))
    );
  }

  sendMessage(message: BeaconMessage, port: number): Promise<void> {
    return this.send(encodeBeaconMessage(message), port);
  }

  /** The next datagram, or an error after WAIT_MS. */
  async next(): Promise<Uint8Array> {
    if (this.inbox.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.waiter = resolve),
        new Promise<void>((_, reject) => timer = setTimeout(() => reject(new Error("no datagram")), WAIT_MS)),
      ]).finally(() => {
        clearTimeout(timer);
        this.waiter = undefined;
      });
    }
    return this.inbox.shift()!;
  }

  async nextMessage(): Promise<BeaconMessage> {
    return decodeBeaconMessage(await this.next());
  }

  /** Waits QUIET_MS and returns whatever arrived meanwhile. */
  async drain(): Promise<Uint8Array[]> {
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    return this.inbox.splice(0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

async function withBeacon(
  options: BeaconServerOptions,
  body: (beacon: BeaconServer, port: number) => Promise<void>,
): Promise<void> {
  const beacon = new BeaconServer({ host: HOST, port: 0, logger: silent, ...options });
  const { port } = await beacon.start();
  try {
    await body(beacon, port);
  } finally {
    await beacon.close();
  }
}

async function withClients(n: number, body: (clients: Client[]) => Promise<void>): Promise<void> {
  const clients = await Promise.all(Array.from({ length: n }, () => Client.open()));
  try {
    await body(clients);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

Deno.test("Discover is answered with the observed 127.0.0.1:port and recorded", async () => {
  await withBeacon({}, (beacon, port) =>
    withClients(1, async ([a]) => {
      await a.send(fromHex("01 00000007"), port);
      const reply = await a.next();
      const expected = concatBytes(fromHex("02 04 7f000001"), Uint8Array.of(a.port >> 8, a.port & 0xff));
      assertEquals(toHex(reply), toHex(expected));
      assertEquals(beacon.endpointOf(7), { address: HOST, ip: HOST, port: a.port });
      // The anonymous STUN probe (node 0) is answered but not recorded.
      await a.sendMessage({ kind: "Discover", node: 0 }, port);
      assertEquals(await a.nextMessage(), { kind: "DiscoverReply", ip: HOST, port: a.port });
      assertEquals(beacon.endpointOf(0), undefined);
      const m = beacon.metrics();
      assertEquals([m.received.Discover, m.sent.DiscoverReply, m.nodes], [2, 2, 1]);
    }));
});

Deno.test("PunchRequest sends PunchCommand to both sides; unknown target is counted", async () => {
  await withBeacon({}, (beacon, port) =>
    withClients(2, async ([a, b]) => {
      await a.sendMessage({ kind: "Discover", node: 1 }, port);
      await a.next();
      await b.sendMessage({ kind: "PunchRequest", requester: 2, target: 1 }, port);
      assertEquals(await b.nextMessage(), { kind: "PunchCommand", ip: HOST, port: a.port });
      assertEquals(await a.nextMessage(), { kind: "PunchCommand", ip: HOST, port: b.port });
      assertEquals(beacon.endpointOf(2)?.port, b.port); // requester recorded
      await b.sendMessage({ kind: "PunchRequest", requester: 2, target: 99 }, port);
      assertEquals(await b.drain(), []);
      assertEquals(beacon.metrics().drops["punch-unknown-target"], 1);
      assertEquals(beacon.metrics().sent.PunchCommand, 2);
    }));
});

Deno.test("Relay is delivered as RelayDeliver to the destination's recorded endpoint", async () => {
  await withBeacon({}, (beacon, port) =>
    withClients(2, async ([a, b]) => {
      await b.sendMessage({ kind: "Discover", node: 2 }, port);
      await b.next();
      const frame = encodeFrame({ kind: "PILK", sender: 1, x25519: new Uint8Array(32).fill(9) });
      await a.sendMessage({ kind: "Relay", sender: 1, dest: 2, frame }, port);
      const delivered = await b.next();
      assertEquals(toHex(delivered), "0600000001" + toHex(frame));
      await a.sendMessage({ kind: "Relay", sender: 1, dest: 3, frame }, port); // nobody is node 3
      assertEquals(await b.drain(), []);
      const m = beacon.metrics();
      assertEquals([m.relayedPackets, m.relayedBytes, m.drops["relay-unknown-dest"]], [1, 40, 1]);
      assertEquals(await a.drain(), []); // the sender never hears back
    }));
});

Deno.test("relays keep their order and are rate limited per sender node", async () => {
  await withBeacon(
    { relayRatePerNode: 0.001, relayBurstPerNode: 5 },
    (beacon, port) =>
      withClients(2, async ([a, b]) => {
        await b.sendMessage({ kind: "Discover", node: 2 }, port);
        await b.next();
        for (let i = 0; i < 8; i++) {
          await a.sendMessage({ kind: "Relay", sender: 1, dest: 2, frame: Uint8Array.of(i) }, port);
        }
        const got: number[] = [];
        for (let i = 0; i < 5; i++) {
          const m = await b.nextMessage();
          if (m.kind === "RelayDeliver") got.push(m.frame[0]);
        }
        assertEquals(got, [0, 1, 2, 3, 4]);
        assertEquals(await b.drain(), []);
        // Another sender node has its own bucket.
        await a.sendMessage({ kind: "Relay", sender: 5, dest: 2, frame: Uint8Array.of(42) }, port);
        assertEquals(await b.nextMessage(), { kind: "RelayDeliver", sender: 5, frame: Uint8Array.of(42) });
        assertEquals(beacon.metrics().drops["relay-rate-limited"], 3);
      }),
  );
});

Deno.test("garbage and misdirected messages are counted, ignored, and do not stop the beacon", async () => {
  await withBeacon({}, (beacon, port) =>
    withClients(1, async ([a]) => {
      const junk = [
        new Uint8Array(0),
        fromHex("ff"),
        fromHex("50494c50 00000001"), // a tunnel frame sent to the beacon
        fromHex("01 0000"), // truncated Discover
        fromHex("02 09 00"), // DiscoverReply with iplen 9
        fromHex("07 00000001 0001 00000002"), // Sync from a non-peer
        fromHex("06 00000001 50494c50"), // RelayDeliver sent to a beacon
        fromHex("04 04 7f000001 0001"), // PunchCommand sent to a beacon
      ];
      for (let i = 0; i < 200; i++) {
        const bytes = crypto.getRandomValues(new Uint8Array(1 + (i % 40)));
        if (bytes[0] === 0x01 || bytes[0] === 0x03) bytes[0] = 0x00; // no accidental Discover/PunchRequest
        junk.push(bytes);
      }
      for (const bytes of junk) await a.send(bytes, port);
      await a.sendMessage({ kind: "Discover", node: 3 }, port);
      assertEquals(await a.nextMessage(), { kind: "DiscoverReply", ip: HOST, port: a.port });
      assertEquals(await a.drain(), []);
      const drops = beacon.metrics().drops;
      assert(drops["unknown-type"] >= 3, `unknown-type ${drops["unknown-type"]}`);
      assert(drops.malformed >= 2, `malformed ${drops.malformed}`);
      assert(drops["ignored-type"] >= 2, `ignored-type ${drops["ignored-type"]}`);
      assert(drops["sync-from-stranger"] >= 1);
      assertEquals(drops["internal-error"], 0);
    }));
});

Deno.test("gossip: a Relay for a node served by a peer beacon is forwarded there and delivered", async () => {
  await withBeacon(
    { beaconId: 0xb1 },
    (x, xPort) =>
      withBeacon(
        { beaconId: 0xb2, peers: [{ host: HOST, port: xPort }], syncIntervalMs: 50 },
        async (y, yPort) => {
          assertEquals([x.syncing, y.syncing], [false, true], "gossip runs only with peer beacons");
          await x.setPeers([{ host: "localhost", port: yPort }]);
          assert(x.syncing);
          await withClients(2, async ([a, b]) => {
            await b.sendMessage({ kind: "Discover", node: 2 }, yPort); // node 2 lives at Y
            await b.next();
            // Wait until Y's gossip timer has fired and X has applied the Sync.
            for (let i = 0; i < 50 && x.metrics().remoteNodes === 0; i++) {
              await new Promise((r) => setTimeout(r, 20));
            }
            assertEquals(x.metrics().remoteNodes, 1);
            const frame = fromHex("50494c50 00000001");
            await a.sendMessage({ kind: "Relay", sender: 1, dest: 2, frame }, xPort); // node 1 asks X
            assertEquals(await b.nextMessage(), { kind: "RelayDeliver", sender: 1, frame });
            assertEquals([x.metrics().forwardedPackets, y.metrics().relayedPackets], [1, 1]);
            assertEquals(y.metrics().received.Sync, 0);
            assert(x.metrics().received.Sync >= 1);
          });
          await x.setPeers([]);
          assertEquals(x.syncing, false, "no peer beacons left: gossip stops");
        },
      ),
  );
});

/** A registry view from a table of keys and an allow-list of "requester>target" pairs. */
function fakeAuthority(keys: Map<number, Uint8Array>, allowed: Set<string>): NodeAuthority {
  return {
    publicKey: (node) => Promise.resolve(keys.get(node)),
    hasKey: (node) => keys.has(node),
    maySee: (requester, target) => Promise.resolve(allowed.has(`${requester}>${target}`)),
    close: () => {},
  };
}

const signedAs = (seed: Uint8Array, message: BeaconMessage, timestamp = Date.now()) =>
  appendProof(encodeBeaconMessage(message), timestamp, new Uint8Array(8).fill(seed[0]), seedSigner(seed));

Deno.test("a signed Discover binds for good: unsigned claims from elsewhere, replays and bad signatures are refused", async () => {
  const one = generateEd25519KeyPair();
  const keys = new Map([[1, one.publicKey]]);
  await withBeacon(
    { authority: fakeAuthority(keys, new Set()) },
    (beacon, port) =>
      withClients(3, async ([node, spoofer, other]) => {
        const signed = signedAs(one.seed, { kind: "Discover", node: 1 });
        await node.send(signed, port);
        await node.next();
        await until(() => beacon.metrics().bindings.proven === 1);
        await spoofer.sendMessage({ kind: "Discover", node: 1 }, port); // the reference's unsigned form
        await spoofer.next(); // still answered: the reply only reflects its own address
        await spoofer.send(signed, port); // a replay of the captured proof
        await spoofer.next();
        await spoofer.send(signedAs(generateEd25519KeyPair().seed, { kind: "Discover", node: 1 }), port);
        await spoofer.next();
        await spoofer.send(signedAs(one.seed, { kind: "Discover", node: 1 }, Date.now() - 120_000), port);
        await spoofer.next();
        await spoofer.send(
          concatBytes(encodeBeaconMessage({ kind: "Discover", node: 1 }), Uint8Array.of(1, 2)),
          port,
        );
        await spoofer.next();
        await until(() => beacon.metrics().drops["proof-invalid"] === 1);
        const m = beacon.metrics();
        // The unsigned claim and the too-old proof (judged as unsigned) conflict with the proven binding.
        assertEquals(m.drops["unproven-conflict"], 2);
        assertEquals(m.drops["proof-stale"], 2); // the replay from elsewhere, the old timestamp
        assertEquals(m.drops["proof-malformed"], 1);
        assertEquals(beacon.endpointOf(1)?.port, node.port);
        // A node that never signed keeps the reference's behaviour: the last claim wins.
        await other.sendMessage({ kind: "Discover", node: 2 }, port);
        await other.next();
        await spoofer.sendMessage({ kind: "Discover", node: 2 }, port);
        await spoofer.next();
        await until(() => beacon.endpointOf(2)?.port === spoofer.port);
        assertEquals(beacon.metrics().bindings.unproven, 2);
        // The node roams: a newer proof from its new address moves the binding.
        await other.send(signedAs(one.seed, { kind: "Discover", node: 1 }), port);
        await other.next();
        await until(() => beacon.endpointOf(1)?.port === other.port);
      }),
  );
});

Deno.test("a PunchRequest needs the registry's consent; a signed one gives the target its token, a flood is limited", async () => {
  const one = generateEd25519KeyPair();
  const two = generateEd25519KeyPair();
  const keys = new Map([[1, one.publicKey], [2, two.publicKey]]);
  await withBeacon(
    { authority: fakeAuthority(keys, new Set(["2>1"])), punchRatePerSource: 1, punchBurstPerSource: 3 },
    (beacon, port) =>
      withClients(3, async ([target, requester, stranger]) => {
        await target.send(signedAs(one.seed, { kind: "Discover", node: 1 }), port);
        await target.next();
        await until(() => beacon.metrics().bindings.proven === 1);
        await stranger.sendMessage({ kind: "PunchRequest", requester: 777, target: 1 }, port);
        await until(() => beacon.metrics().drops["punch-denied"] === 1);
        assertEquals(await stranger.drain(), []);
        assertEquals(await target.drain(), []);
        // An allowed but unsigned request: both told, but the target's command carries no token.
        await requester.sendMessage({ kind: "PunchRequest", requester: 2, target: 1 }, port);
        assertEquals(await requester.nextMessage(), { kind: "PunchCommand", ip: HOST, port: target.port });
        assertEquals(await target.nextMessage(), { kind: "PunchCommand", ip: HOST, port: requester.port });
        // A signed one: each side gets its own token back.
        await requester.send(signedAs(two.seed, { kind: "PunchRequest", requester: 2, target: 1 }), port);
        const toRequester = await requester.nextMessage();
        const toTarget = await target.nextMessage();
        assert(toRequester.kind === "PunchCommand" && toTarget.kind === "PunchCommand");
        assertEquals(toRequester.token, new Uint8Array(8).fill(two.seed[0]));
        assertEquals(toTarget.token, new Uint8Array(8).fill(one.seed[0]));
        // The stranger's budget (burst 3) is spent after two more.
        for (let i = 0; i < 5; i++) {
          await stranger.sendMessage({ kind: "PunchRequest", requester: 9, target: 1 }, port);
        }
        await until(() => beacon.metrics().drops["punch-rate-limited"] === 3);
      }),
  );
});

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("a node that rotated its key is bound after one fresh look-up of the new key", async () => {
  const old = generateEd25519KeyPair();
  const rotated = generateEd25519KeyPair();
  const asked: (number | undefined)[] = [];
  const authority: NodeAuthority = {
    // A cache that still holds the old key; asked with a max age, it returns the registry's new one.
    publicKey: (_node, maxAgeMs) => {
      asked.push(maxAgeMs);
      return Promise.resolve(maxAgeMs === undefined ? old.publicKey : rotated.publicKey);
    },
    hasKey: () => true,
    maySee: () => Promise.resolve(true),
    close: () => {},
  };
  await withBeacon({ authority }, (beacon, port) =>
    withClients(1, async ([node]) => {
      await node.send(signedAs(rotated.seed, { kind: "Discover", node: 1 }), port);
      await node.next();
      await until(() => beacon.metrics().bindings.proven === 1);
      assertEquals(asked.length, 2);
      assert(asked[1] !== undefined);
      assertEquals(beacon.metrics().drops["proof-invalid"], 0);
    }));
});
