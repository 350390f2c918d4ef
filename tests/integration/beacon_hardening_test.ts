/**
 * The beacon against a spoofer on loopback (real `pilot` registry, beacon and daemons; the attacker
 * is a plain UDP socket in the test): a Discover claiming another node, repeated every 0.5 s, does
 * not steal that node's relayed traffic once the node has proven its binding; a PunchRequest naming
 * a made-up or unauthorised requester gets no endpoint and makes the private target send no PILP;
 * a flood of PunchRequests from one source is rate-limited and counted.
 */
import dgram from "node:dgram";
import { assert, assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot, TestNetwork } from "../helpers/network.ts";
import { createHash } from "node:crypto";
import { until } from "../helpers/wait.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { type BeaconMessage, decodeBeaconMessage, encodeBeaconMessage } from "../../lib/beacon/messages.ts";
import { closeQuietly } from "../../lib/errors.ts";

const HOST = "127.0.0.1";

/** The attacker: one UDP socket that forges beacon messages and records what comes back. */
class Spoofer {
  readonly inbox: BeaconMessage[] = [];
  datagrams = 0;
  private constructor(readonly socket: dgram.Socket) {
    socket.on("message", (m: Uint8Array) => {
      this.datagrams++;
      try {
        this.inbox.push(decodeBeaconMessage(new Uint8Array(m)));
      } catch {
        // tunnel frames (PILP) are counted in `datagrams` only
      }
    });
  }
  static async open(): Promise<Spoofer> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, HOST, () => r()));
    return new Spoofer(s);
  }
  send(message: BeaconMessage, to: string): Promise<void> {
    const [host, port] = to.split(":");
    return new Promise((r) => this.socket.send(encodeBeaconMessage(message), Number(port), host, () => r()));
  }
  count(kind: BeaconMessage["kind"]): number {
    return this.inbox.filter((m) => m.kind === kind).length;
  }
  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

async function metric(url: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(label ? `${name}{${label}} ` : `${name} `));
  return line ? Number(line.split(" ").at(-1)) : NaN;
}

/**
 * Streams `total` pseudo-random bytes from `a` to a listener on `b` and returns both sides' sha256.
 * Every promise is handled, so a hijacked path fails this test with an assertion, not an uncaught
 * rejection; each I/O step is bounded by 15 s.
 */
async function relayedTransfer(
  a: PilotClient,
  b: PilotClient,
  toAddr: string,
  total: number,
): Promise<{ sent: string; received: string; bytes: number } | Error> {
  const io = { timeoutMs: 15_000 };
  const listener = await b.listen(2000);
  const accepted = listener.accept(io).then((c) => c, (err: Error) => err);
  let received = 0;
  const recvHash = createHash("sha256");
  const sendHash = createHash("sha256");
  try {
    const conn = await a.dial(toAddr, 2000, { timeoutMs: 20_000 });
    const server = await accepted;
    if (server instanceof Error) return server;
    const reading = (async () => {
      while (received < total) {
        const chunk = await server.read(io);
        if (chunk === null) break;
        recvHash.update(chunk);
        received += chunk.length;
      }
    })().then(() => undefined, (err: Error) => err);
    const chunk = crypto.getRandomValues(new Uint8Array(64 * 1024));
    for (let sent = 0; sent < total; sent += chunk.length) {
      sendHash.update(chunk);
      const failed = await conn.write(chunk, io).then(() => undefined, (err: Error) => err);
      if (failed) return failed;
    }
    const readFailed = await reading;
    if (readFailed) return readFailed;
    await closeQuietly(conn);
    await closeQuietly(server);
    return { sent: sendHash.digest("hex"), received: recvHash.digest("hex"), bytes: received };
  } catch (err) {
    return err as Error;
  } finally {
    listener.close();
  }
}

interface Lab {
  net: TestNetwork;
  beacon: string;
  beaconHttp: string;
  clients: PilotClient[];
}

