/**
 * A hostile network against real `pilot` daemons on loopback: a test-side attacker (a UDP socket on
 * 127.0.0.66, another loopback address than the daemons') captures and forges tunnel frames.
 *
 * 1. B's PILA, captured by provoking it (a PILS from an unknown sender makes B offer its key) and
 *    replayed 30 times to A during a running transfer, must not move A's endpoint for B.
 * 2. ~100k PILK from made-up node IDs must not keep real new peers from completing a key exchange,
 *    nor spend the victim's registry quota; the refusals are counted.
 * 3. A forged beacon Relay claiming to be from A must not switch B's path to A; 12,000 relays from
 *    made-up senders must not grow B's peer table, and `pilot info` keeps working.
 */
import dgram from "node:dgram";
import { assert, assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot, type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { transfer } from "../helpers/transfer.ts";
import { until } from "../helpers/wait.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { encodeBeaconMessage } from "../../lib/beacon/messages.ts";
import { encodeFrame, MAGIC_PILA, MAGIC_PILS } from "../../lib/tunnel/frames.ts";
import { closeQuietly } from "../../lib/errors.ts";

const MIB = 1024 * 1024;
/** The attacker's own loopback address (the daemons use 127.0.0.1). */
const ATTACKER_HOST = "127.0.0.66";

/** A UDP socket the attacker sends from and records what it receives. */
class Attacker {
  readonly received: Uint8Array[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on("message", (msg) => this.received.push(new Uint8Array(msg)));
  }

  static async open(): Promise<Attacker> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, ATTACKER_HOST, () => resolve());
    });
    return new Attacker(socket);
  }

  get address(): string {
    const a = this.socket.address();
    return `${a.address}:${a.port}`;
  }

  send(bytes: Uint8Array, to: { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(bytes, to.port, to.host, (err) => (err ? reject(err) : resolve()))
    );
  }

  /** Frames received whose first four bytes are `magic`. */
  count(magic: number): number {
    return this.received.filter((b) =>
      b.length >= 4 && new DataView(b.buffer, b.byteOffset).getUint32(0) === magic
    )
      .length;
  }

  close(): void {
    this.socket.close();
  }
}

function tunnelOf(d: TestDaemon): { host: string; port: number } {
  const t = d.process.ready.tunnel as { host: string; port: number };
  return { host: t.host, port: t.port };
}

/** A PILS header claiming `sender`, with an arbitrary nonce and a tag that will not verify. */
function forgedPils(sender: number, salt = 0): Uint8Array {
  const out = new Uint8Array(4 + 4 + 12 + 34 + 16);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC_PILS);
  v.setUint32(4, sender);
  v.setUint32(8, 0x0bad0bad);
  v.setUint32(16, salt);
  return out;
}

async function metric(d: TestDaemon, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${d.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${label}} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "hostile: a replayed PILA from another address does not move the peer; the transfer stays byte-exact",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start(["--memory"]);
    const clients: PilotClient[] = [];
    const attacker = await Attacker.open();
    try {
      const a = await net.addDaemon("a", ["--public"]);
      const b = await net.addDaemon("b", ["--public"]);
      const ca = await connect(a.socket, { timeoutMs: 5_000 });
      const cb = await connect(b.socket, { timeoutMs: 5_000 });
      clients.push(ca, cb);

      // Capture: a PILS from a node B holds no key for makes B offer its key exchange frame.
      await attacker.send(forgedPils(0x7ee7), tunnelOf(b));
      await until("B's PILA", () => attacker.count(MAGIC_PILA) > 0, 5_000);
      const pila = attacker.received.find((f) =>
        new DataView(f.buffer, f.byteOffset).getUint32(0) === MAGIC_PILA
      )!;
      assertEquals(
        new DataView(pila.buffer, pila.byteOffset).getUint32(4),
        b.nodeId,
        "the captured PILA is B's",
      );
      attacker.received.length = 0;

      // Replay it to A 30 times while A streams to B.
      let replays = 0;
      let sent = 0;
      const replaying = (async () => {
        while (sent < 2 * MIB) await sleep(20); // the transfer is under way
        for (; replays < 30; replays++) {
          await attacker.send(pila, tunnelOf(a));
          await sleep(100);
        }
      })();
      const r = await transfer(ca, cb, b.address, 5100, 48 * MIB, { onProgress: (n) => (sent = n) });
      await replaying;
      assertEquals(replays, 30);
      assertEquals(r.bytes, 48 * MIB);
      assertEquals(r.received, r.sent, "byte-exact");

      const peer = (await ca.info()).peer_list.find((p) => p.node_id === b.nodeId)!;
      const bTunnel = tunnelOf(b);
      assertEquals(peer.endpoint, `${bTunnel.host}:${bTunnel.port}`, "A's endpoint for B never moved");
      // At most a path probe per second may go to the replayer, never B's traffic.
      const pils = attacker.count(MAGIC_PILS);
      assert(pils <= 8, `A sent ${pils} PILS frames to the replayer`);
      assertEquals(await metric(a, "pilot_tunnel_drops_total", 'reason="stale-key"'), 0);
    } finally {
      attacker.close();
      for (const c of clients) await closeQuietly(c);
      await net.close();
    }
  },
});

