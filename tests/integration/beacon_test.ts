/**
 * `pilot beacon` as a real subprocess on loopback: discovery over UDP, /healthz and /metrics over
 * HTTP, the per-node relay rate limit from its flag, and gossip between two beacons that find each
 * other through the registry's beacon list, so a Relay sent to one beacon reaches a node attached
 * to the other.
 */
import dgram from "node:dgram";
import { assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot } from "../helpers/network.ts";
import { until as untilWithin } from "../helpers/wait.ts";
import { type BeaconMessage, decodeBeaconMessage, encodeBeaconMessage } from "../../lib/beacon/messages.ts";

const HOST = "127.0.0.1";
const ADMIN = "beacon-test-admin-token";

/** A daemon stand-in: one UDP socket collecting beacon messages. */
class Node {
  readonly inbox: BeaconMessage[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on("message", (m: Uint8Array) => this.inbox.push(decodeBeaconMessage(new Uint8Array(m))));
  }
  static async open(): Promise<Node> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, HOST, () => r()));
    return new Node(s);
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(message: BeaconMessage, to: string): Promise<void> {
    const [host, port] = to.split(":");
    return new Promise((r) => this.socket.send(encodeBeaconMessage(message), Number(port), host, () => r()));
  }
  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

/** Waits here cross processes and the beacon's timers: up to 10 s, looking every 20 ms. */
const until = (what: string, cond: () => boolean | Promise<boolean>) => untilWithin(what, cond, 10_000, 20);

async function metric(url: string, name: string, label = ""): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${label ? `{${label}}` : ""} `));
  return line ? Number(line.split(" ").at(-1)) : NaN;
}

Deno.test({
  name: "pilot beacon: discovery, /healthz, /metrics and the relay rate limit",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const beacon = await startPilot([
      "beacon",
      "--listen",
      `${HOST}:0`,
      "--http",
      `${HOST}:0`,
      "--relay-rate",
      "1",
      "--relay-burst",
      "3",
    ]);
    const a = await Node.open();
    const b = await Node.open();
    try {
      const listen = String(beacon.ready.listen);
      const http = String(beacon.ready.http);
      await a.send({ kind: "Discover", node: 11 }, listen);
      await b.send({ kind: "Discover", node: 22 }, listen);
      await until("discover replies", () => a.inbox.length === 1 && b.inbox.length === 1);
      assertEquals(a.inbox[0], { kind: "DiscoverReply", ip: HOST, port: a.port });

      const health = await (await fetch(`${http}/healthz`)).json();
      assertEquals(health.status, "ok");
      assertEquals(health.nodes, 2);

      // Burst of 3, then the limiter refuses: 5 relays from node 11 deliver 3.
      for (let i = 0; i < 5; i++) {
        await a.send(
          { kind: "Relay", sender: 11, dest: 22, frame: new Uint8Array([0x50, 0x49, 0x4c, 0x50]) },
          listen,
        );
      }
      await until("3 delivered", () => b.inbox.filter((m) => m.kind === "RelayDeliver").length === 3);
      await until(
        "limited counted",
        async () => (await metric(http, "pilot_beacon_drops_total", 'reason="relay-rate-limited"')) === 2,
      );
      assertEquals(await metric(http, "pilot_beacon_relayed_packets_total"), 3);
      assertEquals(await metric(http, "pilot_beacon_received_total", 'kind="Discover"'), 2);
      assertEquals(await metric(http, "pilot_beacon_nodes"), 2);
      assertEquals((await fetch(`${http}/nope`)).status, 404);
    } finally {
      await a.close();
      await b.close();
      await beacon.stop();
    }
  },
});

Deno.test({
  name: "pilot beacon: two beacons find each other in the registry and forward relays by gossip",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const procs: PilotProcess[] = [];
    const a = await Node.open();
    const b = await Node.open();
    try {
      const registry = await startPilot([
        "registry",
        "--listen",
        `${HOST}:0`,
        "--memory",
        "--admin-token",
        ADMIN,
      ]);
      procs.push(registry);
      const regAddr = String(registry.ready.listen);
      const beacons: PilotProcess[] = [];
      for (let i = 0; i < 2; i++) {
        const p = await startPilot([
          "beacon",
          "--listen",
          `${HOST}:0`,
          "--http",
          `${HOST}:0`,
          "--registry",
          regAddr,
          "--admin-token",
          ADMIN,
          "--sync-interval",
          "200ms",
          "--registry-interval",
          "300ms",
          "--id",
          String(100 + i),
        ]);
        procs.push(p);
        beacons.push(p);
      }
      const [b1, b2] = beacons.map((p) => String(p.ready.listen));
      const [h1, h2] = beacons.map((p) => String(p.ready.http));
      // Each lists the other within a registry round; Sync is only accepted from listed peers.
      await until(
        "peered",
        async () =>
          (await metric(h1, "pilot_beacon_peers")) === 1 && (await metric(h2, "pilot_beacon_peers")) === 1,
      );
      // Node 22 is attached to beacon 2; node 11 asks beacon 1 to relay to it.
      await b.send({ kind: "Discover", node: 22 }, b2);
      await until(
        "beacon 1 learns node 22 by gossip",
        async () => (await metric(h1, "pilot_beacon_remote_nodes")) === 1,
      );
      const frame = new Uint8Array([0x50, 0x49, 0x4c, 0x50, 0, 0, 0, 11]);
      await a.send({ kind: "Relay", sender: 11, dest: 22, frame }, b1);
      await until("delivered through both beacons", () => b.inbox.some((m) => m.kind === "RelayDeliver"));
      const delivered = b.inbox.find((m) => m.kind === "RelayDeliver")!;
      assertEquals(delivered, { kind: "RelayDeliver", sender: 11, frame });
      assertEquals(await metric(h1, "pilot_beacon_forwarded_packets_total"), 1);
      assertEquals(await metric(h2, "pilot_beacon_relayed_packets_total"), 1);
    } finally {
      await a.close();
      await b.close();
      for (const p of procs.reverse()) await p.stop();
    }
  },
});