async function withLab(fn: (lab: Lab) => Promise<void>): Promise<void> {
  const net = await TestNetwork.start(["--memory"]);
  let beacon: PilotProcess | undefined;
  const clients: PilotClient[] = [];
  try {
    beacon = await startPilot([
      "beacon",
      "--listen",
      `${HOST}:0`,
      "--http",
      `${HOST}:0`,
      "--registry",
      net.registryAddr,
    ]);
    await fn({ net, beacon: String(beacon.ready.listen), beaconHttp: String(beacon.ready.http), clients });
  } finally {
    for (const c of clients) await closeQuietly(c);
    await beacon?.stop("SIGKILL");
    await net.close();
  }
}

/**
 * Waits until the beacon knows `nodes` daemons and, where it counts proofs, holds that many signed
 * (proven) bindings: the daemons' keepalive Discovers were verified. (A beacon without the proof
 * counters, as before the hardening, is only waited for until it knows the nodes.)
 */
async function attached(lab: Lab, nodes: number): Promise<void> {
  const poll = (what: string, cond: () => Promise<boolean>) => until(what, cond, 10_000, 100);
  await poll(
    `${nodes} node(s) at the beacon`,
    async () => (await metric(lab.beaconHttp, "pilot_beacon_nodes", "")) >= nodes,
  );
  await poll(`${nodes} proven binding(s)`, async () => {
    const proven = await metric(lab.beaconHttp, "pilot_beacon_bindings_total", 'kind="proven"');
    return Number.isNaN(proven) || proven >= nodes;
  });
}

Deno.test({
  name: "beacon hardening: a spoofed Discover repeated every 0.5 s does not steal a node's relayed traffic",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab(async (lab) => {
      const a = await lab.net.addDaemon("a", ["--public", "--beacon", lab.beacon, "--force-relay"]);
      const b = await lab.net.addDaemon("b", ["--public", "--beacon", lab.beacon]);
      await attached(lab, 2); // a and b
      const spoofer = await Spoofer.open();
      const spoof = () => spoofer.send({ kind: "Discover", node: b.nodeId }, lab.beacon);
      await spoof();
      const timer = setInterval(spoof, 500);
      try {
        const ca = await connect(a.socket, { timeoutMs: 5_000 });
        const cb = await connect(b.socket, { timeoutMs: 5_000 });
        lab.clients.push(ca, cb);
        const result = await relayedTransfer(ca, cb, b.address, 2 * 1024 * 1024);
        assert(!(result instanceof Error), `the relayed transfer completes: ${result}`);
        assertEquals(result.received, result.sent, "the relayed transfer is byte-exact");
        assertEquals(result.bytes, 2 * 1024 * 1024);
      } finally {
        clearInterval(timer);
        await spoofer.close();
      }
      assertEquals(spoofer.count("RelayDeliver"), 0, "no relayed frame reached the spoofer");
      assert(
        (await metric(lab.beaconHttp, "pilot_beacon_drops_total", 'reason="unproven-conflict"')) >= 1,
        "the spoofed Discovers were refused and counted",
      );
    });
  },
});

Deno.test({
  name:
    "beacon hardening: a PunchRequest from a made-up or unauthorised requester gets no endpoint and no PILP",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab(async (lab) => {
      const b = await lab.net.addDaemon("b", ["--beacon", lab.beacon]); // private
      const c = await lab.net.addDaemon("c", []); // a real node without trust in b, not on the beacon
      await attached(lab, 1);
      const spoofer = await Spoofer.open();
      try {
        await spoofer.send({ kind: "PunchRequest", requester: 0x00777777, target: b.nodeId }, lab.beacon);
        await spoofer.send({ kind: "PunchRequest", requester: c.nodeId, target: b.nodeId }, lab.beacon);
        await new Promise((r) => setTimeout(r, 2_000)); // the registry checks, and anything b would send
        assertEquals(spoofer.count("PunchCommand"), 0, "no endpoint of the private node was disclosed");
        assertEquals(spoofer.datagrams, 0, "nothing (no PunchCommand, no PILP) reached the spoofer");
        assertEquals(
          await metric(b.http!, "pilot_nat_events_total", 'event="punch_command"'),
          0,
          "the private target obeyed no punch command",
        );
        assertEquals(await metric(lab.beaconHttp, "pilot_beacon_drops_total", 'reason="punch-denied"'), 2);
      } finally {
        await spoofer.close();
      }
    });
  },
});