Deno.test({
  name: "hostile: a flood of ~100k PILK from made-up IDs neither starves real peers nor the registry quota",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start(["--memory"]);
    const clients: PilotClient[] = [];
    const attacker = await Attacker.open();
    let flooding = true;
    let flooded = 0;
    try {
      const victim = await net.addDaemon("victim", ["--public"]);
      const peers: TestDaemon[] = [];
      for (let i = 0; i < 4; i++) peers.push(await net.addDaemon(`real${i}`, ["--public"]));
      const to = tunnelOf(victim);
      const x25519 = new Uint8Array(32).fill(9);
      // About 8,000 PILK a second from made-up IDs, until the real peers are done (at most 150k).
      const flood = (async () => {
        let id = 0x4000_0000;
        while (flooding && flooded < 150_000) {
          const batch: Promise<void>[] = [];
          for (let i = 0; i < 400; i++) {
            batch.push(attacker.send(encodeFrame({ kind: "PILK", sender: id++, x25519 }), to));
          }
          await Promise.all(batch);
          flooded += batch.length;
          await sleep(50);
        }
      })();
      while (flooded < 16_000) await sleep(50); // the flood is in full swing

      // Every real new peer completes a key exchange with the victim (an echo round trip) during the flood.
      const results = await Promise.allSettled(peers.map(async (p) => {
        const c = await connect(p.socket, { timeoutMs: 5_000 });
        clients.push(c);
        const conn = await c.dial(victim.address, 7, { timeoutMs: 10_000 });
        await conn.write(new TextEncoder().encode(`hi from ${p.nodeId}`));
        const back = await conn.read({ timeoutMs: 10_000 });
        await conn.close();
        return new TextDecoder().decode(back!);
      }));
      const ok = results.filter((r) => r.status === "fulfilled").length;
      assertEquals(ok, peers.length, `real peers done during the flood: ${ok} (${JSON.stringify(results)})`);
      assert(flooding, "the flood was still running");
      while (flooded < 100_000) await sleep(100);
      flooding = false;
      await flood;

      // The victim still talks to the registry (a fresh peer resolves and exchanges keys at once).
      const late = await net.addDaemon("late", ["--public"]);
      const cl = await connect(late.socket, { timeoutMs: 5_000 });
      clients.push(cl);
      const conn = await cl.dial(victim.address, 7, { timeoutMs: 10_000 });
      await conn.close();
      const stderr = victim.process.stderrLines.join("\n");
      assert(!/rate limit|too many|throttl/i.test(stderr), "the registry never throttled the victim");
      // The refusals are counted.
      const refused = await metric(victim, "pilot_tunnel_drops_total", 'reason="kx-source-limited"') +
        await metric(victim, "pilot_tunnel_drops_total", 'reason="pilk-refused"');
      assert(refused >= 0.9 * flooded, `refused ${refused} of ${flooded}`);
    } finally {
      flooding = false;
      attacker.close();
      for (const c of clients) await closeQuietly(c);
      await net.close();
    }
  },
});

async function withBeacon(fn: (net: TestNetwork, beacon: string) => Promise<void>): Promise<void> {
  const net = await TestNetwork.start(["--memory"]);
  let beacon: PilotProcess | undefined;
  try {
    beacon = await startPilot(["beacon", "--listen", "127.0.0.1:0"]);
    await fn(net, String(beacon.ready.listen));
  } finally {
    await beacon?.stop("SIGKILL");
    await net.close();
  }
}

Deno.test({
  name: "hostile: forged relay frames switch no path and create no peer entries; `pilot info` keeps working",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withBeacon(async (net, beaconAddr) => {
      const attacker = await Attacker.open();
      const clients: PilotClient[] = [];
      try {
        const a = await net.addDaemon("a", ["--public", "--beacon", beaconAddr]);
        const b = await net.addDaemon("b", ["--public", "--beacon", beaconAddr]);
        const ca = await connect(a.socket, { timeoutMs: 5_000 });
        const cb = await connect(b.socket, { timeoutMs: 5_000 });
        clients.push(ca, cb);
        const echo = await ca.dial(b.address, 7, { timeoutMs: 10_000 });
        await echo.write(new TextEncoder().encode("direct"));
        await echo.read({ timeoutMs: 10_000 });
        const pathOfA = async () => {
          const info = await runPilot(["info", "--socket", b.socket, "--json"]);
          const rows = JSON.parse(info.stdout).data.peer_list as { node_id: number; path: string }[];
          return rows.find((p) => p.node_id === a.nodeId)?.path;
        };
        assertEquals(await pathOfA(), "direct");

        const [host, port] = beaconAddr.split(":");
        const beacon = { host, port: Number(port) };
        // Idle past the tunnel's hold on a path that carried authenticated direct traffic (10 s).
        await sleep(10_500);
        // One forged Relay claiming to be from A, carrying a PILS that claims A too.
        await attacker.send(
          encodeBeaconMessage({
            kind: "Relay",
            sender: a.nodeId,
            dest: b.nodeId,
            frame: forgedPils(a.nodeId),
          }),
          beacon,
        );
        await sleep(500);
        assertEquals(await pathOfA(), "direct", "a forged relay frame switched B's path to A");
        await echo.write(new TextEncoder().encode("still direct"));
        assertEquals(new TextDecoder().decode((await echo.read({ timeoutMs: 10_000 }))!), "still direct");
        await echo.close();

        // 12,000 relays from made-up senders.
        for (let i = 0; i < 12_000; i += 400) {
          const batch: Promise<void>[] = [];
          for (let j = i; j < i + 400; j++) {
            const sender = 0x5000_0000 + j;
            batch.push(attacker.send(
              encodeBeaconMessage({ kind: "Relay", sender, dest: b.nodeId, frame: forgedPils(sender, j) }),
              beacon,
            ));
          }
          await Promise.all(batch);
          await sleep(50);
        }
        await sleep(1_000);
        const info = await runPilot(["info", "--socket", b.socket, "--json"]);
        assertEquals(info.code, 0, info.stderr);
        const data = JSON.parse(info.stdout).data;
        assert(data.peers < 50, `B's peer table holds ${data.peers} entries`);
        assert(data.peer_list.length <= data.peers);
      } finally {
        attacker.close();
        for (const c of clients) await closeQuietly(c);
      }
    });
  },
});