Deno.test({
  name: "beacon hardening: a flood of PunchRequests from one source is rate-limited and counted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab(async (lab) => {
      const spoofer = await Spoofer.open();
      try {
        // In batches, so the beacon's socket buffer (kernel default) does not overflow on a busy machine.
        for (let i = 0; i < 500; i++) {
          await spoofer.send({ kind: "PunchRequest", requester: 1000 + i, target: 5 }, lab.beacon);
          if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
        }
        await until(
          "flood received",
          async () =>
            (await metric(lab.beaconHttp, "pilot_beacon_received_total", 'kind="PunchRequest"')) >= 400,
          10_000,
          100,
        );
        const limited = await metric(
          lab.beaconHttp,
          "pilot_beacon_drops_total",
          'reason="punch-rate-limited"',
        );
        assert(limited >= 300, `most of the flood was rate-limited: ${limited}`);
      } finally {
        await spoofer.close();
      }
    });
  },
});

Deno.test({
  name:
    "beacon hardening: signed daemons still punch through a registry-checked beacon (a wrong endpoint is corrected)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab(async (lab) => {
      const a = await lab.net.addDaemon("a", ["--public", "--beacon", lab.beacon]);
      // B advertises a port nothing listens on: only the punch (B's PILP naming it) finds it.
      const b = await lab.net.addDaemon("b", [
        "--public",
        "--beacon",
        lab.beacon,
        "--endpoint",
        "127.0.0.1:9",
      ]);
      await attached(lab, 2);
      const ca = await connect(a.socket, { timeoutMs: 5_000 });
      lab.clients.push(ca);
      const conn = await ca.dial(b.address, 7, { timeoutMs: 20_000 });
      await conn.write(new TextEncoder().encode("through the hole"));
      assertEquals(new TextDecoder().decode((await conn.read({ timeoutMs: 10_000 }))!), "through the hole");
      await conn.close();
      assert((await metric(b.http!, "pilot_nat_events_total", 'event="punch_command"')) >= 1, "b punched");
      assertEquals(await metric(b.http!, "pilot_nat_events_total", 'event="punch_refused"'), 0);
      assertEquals(await metric(a.http!, "pilot_peer_paths", 'path="relay"'), 0, "not relayed");
      assertEquals(await metric(lab.beaconHttp, "pilot_beacon_drops_total", 'reason="punch-denied"'), 0);
    });
  },
});

Deno.test({
  name:
    "beacon hardening: an unsigned PunchRequest in another node's name makes our target send no PILP (no reflector)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab(async (lab) => {
      // P is public, so any real node may see it; C is real but has no (proven) binding at the beacon.
      const p = await lab.net.addDaemon("p", ["--public", "--beacon", lab.beacon]);
      const c = await lab.net.addDaemon("c", []);
      await attached(lab, 1);
      const spoofer = await Spoofer.open();
      try {
        // As a reference daemon would ask, but from the attacker's address (where a forged source would
        // point the reflection): the beacon may answer, yet P must not punch an endpoint nobody vouched for.
        await spoofer.send({ kind: "PunchRequest", requester: c.nodeId, target: p.nodeId }, lab.beacon);
        await until(
          "p judged the command",
          async () =>
            (await metric(p.http!, "pilot_nat_events_total", 'event="punch_refused"')) >= 1 ||
            (await metric(p.http!, "pilot_nat_events_total", 'event="punch_command"')) >= 1,
          10_000,
          100,
        );
        await new Promise((r) => setTimeout(r, 500)); // PILP, if any, has arrived
        assertEquals(spoofer.datagrams - spoofer.inbox.length, 0, "no PILP reached the requester's address");
        assertEquals(await metric(p.http!, "pilot_nat_events_total", 'event="punch_command"'), 0);
        assertEquals(await metric(p.http!, "pilot_nat_events_total", 'event="punch_refused"'), 1);
      } finally {
        await spoofer.close();
      }
    });
  },
});
